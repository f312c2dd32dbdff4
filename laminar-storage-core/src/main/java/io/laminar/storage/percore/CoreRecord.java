package io.laminar.storage.percore;

import java.nio.ByteBuffer;

/**
 * One record replayed from a core's log.
 *
 * @param core         the core whose log holds it
 * @param kind         data, or the barrier that opens {@code epoch} on this core
 * @param epoch        the epoch the record belongs to
 * @param sequence     its sequence number in the core's log
 * @param position     its WAL position in the core's log
 * @param nextPosition the position just after it: where replay of this core resumes
 * @param body         a read-only view of the entry (empty for a barrier); valid only during the
 *                     visitor call, so copy it ({@link #bodyBytes()}) to keep it
 */
public record CoreRecord(int core, RecordKind kind, long epoch, long sequence, long position, long nextPosition,
                         ByteBuffer body) {

    /** A copy of the body. */
    public byte[] bodyBytes() {
        var copy = new byte[body.remaining()];
        body.duplicate().get(copy);
        return copy;
    }
}

package io.laminar.storage.wal;

import java.nio.ByteBuffer;

/**
 * One record read back from the log.
 *
 * @param position     the record's position (log sequence number)
 * @param nextPosition the position just after this record: where the next record starts, and the
 *                     value to pass to {@link WriteAheadLog#truncateBefore} once this record is
 *                     covered by a checkpoint
 * @param payload      a read-only view of the payload; it is valid until the reader that returned it
 *                     moves on, so copy it (see {@link #payloadBytes()}) to keep it
 */
public record WalRecord(long position, long nextPosition, ByteBuffer payload) {

    /** A copy of the payload. */
    public byte[] payloadBytes() {
        var copy = new byte[payload.remaining()];
        payload.duplicate().get(copy);
        return copy;
    }
}

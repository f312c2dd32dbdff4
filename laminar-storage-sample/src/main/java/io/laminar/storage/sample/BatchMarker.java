package io.laminar.storage.sample;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;

/**
 * That a core has applied its part of a batch: the durable record behind "this batch id was
 * applied". Immutable.
 *
 * <h2>Format (the value of state key {@code 'b' + batchId})</h2>
 * <pre>
 * byte 0       format version, 1
 * byte 1       flags: bit 0 set if this core owns the batch ({@code coreOf(batchId)}); the
 *              summary counts batches by their owner's marker
 * bytes 2..17  the batch's digest ({@link Batch#digest()}), to tell a retry of the batch from
 *              another batch that reuses its id
 * </pre>
 *
 * @param owner  whether this core owns the batch
 * @param digest the batch's 16-byte digest
 */
record BatchMarker(boolean owner, byte[] digest) {

    static final int VERSION = 1;
    static final int LENGTH = 2 + Batch.DIGEST_LENGTH;

    byte[] encode() {
        return ByteBuffer.allocate(LENGTH).put((byte) VERSION).put((byte) (owner ? 1 : 0)).put(digest).array();
    }

    static BatchMarker decode(byte[] value, String batchId) {
        var what = "the marker of batch '" + batchId + "'";
        try {
            var in = Values.open(value, VERSION, what);
            boolean owner = (in.get() & 1) != 0;
            var digest = new byte[Batch.DIGEST_LENGTH];
            in.get(digest);
            return new BatchMarker(owner, digest);
        } catch (BufferUnderflowException e) {
            throw Values.truncated(what, e);
        }
    }

    /** Whether the owner flag is set, read without decoding the whole value. */
    static boolean isOwner(byte[] value) {
        return value.length >= 2 && (value[1] & 1) != 0;
    }
}

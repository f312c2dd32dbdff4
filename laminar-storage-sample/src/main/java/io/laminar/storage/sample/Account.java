package io.laminar.storage.sample;

import java.math.BigInteger;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * The state of one key: its balance (the exact sum of its amounts, which never overflows), how
 * many events made it, and what makes each way of changing it idempotent: the last batch that
 * changed it (so that the recovery of an interrupted {@link BatchPart} can tell whether this key's
 * change is already in) and the byte offset of the last line of the file source applied to it
 * (a line at offset {@code o} is applied iff {@code o <= lastFileOffset}). Immutable.
 *
 * <h2>Format (the value of state key {@code 'a' + key})</h2>
 * <pre>
 * byte 0            format version, 1
 * bytes 1..8        events, signed big-endian
 * bytes 9..16       lastFileOffset, signed big-endian; -1 if no file line was applied
 * byte 17           n, the length of lastBatchId in UTF-8 bytes (0: no batch changed the key)
 * bytes 18..18+n-1  lastBatchId, UTF-8
 * bytes 18+n..end   balance, two's complement big-endian, at least one byte ({@link BigInteger#toByteArray()})
 * </pre>
 *
 * @param balance        the sum of the key's amounts
 * @param events         how many events (HTTP events and file lines) made it
 * @param lastBatchId    the last batch that changed the key, "" if none
 * @param lastFileOffset the offset of the last file line applied to the key, -1 if none
 */
record Account(BigInteger balance, long events, String lastBatchId, long lastFileOffset) {

    static final int VERSION = 1;
    static final Account EMPTY = new Account(BigInteger.ZERO, 0, "", -1);

    Account {
        Objects.requireNonNull(balance, "balance");
        Objects.requireNonNull(lastBatchId, "lastBatchId");
    }

    /** This account with a batch's aggregated change to it. */
    Account plusBatch(long amount, long count, String batchId) {
        return new Account(balance.add(BigInteger.valueOf(amount)), events + count, batchId, lastFileOffset);
    }

    /** This account with file lines through {@code lastOffset} added. */
    Account plusLines(BigInteger amount, long count, long lastOffset) {
        return new Account(balance.add(amount), events + count, lastBatchId, lastOffset);
    }

    byte[] encode() {
        var id = lastBatchId.getBytes(StandardCharsets.UTF_8);
        if (id.length > 255) {
            throw new IllegalArgumentException("a batch id is at most 255 bytes, but was " + id.length);
        }
        var amount = balance.toByteArray();
        return ByteBuffer.allocate(18 + id.length + amount.length)
                .put((byte) VERSION).putLong(events).putLong(lastFileOffset)
                .put((byte) id.length).put(id).put(amount)
                .array();
    }

    /** @param key the key, for the error message */
    static Account decode(byte[] value, String key) {
        var what = "the account of key '" + key + "'";
        try {
            var in = Values.open(value, VERSION, what);
            long events = in.getLong();
            long lastFileOffset = in.getLong();
            var lastBatchId = Values.string(in, Byte.toUnsignedInt(in.get()), what);
            if (!in.hasRemaining()) {
                throw Values.corrupt(what, "has no balance");
            }
            var amount = new byte[in.remaining()];
            in.get(amount);
            return new Account(new BigInteger(amount), events, lastBatchId, lastFileOffset);
        } catch (BufferUnderflowException e) {
            throw Values.truncated(what, e);
        }
    }
}

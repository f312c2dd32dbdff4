package io.laminar.storage.sample;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * One core's part of a {@link Batch}: its keys' aggregated changes. It is applied by one task on
 * the core ({@link CoreLedger#applyPart}), and is also the redo record that task writes first, so
 * that {@link CoreLedger#recover} can finish a part a crash interrupted. Immutable.
 *
 * <h2>Format (the value of state key {@code 'p'})</h2>
 * <pre>
 * byte 0        format version, 1
 * byte 1        flags: bit 0 set if this core owns the batch
 * bytes 2..17   the batch's digest
 * byte 18       n, the length of the batch id in UTF-8 bytes
 * n bytes       the batch id
 * 4 bytes       d, the number of key changes, signed big-endian
 * d times:      2 bytes key length k (unsigned), k bytes key (UTF-8),
 *               8 bytes amount (the sum of the key's amounts in the batch), 4 bytes event count
 * </pre>
 *
 * @param batchId the batch
 * @param digest  the batch's digest
 * @param owner   whether this core owns the batch (gets its marker flagged as owner)
 * @param deltas  the changes, one per key of this core; empty for an owner with no key here
 */
record BatchPart(String batchId, byte[] digest, boolean owner, List<KeyDelta> deltas) {

    static final int VERSION = 1;

    /** A key's aggregated change in a batch: {@code events} events adding up to {@code amount}. */
    record KeyDelta(String key, long amount, int events) {
    }

    BatchPart {
        deltas = List.copyOf(deltas);
    }

    byte[] encode() {
        var id = batchId.getBytes(StandardCharsets.UTF_8);
        var keys = new ArrayList<byte[]>(deltas.size());
        int size = 2 + digest.length + 1 + id.length + 4;
        for (var delta : deltas) {
            var key = delta.key().getBytes(StandardCharsets.UTF_8);
            keys.add(key);
            size += 2 + key.length + 8 + 4;
        }
        var out = ByteBuffer.allocate(size).put((byte) VERSION).put((byte) (owner ? 1 : 0)).put(digest)
                .put((byte) id.length).put(id).putInt(deltas.size());
        for (int i = 0; i < deltas.size(); i++) {
            var key = keys.get(i);
            out.putShort((short) key.length).put(key).putLong(deltas.get(i).amount()).putInt(deltas.get(i).events());
        }
        return out.array();
    }

    /** @param core the core whose redo record this is, for the error message */
    static BatchPart decode(byte[] value, int core) {
        var what = "the pending batch part of core " + core;
        try {
            var in = Values.open(value, VERSION, what);
            boolean owner = (in.get() & 1) != 0;
            var digest = new byte[Batch.DIGEST_LENGTH];
            in.get(digest);
            var batchId = Values.string(in, Byte.toUnsignedInt(in.get()), what);
            int count = in.getInt();
            if (count < 0 || count > in.remaining() / 14) {
                throw Values.corrupt(what, "says it holds " + count + " keys in " + in.remaining() + " bytes");
            }
            var deltas = new ArrayList<KeyDelta>(count);
            for (int i = 0; i < count; i++) {
                var key = Values.string(in, Short.toUnsignedInt(in.getShort()), what);
                deltas.add(new KeyDelta(key, in.getLong(), in.getInt()));
            }
            if (in.hasRemaining()) {
                throw Values.corrupt(what, "has " + in.remaining() + " bytes after its last key");
            }
            return new BatchPart(batchId, digest, owner, deltas);
        } catch (BufferUnderflowException e) {
            throw Values.truncated(what, e);
        }
    }
}

package io.laminar.storage.sample;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The value of a core's redo record {@code 'p'}: the batch parts being applied there. Usually one;
 * after the number of cores changed, the parts several old cores were applying when they stopped,
 * each cut down to the keys this core now owns ({@link LedgerPlacement}).
 *
 * <h2>Format</h2>
 * Version 1 is a single {@link BatchPart} (its own format, whose first byte is 1). Version 2:
 * <pre>
 * byte 0        format version, 2
 * bytes 1..4    the number of parts, big-endian
 * then per part its length (4 bytes, big-endian) and its {@link BatchPart} bytes
 * </pre>
 * Stateless.
 */
final class PendingParts {

    static final int VERSION = 2;

    private PendingParts() {
    }

    static byte[] encode(List<BatchPart> parts) {
        if (parts.size() == 1) {
            return parts.get(0).encode();
        }
        var encoded = parts.stream().map(BatchPart::encode).toList();
        int size = 5 + encoded.stream().mapToInt(bytes -> 4 + bytes.length).sum();
        var out = ByteBuffer.allocate(size).put((byte) VERSION).putInt(parts.size());
        encoded.forEach(bytes -> out.putInt(bytes.length).put(bytes));
        return out.array();
    }

    /** @param core the core whose redo record this is, for the error message */
    static List<BatchPart> decode(byte[] value, int core) {
        if (value.length == 0 || value[0] != VERSION) {
            return List.of(BatchPart.decode(value, core));
        }
        var what = "the pending batch parts of core " + core;
        try {
            var in = Values.open(value, VERSION, what);
            int count = in.getInt();
            if (count < 0 || count > in.remaining() / 4) {
                throw Values.corrupt(what, "says it holds " + count + " parts in " + in.remaining() + " bytes");
            }
            var parts = new ArrayList<BatchPart>(count);
            for (int i = 0; i < count; i++) {
                int length = in.getInt();
                if (length < 0 || length > in.remaining()) {
                    throw Values.corrupt(what, "says part " + i + " has " + length + " bytes, " + in.remaining()
                            + " are left");
                }
                var bytes = new byte[length];
                in.get(bytes);
                parts.add(BatchPart.decode(bytes, core));
            }
            if (in.hasRemaining()) {
                throw Values.corrupt(what, "has " + in.remaining() + " bytes after its last part");
            }
            return parts;
        } catch (BufferUnderflowException e) {
            throw Values.truncated(what, e);
        }
    }
}

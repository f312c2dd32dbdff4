package io.laminar.storage.state;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The encoding of one state change (put, delete or clear) as the body of a log record, shared by
 * every writer of state changes and by replay. Integers are little-endian:
 * <pre>
 * PUT     byte 0: 1 | bytes 1..4: key length k (int32) | key (k bytes) | value length v (int32) | value (v bytes)
 * DELETE  byte 0: 2 | bytes 1..4: key length k (int32) | key (k bytes)
 * CLEAR   byte 0: 3
 * </pre>
 * A change holds the key and value bytes themselves, so it can be replayed on its own. A body has
 * exactly these bytes: an unknown operation, a negative length, a length beyond the body or bytes
 * after its end are rejected.
 *
 * <p>Stateless; thread-safe.
 */
public final class StateChangeFormat {

    public static final byte PUT = 1;
    public static final byte DELETE = 2;
    public static final byte CLEAR = 3;

    private StateChangeFormat() {
    }

    /** The encoded size of a change. */
    public static int encodedLength(byte op, int keyLength, int valueLength) {
        return switch (op) {
            case PUT -> 1 + Integer.BYTES + keyLength + Integer.BYTES + valueLength;
            case DELETE -> 1 + Integer.BYTES + keyLength;
            case CLEAR -> 1;
            default -> throw new IllegalArgumentException("unknown state change operation " + op);
        };
    }

    /**
     * Encodes a change at {@code out}'s position (which must be little-endian and have room),
     * advancing it. {@code value} is ignored unless {@code op} is {@link #PUT}.
     */
    public static void encode(ByteBuffer out, byte op, byte[] key, int keyLength, byte[] value, int valueLength) {
        out.put(op);
        if (op == CLEAR) {
            return;
        }
        out.putInt(keyLength).put(key, 0, keyLength);
        if (op == PUT) {
            out.putInt(valueLength).put(value, 0, valueLength);
        }
    }

    /**
     * Decodes the change in {@code body} (from its position to its limit) and applies it to
     * {@code target}.
     *
     * @throws IllegalArgumentException saying what is wrong with the bytes and at which byte
     */
    public static void apply(ByteBuffer body, ChangelogSink target) {
        var in = body.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int start = in.position();
        if (!in.hasRemaining()) {
            throw new IllegalArgumentException("it is empty");
        }
        byte op = in.get();
        switch (op) {
            case PUT -> {
                var key = readBytes(in, start, "key");
                var value = readBytes(in, start, "value");
                expectEnd(in, start);
                target.onPut(key, value);
            }
            case DELETE -> {
                var key = readBytes(in, start, "key");
                expectEnd(in, start);
                target.onDelete(key);
            }
            case CLEAR -> {
                expectEnd(in, start);
                target.onClear();
            }
            default -> throw new IllegalArgumentException(
                    "operation byte " + op + " is none of 1 (put), 2 (delete), 3 (clear)");
        }
    }

    private static byte[] readBytes(ByteBuffer in, int start, String what) {
        if (in.remaining() < Integer.BYTES) {
            throw new IllegalArgumentException("it ends at byte " + (in.position() - start) + " where the " + what
                    + " length should be");
        }
        int at = in.position() - start;
        int length = in.getInt();
        if (length < 0 || length > in.remaining()) {
            throw new IllegalArgumentException("the " + what + " length at byte " + at + " is " + length + " but "
                    + in.remaining() + " bytes follow it");
        }
        var bytes = new byte[length];
        in.get(bytes);
        return bytes;
    }

    private static void expectEnd(ByteBuffer in, int start) {
        if (in.hasRemaining()) {
            throw new IllegalArgumentException(in.remaining() + " unexpected bytes follow the record's end at byte "
                    + (in.position() - start));
        }
    }
}

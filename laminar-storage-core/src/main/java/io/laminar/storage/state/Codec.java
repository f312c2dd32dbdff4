package io.laminar.storage.state;

import java.nio.charset.StandardCharsets;

/**
 * Turns typed keys or values into bytes and back, for {@link StateStore#typed}. Implementations
 * must be thread-safe (stateless is easiest) and, as key codecs, should preserve order: the stores
 * sort keys by their unsigned bytes.
 *
 * @param <T> the type encoded
 */
public interface Codec<T> {

    /** The bytes of {@code value}; a fresh array the caller may keep. */
    byte[] encode(T value);

    /** The value of {@code bytes}; must not keep or modify the array. */
    T decode(byte[] bytes);

    /** UTF-8 strings. Byte order equals code point order. */
    static Codec<String> utf8() {
        return Utf8.INSTANCE;
    }

    /**
     * Longs as 8 big-endian bytes with the sign bit flipped, so that unsigned byte order equals
     * numeric order (negative numbers first).
     */
    static Codec<Long> int64() {
        return Int64.INSTANCE;
    }

    /** See {@link #utf8()}. */
    enum Utf8 implements Codec<String> {
        INSTANCE;

        @Override
        public byte[] encode(String value) {
            return value.getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public String decode(byte[] bytes) {
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    /** See {@link #int64()}. */
    enum Int64 implements Codec<Long> {
        INSTANCE;

        @Override
        public byte[] encode(Long value) {
            long v = value ^ Long.MIN_VALUE;
            var bytes = new byte[8];
            for (int i = 7; i >= 0; i--) {
                bytes[i] = (byte) v;
                v >>>= 8;
            }
            return bytes;
        }

        @Override
        public Long decode(byte[] bytes) {
            if (bytes.length != 8) {
                throw new IllegalArgumentException("an int64 value has 8 bytes, but this one has " + bytes.length);
            }
            long v = 0;
            for (byte b : bytes) {
                v = (v << 8) | (b & 0xFF);
            }
            return v ^ Long.MIN_VALUE;
        }
    }
}

package io.laminar.storage.bench.checkpoint;

import java.util.Arrays;

/**
 * A {@code HashMap} key over a state key's bytes, for the raw restore baselines that fill a map as
 * the floor of a restore: the bytes with a well-mixed hash. {@code ByteBuffer}'s (and
 * {@code Arrays.hashCode}'s) 31-polynomial collides so often on the benchmark's keys that the map's
 * bins turn into trees, which would make the floor slower than what it is the floor of.
 */
public record MapKey(byte[] bytes, int hash) {

    /** The key of {@code bytes} (not copied). */
    public MapKey(byte[] bytes) {
        this(bytes, mix(bytes));
    }

    private static int mix(byte[] bytes) {
        long h = 0x9E3779B97F4A7C15L;
        for (byte b : bytes) {
            h = (h ^ (b & 0xFF)) * 0xFF51AFD7ED558CCDL;
        }
        return (int) (h ^ (h >>> 29) ^ (h >>> 32));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MapKey k && Arrays.equals(bytes, k.bytes);
    }

    @Override
    public int hashCode() {
        return hash;
    }
}

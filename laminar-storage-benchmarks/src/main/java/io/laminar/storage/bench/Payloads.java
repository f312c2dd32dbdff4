package io.laminar.storage.bench;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;

/** Record payloads: random bytes, so no layer can win by compressing or deduplicating them. */
public final class Payloads {

    private Payloads() {
    }

    public static byte[] random(int size, long seed) {
        var bytes = new byte[size];
        var random = new SplittableRandom(seed);
        for (int i = 0; i < size; i++) {
            bytes[i] = (byte) random.nextInt(256);
        }
        return bytes;
    }

    /** A direct buffer holding a copy of {@code bytes}, positioned at 0 (what a raw writer passes to write). */
    public static ByteBuffer direct(byte[] bytes) {
        return ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
    }
}

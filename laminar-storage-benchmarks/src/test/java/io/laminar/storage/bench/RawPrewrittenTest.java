package io.laminar.storage.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The disk-ceiling rows write what a WAL backend writes: frames one after the other from offset 0
 * of a pre-written file that never grows, the O_DIRECT ones keeping the earlier frames of a block
 * they write again. (io-uring is among the primitives only on Java 22+.)
 */
class RawPrewrittenTest {

    private static final int FRAME = 152;
    private static final long CAPACITY = 1 << 20;

    static Iterable<RawPrewritten.Primitive> primitives() {
        return RawPrewritten.Primitive.runnable();
    }

    @ParameterizedTest
    @MethodSource("primitives")
    void batchesLandOneAfterTheOtherInAFileThatKeepsItsSize(RawPrewritten.Primitive primitive, @TempDir Path dir)
            throws Exception {
        byte[] payload = Payloads.random(128, 7);
        var file = dir.resolve("raw.log");
        int records = 3;
        int batches = 40; // 40 x 456 bytes: crosses several 4 KiB blocks, most batches start inside one
        try (var raw = new RawPrewritten(file, CAPACITY, primitive, payload, FRAME, records)) {
            for (int i = 0; i < batches; i++) {
                raw.writeBatch();
            }
        }
        byte[] content = Files.readAllBytes(file);
        assertEquals(CAPACITY, content.length, "the file's size");
        byte[] expected = new byte[(int) CAPACITY];
        for (int frame = 0; frame < records * batches; frame++) {
            System.arraycopy(payload, 0, expected, frame * FRAME, payload.length);
        }
        assertArrayEquals(expected, content, primitive.label() + ": frames at their offsets, zeros after them");
    }
}

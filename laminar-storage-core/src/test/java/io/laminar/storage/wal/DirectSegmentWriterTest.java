package io.laminar.storage.wal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The O_DIRECT writer against a real file: whatever the offsets and lengths of the writes, the file
 * ends up byte for byte as if they had been written through the page cache, the bytes before the
 * first write (a segment header, earlier records) stay, and the file never grows.
 */
class DirectSegmentWriterTest {

    private static final int CAPACITY = 4 << 20;

    @TempDir
    Path dir;

    private Path file;
    private int blockSize;

    @BeforeEach
    void zeroFilledSegment() throws IOException {
        file = dir.resolve("segment.wal");
        Files.write(file, new byte[CAPACITY]);
        blockSize = (int) Files.getFileStore(dir).getBlockSize();
    }

    private DirectSegmentWriter open() throws IOException {
        var channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE,
                ExtendedOpenOption.DIRECT);
        return new DirectSegmentWriter(file, channel, blockSize, CAPACITY);
    }

    @Test
    void writesOfAnyOffsetAndLengthLeaveTheFileAsBufferedWritesWould() throws IOException {
        var expected = new byte[CAPACITY];
        var random = new Random(2026);
        // a header already in the file, as a segment has before its first record
        var header = new byte[WalFormat.SEGMENT_HEADER_LENGTH];
        random.nextBytes(header);
        Files.write(file, header, StandardOpenOption.WRITE);
        System.arraycopy(header, 0, expected, 0, header.length);

        long offset = WalFormat.SEGMENT_HEADER_LENGTH;
        try (var closer = new Closer(open())) {
            var writer = closer.writer;
            while (true) {
                // tiny frames, frames across a block boundary, and runs larger than the staging buffer
                int length = 8 * (1 + switch (random.nextInt(4)) {
                    case 0 -> random.nextInt(4);
                    case 1 -> random.nextInt(blockSize / 8 * 2);
                    case 2 -> random.nextInt(DirectSegmentWriter.STAGING_SIZE / 8 * 3 / 2);
                    default -> random.nextInt(64);
                });
                if (offset + length > CAPACITY) {
                    break;
                }
                var bytes = new byte[length];
                random.nextBytes(bytes);
                System.arraycopy(bytes, 0, expected, (int) offset, length);
                var source = ByteBuffer.allocateDirect(length + 3).position(3); // an unaligned source buffer
                source.put(bytes).position(3);
                writer.write(source, offset);
                assertThat(source.hasRemaining()).isFalse();
                offset += length;
                if (random.nextInt(8) == 0) {
                    writer.sync();
                }
            }
            writer.sync();
        }
        assertThat(Files.size(file)).isEqualTo(CAPACITY);
        var actual = Files.readAllBytes(file);
        assertThat(Arrays.mismatch(actual, expected)).as("first differing byte").isEqualTo(-1);
    }

    @Test
    void aNewWriterContinuesAfterTheRecordsAnEarlierOneWrote() throws IOException {
        var first = new byte[5000];
        Arrays.fill(first, (byte) 1);
        try (var closer = new Closer(open())) {
            closer.writer.write(ByteBuffer.wrap(first), 64);
            closer.writer.sync();
        }
        var second = new byte[40];
        Arrays.fill(second, (byte) 2);
        try (var closer = new Closer(open())) {
            closer.writer.write(ByteBuffer.wrap(second), 64 + 5000);
            closer.writer.sync();
        }
        var bytes = Files.readAllBytes(file);
        for (int i = 0; i < 64; i++) {
            assertThat(bytes[i]).isZero();
        }
        for (int i = 64; i < 5064; i++) {
            assertThat(bytes[i]).isEqualTo((byte) 1);
        }
        for (int i = 5064; i < 5104; i++) {
            assertThat(bytes[i]).isEqualTo((byte) 2);
        }
        for (int i = 5104; i < CAPACITY; i++) {
            assertThat(bytes[i]).isZero();
        }
    }

    @Test
    void aWritePastTheCapacityIsRefusedAndTheFileDoesNotGrow() throws IOException {
        try (var closer = new Closer(open())) {
            assertThatThrownBy(() -> closer.writer.write(ByteBuffer.allocate(16), CAPACITY - 8))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("runs past its size of " + CAPACITY);
        }
        assertThat(Files.size(file)).isEqualTo(CAPACITY);
    }

    @Test
    void aSegmentWhoseSizeIsNotAMultipleOfTheBlockSizeIsRefused() throws IOException {
        try (var channel = FileChannel.open(file, StandardOpenOption.READ)) {
            assertThatThrownBy(() -> new DirectSegmentWriter(file, channel, blockSize, CAPACITY + 8))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("not a multiple of the block size " + blockSize);
        }
    }

    private record Closer(DirectSegmentWriter writer) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            writer.close();
        }
    }
}

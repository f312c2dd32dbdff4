package io.laminar.storage.iouring;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.wal.BackendInterop;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WriteAheadLog;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The format on disk is the same for every backend: a log written through io_uring opens, reads and
 * goes on with file-channel and direct, and the other way round, across segment rotations.
 */
class IoUringInteropTest {

    @TempDir
    Path dir;

    @BeforeEach
    void ioUringRunsHere() {
        IoUringAvailable.assumeAvailable();
    }

    static Stream<Arguments> writerAndReader() {
        return Stream.of(
                Arguments.of(WalIoBackend.IO_URING, WalIoBackend.FILE_CHANNEL, false),
                Arguments.of(WalIoBackend.FILE_CHANNEL, WalIoBackend.IO_URING, false),
                Arguments.of(WalIoBackend.IO_URING, WalIoBackend.DIRECT_OR_FALLBACK, false),
                Arguments.of(WalIoBackend.DIRECT_OR_FALLBACK, WalIoBackend.IO_URING, false),
                Arguments.of(WalIoBackend.IO_URING, WalIoBackend.FILE_CHANNEL, true),
                Arguments.of(WalIoBackend.FILE_CHANNEL, WalIoBackend.IO_URING, true));
    }

    @ParameterizedTest(name = "written with {0}, opened with {1}, io_uring from a registered buffer {2}")
    @MethodSource("writerAndReader")
    void aLogWrittenWithOneBackendOpensAndContinuesWithTheOther(WalIoBackend writer, WalIoBackend reader,
            boolean fixedBuffer) throws Exception {
        String before = System.getProperty(IoUringProvider.FIXED_BUFFERS_PROPERTY);
        System.setProperty(IoUringProvider.FIXED_BUFFERS_PROPERTY, Boolean.toString(fixedBuffer));
        try {
            writeReadAndContinue(writer, reader);
        } finally {
            if (before == null) {
                System.clearProperty(IoUringProvider.FIXED_BUFFERS_PROPERTY);
            } else {
                System.setProperty(IoUringProvider.FIXED_BUFFERS_PROPERTY, before);
            }
        }
    }

    private void writeReadAndContinue(WalIoBackend writer, WalIoBackend reader) throws Exception {
        var random = new Random(7);
        var expected = new ArrayList<byte[]>();
        try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(writer).build())) {
            assertThat(wal.ioBackend()).isIn(writer, writer.preferred(), WalIoBackend.FILE_CHANNEL);
            if (writer == WalIoBackend.IO_URING) {
                assertThat(wal.ioBackend()).isEqualTo(WalIoBackend.IO_URING);
            }
            var futures = new ArrayList<CompletableFuture<Long>>();
            for (int i = 0; i < 600; i++) {
                var record = BackendInterop.record(i, random);
                expected.add(record);
                futures.add(wal.appendDurable(record));
            }
            CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
            assertThat(wal.statistics().syncs()).isPositive();
        }
        try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(reader).build())) {
            assertThat(wal.recoveryReport().tornTailBytes()).isZero();
            assertThat(BackendInterop.readAll(wal)).containsExactlyElementsOf(expected);
            for (int i = 600; i < 1200; i++) {
                var record = BackendInterop.record(i, random);
                expected.add(record);
                wal.append(record);
            }
            wal.sync().get(30, TimeUnit.SECONDS);
            assertThat(BackendInterop.readAll(wal)).containsExactlyElementsOf(expected);
        }
        try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(writer).build())) {
            assertThat(wal.recoveryReport().tornTailBytes()).isZero();
            assertThat(BackendInterop.readAll(wal)).containsExactlyElementsOf(expected);
        }
    }
}

package io.laminar.storage.wal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.nio.file.ExtendedOpenOption;
import io.laminar.storage.io.FaultyFileIO;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Choosing a {@link WalIoBackend}: every backend reads what every other wrote (the format on disk does
 * not depend on the backend), a backend that cannot run fails the open with a message naming the
 * setting, the reason and the fix, and an {@code -or-fallback} choice falls back to file-channel.
 * The rest of the WAL suite runs once per backend ({@link WalTestBackend}).
 */
class WalIoBackendTest {

    private static final List<WalIoBackend> RUNNABLE = List.of(WalIoBackend.FILE_CHANNEL, WalIoBackend.DIRECT);

    @TempDir
    Path dir;

    static Stream<Arguments> writerAndReader() {
        var pairs = new ArrayList<Arguments>();
        for (var writer : RUNNABLE) {
            for (var reader : RUNNABLE) {
                pairs.add(Arguments.of(writer, reader));
            }
        }
        return pairs.stream();
    }

    @ParameterizedTest(name = "written with {0}, opened with {1}")
    @MethodSource("writerAndReader")
    void aLogWrittenWithOneBackendOpensAndContinuesWithAnother(WalIoBackend writer, WalIoBackend reader)
            throws Exception {
        var random = new Random(42);
        var expected = new ArrayList<byte[]>();
        try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(writer).build())) {
            assertThat(wal.ioBackend()).isEqualTo(writer);
            var futures = new ArrayList<CompletableFuture<Long>>();
            for (int i = 0; i < 600; i++) {
                var record = BackendInterop.record(i, random);
                expected.add(record);
                futures.add(wal.appendDurable(record));
            }
            CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        }
        try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(reader).build())) {
            assertThat(wal.ioBackend()).isEqualTo(reader);
            assertThat(wal.recoveryReport().tornTailBytes()).isZero();
            assertThat(BackendInterop.readAll(wal)).containsExactlyElementsOf(expected);
            // The reader's backend goes on in the segment the writer's left half full, and rotates.
            for (int i = 600; i < 1200; i++) {
                var record = BackendInterop.record(i, random);
                expected.add(record);
                wal.append(record);
            }
            wal.sync().get(30, TimeUnit.SECONDS);
            assertThat(BackendInterop.readAll(wal)).containsExactlyElementsOf(expected);
        }
        try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(writer).build())) {
            assertThat(BackendInterop.readAll(wal)).containsExactlyElementsOf(expected);
            assertThat(wal.recoveryReport().tornTailBytes()).isZero();
        }
    }

    @Test
    void directOnAFileSystemThatRefusesODirectFailsTheOpenNamingTheSettingTheReasonAndTheFix() {
        var io = FaultyFileIO.overSystem().refuseOpenOption(ExtendedOpenOption.DIRECT);
        var options = BackendInterop.smallSegments(WalIoBackend.DIRECT).fileIO(io).build();

        assertThatThrownBy(() -> WriteAheadLog.open(dir, options))
                .isInstanceOf(WalIoBackendUnavailableException.class)
                .hasMessageContaining("laminar.storage.wal.io-backend")
                .hasMessageContaining("WalOptions.ioBackend")
                .hasMessageContaining("'direct'")
                .hasMessageContaining("refuses O_DIRECT")
                .hasMessageContaining(dir.toString())
                .hasMessageContaining("'file-channel'")
                .hasMessageContaining("'direct-or-fallback'")
                .hasMessageContaining("ext4 or xfs")
                .satisfies(e -> assertThat(((WalIoBackendUnavailableException) e).backend())
                        .isEqualTo(WalIoBackend.DIRECT));
        // Nothing was written, and the lock was released: the log opens with a backend that can run.
        try (var stream = Files.list(dir)) {
            assertThat(stream.filter(p -> p.toString().endsWith(".wal"))).isEmpty();
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(WalIoBackend.FILE_CHANNEL).fileIO(io).build())) {
            assertThat(wal.ioBackend()).isEqualTo(WalIoBackend.FILE_CHANNEL);
        }
    }

    @Test
    void directOrFallbackOnAFileSystemThatRefusesODirectWritesWithFileChannel() throws Exception {
        var io = FaultyFileIO.overSystem().refuseOpenOption(ExtendedOpenOption.DIRECT);
        try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(WalIoBackend.DIRECT_OR_FALLBACK).fileIO(io).build())) {
            assertThat(wal.ioBackend()).isEqualTo(WalIoBackend.FILE_CHANNEL);
            wal.appendDurable(new byte[] {1, 2, 3}).get(10, TimeUnit.SECONDS);
        }
        try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(WalIoBackend.DIRECT_OR_FALLBACK).build())) {
            assertThat(wal.ioBackend()).isEqualTo(WalIoBackend.DIRECT);
            assertThat(BackendInterop.readAll(wal)).containsExactly(new byte[] {1, 2, 3});
        }
    }

    @Test
    void directOrFallbackWarnsOncePerDirectoryNotOncePerLog() throws Exception {
        var io = FaultyFileIO.overSystem().refuseOpenOption(ExtendedOpenOption.DIRECT);
        var captured = new ByteArrayOutputStream();
        var original = System.err;
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            for (var name : List.of("core-0000", "core-0001", "core-0002")) {
                try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(WalIoBackend.DIRECT_OR_FALLBACK).name(name).fileIO(io)
                        .build())) {
                    assertThat(wal.ioBackend()).isEqualTo(WalIoBackend.FILE_CHANNEL);
                }
            }
        } finally {
            System.setErr(original);
        }
        var warnings = captured.toString(StandardCharsets.UTF_8).lines()
                .filter(line -> line.contains("WARN") && line.contains("the WAL I/O backend 'direct' cannot run"))
                .toList();
        assertThat(warnings).hasSize(1);
        assertThat(warnings.get(0)).contains("refuses O_DIRECT").contains("uses 'file-channel' instead")
                .contains("laminar.storage.wal.io-backend");
    }

    @Test
    void directWithASegmentSizeThatIsNotAMultipleOfTheBlockSizeFailsTheOpenNamingSegmentSize() throws Exception {
        long blockSize = Files.getFileStore(dir).getBlockSize();
        long segmentSize = 64 * 1024 + 8;
        assertThat(segmentSize % blockSize).isNotZero();

        assertThatThrownBy(() -> WriteAheadLog.open(dir, BackendInterop.smallSegments(WalIoBackend.DIRECT).segmentSize(segmentSize).build()))
                .isInstanceOf(WalIoBackendUnavailableException.class)
                .hasMessageContaining("segmentSize (" + segmentSize + " bytes) is not a multiple of the file system's "
                        + "block size (" + blockSize + " bytes)")
                .hasMessageContaining("laminar.storage.wal.segment-size");
    }

    @Test
    void directContinuesASegmentOfAnOddSizeWrittenEarlierThroughThePageCacheAndUsesODirectAfterRotation()
            throws Exception {
        long oddSize = 64 * 1024 + 8;
        var random = new Random(7);
        var expected = new ArrayList<byte[]>();
        try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(WalIoBackend.FILE_CHANNEL).segmentSize(oddSize).build())) {
            for (int i = 0; i < 20; i++) {
                expected.add(BackendInterop.record(i, random));
                wal.append(expected.get(i));
            }
        }
        try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(WalIoBackend.DIRECT).build())) {
            for (int i = 20; i < 800; i++) {
                expected.add(BackendInterop.record(i, random));
                wal.append(expected.get(i));
            }
            wal.sync().get(30, TimeUnit.SECONDS);
        }
        try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(WalIoBackend.FILE_CHANNEL).build())) {
            assertThat(BackendInterop.readAll(wal)).containsExactlyElementsOf(expected);
        }
    }

    /**
     * The core's tests run on Java 17 without laminar-storage-io-uring: what a user gets who chooses
     * io-uring there. (The module's own tests run the WAL suite on io-uring, on Java 22+.)
     */
    @Test
    void ioUringWithoutJava22OrItsModuleFailsTheOpenNamingTheSettingTheReasonAndTheFix() {
        assertThatThrownBy(() -> WriteAheadLog.open(dir, BackendInterop.smallSegments(WalIoBackend.IO_URING).build()))
                .isInstanceOf(WalIoBackendUnavailableException.class)
                .hasMessageContaining("laminar.storage.wal.io-backend")
                .hasMessageContaining("'io-uring'")
                .hasMessageContaining(Runtime.version().feature() < 22 ? "needs Java 22 or newer" : "no provider")
                .hasMessageContaining("io.laminar:laminar-storage-io-uring")
                .hasMessageContaining("'io-uring-or-fallback'")
                .hasMessageContaining("'file-channel'")
                .satisfies(e -> assertThat(((WalIoBackendUnavailableException) e).backend())
                        .isEqualTo(WalIoBackend.IO_URING));
        try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(WalIoBackend.FILE_CHANNEL).build())) {
            assertThat(wal.ioBackend()).isEqualTo(WalIoBackend.FILE_CHANNEL);
        }
    }

    @Test
    void ioUringOrFallbackWithoutJava22OrItsModuleWritesWithFileChannel() throws Exception {
        try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(WalIoBackend.IO_URING_OR_FALLBACK).build())) {
            assertThat(wal.ioBackend()).isEqualTo(WalIoBackend.FILE_CHANNEL);
            wal.appendDurable(new byte[] {4, 5, 6}).get(10, TimeUnit.SECONDS);
        }
        try (var wal = WriteAheadLog.open(dir, BackendInterop.smallSegments(WalIoBackend.FILE_CHANNEL).build())) {
            assertThat(BackendInterop.readAll(wal)).containsExactly(new byte[] {4, 5, 6});
        }
        assertThat(WalIoBackend.fromPropertyValue("IO-URING-or-fallback").preferred()).isEqualTo(WalIoBackend.IO_URING);
    }

    @Test
    void backendsAreSpelledAsInConfiguration() {
        assertThat(WalIoBackend.fromPropertyValue(" Direct-Or-Fallback ")).isEqualTo(WalIoBackend.DIRECT_OR_FALLBACK);
        assertThat(WalIoBackend.DIRECT_OR_FALLBACK.preferred()).isEqualTo(WalIoBackend.DIRECT);
        assertThat(WalIoBackend.DIRECT.fallsBack()).isFalse();
        assertThat(WalOptions.defaults().ioBackend()).isEqualTo(WalIoBackend.FILE_CHANNEL);
        assertThatThrownBy(() -> WalIoBackend.fromPropertyValue("uring"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("ioBackend must be one of " + WalIoBackend.validValues() + ", but was 'uring'");
    }
}

package io.laminar.storage.iouring;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.wal.BackendInterop;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalOptions;
import io.laminar.storage.wal.WriteAheadLog;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A short write, for real: a child JVM ({@link ShortWriteChild}) lowers its file-size limit to an
 * offset inside the next frame, so the kernel writes the frame only up to the limit. In a linked
 * batch that severs the link (the fdatasync is cancelled); the writer goes on with the rest from the
 * limit, where the kernel answers EFBIG, and the log fails: the record is never acknowledged, the
 * failure names the offset the rest was written at (so the short write was seen and continued), and
 * the acknowledged records come back, the partial frame being cut as a torn tail.
 */
class IoUringShortWriteTest {

    @TempDir
    Path dir;

    @BeforeEach
    void ioUringRunsHere() {
        IoUringAvailable.assumeAvailable();
    }

    @ParameterizedTest(name = "{0}, linked {1}")
    @CsvSource({"every-append, true", "group-commit, true", "every-append, false"})
    void aShortWriteIsContinuedAndItsErrorFailsTheLog(String policy, boolean linked) throws Exception {
        var wal = Files.createDirectory(dir.resolve("wal"));
        var stderr = dir.resolve("child.stderr");
        var java = ProcessHandle.current().info().command().orElseThrow();
        var process = new ProcessBuilder(java, "-Xmx128m", "--enable-native-access=ALL-UNNAMED",
                "-D" + IoUringProvider.LINKED_PROPERTY + "=" + linked, "-cp", System.getProperty("java.class.path"),
                ShortWriteChild.class.getName(), wal.toString(), policy).redirectError(stderr.toFile()).start();
        process.getOutputStream().close();
        var out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        assertThat(process.waitFor(120, TimeUnit.SECONDS)).as("child exited").isTrue();
        var err = Files.readString(stderr);
        assertThat(process.exitValue()).as("child exit; stdout %s, stderr %s", out, err).isZero();
        assertThat(out).contains("ACK " + ShortWriteChild.RECORDS).doesNotContain("ACKNOWLEDGED");
        long limit = out.stream().filter(line -> line.startsWith("LIMIT ")).map(line -> Long.parseLong(line.substring(6)))
                .findFirst().orElseThrow();
        var failed = out.stream().filter(line -> line.startsWith("FAILED ")).findFirst();
        assertThat(failed).as("stdout %s", out).isPresent();
        assertThat(failed.get()).contains("io_uring write of").contains("at file offset " + limit + " ")
                .contains("EFBIG");

        try (var log = WriteAheadLog.open(wal, WalOptions.builder().ioBackend(WalIoBackend.FILE_CHANNEL)
                .segmentSize(1 << 20).maxRecordSize(8192).build())) {
            var expected = new ArrayList<byte[]>();
            for (int i = 0; i < ShortWriteChild.RECORDS; i++) {
                expected.add(ShortWriteChild.record(i));
            }
            assertThat(log.recoveryReport().tornTailBytes()).as("the partial frame").isPositive();
            assertThat(BackendInterop.readAll(log)).containsExactlyElementsOf(expected);
        }
    }
}

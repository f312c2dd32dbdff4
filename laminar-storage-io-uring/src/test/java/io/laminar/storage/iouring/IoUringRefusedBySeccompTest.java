package io.laminar.storage.iouring;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.wal.BackendInterop;
import io.laminar.storage.wal.DirectRefusedChild;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalOptions;
import io.laminar.storage.wal.WriteAheadLog;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A kernel that refuses io_uring, for real: a child JVM ({@link SeccompChild}) installs a seccomp
 * filter that answers {@code io_uring_setup} with EPERM (as {@code kernel.io_uring_disabled} or a
 * container profile does) or ENOSYS (as a kernel without io_uring or Docker's older profile does)
 * before it opens a WAL. The open with {@code io-uring} fails naming the property, the reason and the
 * fix; {@code io-uring-or-fallback} logs one WARN for two logs of one directory and writes with
 * file-channel; the logs it wrote open afterwards with io-uring, file-channel and direct here, where
 * io_uring runs. Skipped, with the reason, where io_uring cannot run in this JVM or the kernel does
 * not let the child install the filter.
 */
class IoUringRefusedBySeccompTest {

    @TempDir
    Path dir;

    @BeforeEach
    void ioUringRunsHere() {
        IoUringAvailable.assumeAvailable();
    }

    @ParameterizedTest(name = "io_uring_setup answers {0}")
    @ValueSource(strings = {"EPERM", "ENOSYS"})
    void aKernelThatRefusesIoUringFailsTheOpenOrFallsBackWithOneWarning(String errno) throws Exception {
        var stderr = dir.resolve("child.stderr");
        var wal = Files.createDirectory(dir.resolve("wal"));
        var java = ProcessHandle.current().info().command().orElseThrow();
        var process = new ProcessBuilder(java, "-Xmx128m", "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), SeccompChild.class.getName(), errno, wal.toString())
                .redirectError(stderr.toFile()).start();
        process.getOutputStream().close();
        var out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        assertThat(process.waitFor(120, TimeUnit.SECONDS)).as("child exited").isTrue();
        var noSeccomp = out.stream().filter(line -> line.startsWith("NO-SECCOMP ")).findFirst();
        Assumptions.assumeTrue(noSeccomp.isEmpty(), () -> "this kernel does not let a process install a seccomp "
                + "filter (" + noSeccomp.get().substring(11) + "), so a kernel refusing io_uring cannot be tested here");
        var err = Files.readString(stderr);
        assertThat(process.exitValue()).as("child exit; stdout %s, stderr %s", out, err).isZero();
        assertThat(out).contains("FILTERED");

        var refused = out.stream().filter(line -> line.startsWith("REFUSED ")).findFirst();
        assertThat(refused).as("the open with io-uring failed; stdout %s", out).isPresent();
        assertThat(refused.get()).contains("laminar.storage.wal.io-backend").contains("'io-uring'")
                .contains(wal.toString())
                .contains("io_uring_setup answered " + errno)
                .contains("'file-channel'").contains("'io-uring-or-fallback'")
                .contains(errno.equals("EPERM") ? "seccomp profile" : "Linux 5.6 or newer");

        var warnings = err.lines().filter(line -> line.contains("WARN")).toList();
        assertThat(warnings).as("WARN lines of the child, stderr %s", err).hasSize(1);
        assertThat(warnings.get(0)).contains("the WAL I/O backend 'io-uring' cannot run")
                .contains("uses 'file-channel' instead").contains("io_uring_setup answered " + errno);
        assertThat(out).contains("BACKEND core-0000 file-channel", "BACKEND core-0001 file-channel",
                "ACK core-0000 " + DirectRefusedChild.RECORDS, "ACK core-0001 " + DirectRefusedChild.RECORDS);

        // What the fallback wrote opens with every backend, io-uring included, in this unfiltered JVM.
        for (var backend : List.of(WalIoBackend.IO_URING, WalIoBackend.FILE_CHANNEL, WalIoBackend.DIRECT)) {
            for (var name : List.of("core-0000", "core-0001")) {
                var expected = new ArrayList<byte[]>();
                for (int i = 0; i < DirectRefusedChild.RECORDS; i++) {
                    expected.add(DirectRefusedChild.record(name, i));
                }
                WalOptions options = WalOptions.builder().name(name).ioBackend(backend).segmentSize(1 << 20)
                        .maxRecordSize(4096).build();
                try (var log = WriteAheadLog.open(wal, options)) {
                    assertThat(log.ioBackend()).isEqualTo(backend);
                    assertThat(log.recoveryReport().tornTailBytes()).isZero();
                    assertThat(BackendInterop.readAll(log)).as("%s read with %s", name, backend)
                            .containsExactlyElementsOf(expected);
                }
            }
        }
    }
}

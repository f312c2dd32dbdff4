package io.laminar.storage.wal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file system that refuses O_DIRECT, for real: a child JVM ({@link DirectRefusedChild}) runs in a
 * mount namespace of its own ({@code unshare -Urm}: a user namespace, so no root is needed where
 * user namespaces are allowed) with a ramfs mounted on its WAL directory. ramfs refuses O_DIRECT at
 * open (EINVAL); tmpfs, which did before Linux 6.6, takes it since (so {@code /dev/shm} is no test of
 * this any more). The open with {@code direct} fails naming the property, the reason and the fix;
 * {@code direct-or-fallback} logs one WARN for two logs of one directory and writes with
 * file-channel; what it wrote, copied out of the ramfs, opens here with direct and file-channel.
 * Skipped, with the reason, where the machine does not let a process mount a ramfs in a namespace of
 * its own, or where ramfs takes O_DIRECT.
 */
class DirectRefusedByRamfsTest {

    @TempDir
    Path dir;

    @Test
    void aFileSystemThatRefusesODirectFailsTheOpenOrFallsBackWithOneWarning() throws Exception {
        var ramfs = Files.createDirectory(dir.resolve("ramfs"));
        var copy = Files.createDirectory(dir.resolve("copy"));
        var stderr = dir.resolve("child.stderr");
        var java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        var probe = new ProcessBuilder("unshare", "-Urm", "sh", "-c", "mount -t ramfs none \"$0\"", ramfs.toString())
                .redirectErrorStream(true).start();
        var probeOut = new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(probe.waitFor(30, TimeUnit.SECONDS)).isTrue();
        Assumptions.assumeTrue(probe.exitValue() == 0, () -> "a ramfs cannot be mounted in a mount namespace of this "
                + "process's own here (unshare -Urm sh -c 'mount -t ramfs ...' exited " + probe.exitValue() + ": "
                + probeOut + "), so a file system refusing O_DIRECT cannot be tested");

        var process = new ProcessBuilder("unshare", "-Urm", "sh", "-c", "mount -t ramfs none \"$0\" && exec \"$@\"",
                ramfs.toString(), java, "-Xmx128m", "-cp", System.getProperty("java.class.path"),
                DirectRefusedChild.class.getName(), ramfs.toString(), copy.toString())
                .redirectError(stderr.toFile()).start();
        process.getOutputStream().close();
        var out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        assertThat(process.waitFor(120, TimeUnit.SECONDS)).as("child exited").isTrue();
        var err = Files.readString(stderr);
        assertThat(process.exitValue()).as("child exit; stdout %s, stderr %s", out, err).isZero();
        Assumptions.assumeFalse(out.contains("OPENED direct"), "ramfs takes O_DIRECT on this kernel");

        var refused = out.stream().filter(line -> line.startsWith("REFUSED ")).findFirst();
        assertThat(refused).as("the open with direct failed; stdout %s", out).isPresent();
        assertThat(refused.get()).contains("laminar.storage.wal.io-backend").contains("'direct'")
                .contains("refuses O_DIRECT").contains(ramfs.toString()).contains("Invalid argument")
                .contains("'file-channel'").contains("'direct-or-fallback'").contains("ext4 or xfs");
        var warnings = err.lines().filter(line -> line.contains("WARN")).toList();
        assertThat(warnings).as("WARN lines of the child, stderr %s", err).hasSize(1);
        assertThat(warnings.get(0)).contains("the WAL I/O backend 'direct' cannot run").contains("refuses O_DIRECT")
                .contains("uses 'file-channel' instead");
        assertThat(out).contains("BACKEND core-0000 file-channel", "BACKEND core-0001 file-channel",
                "ACK core-0000 " + DirectRefusedChild.RECORDS, "ACK core-0001 " + DirectRefusedChild.RECORDS, "COPIED");

        for (var backend : List.of(WalIoBackend.DIRECT, WalIoBackend.FILE_CHANNEL)) {
            for (var name : List.of("core-0000", "core-0001")) {
                var expected = new ArrayList<byte[]>();
                for (int i = 0; i < DirectRefusedChild.RECORDS; i++) {
                    expected.add(DirectRefusedChild.record(name, i));
                }
                try (var wal = WriteAheadLog.open(copy, DirectRefusedChild.options(backend, name))) {
                    assertThat(wal.ioBackend()).isEqualTo(backend);
                    assertThat(wal.recoveryReport().tornTailBytes()).isZero();
                    assertThat(BackendInterop.readAll(wal)).as("%s read with %s", name, backend)
                            .containsExactlyElementsOf(expected);
                }
            }
        }
    }
}

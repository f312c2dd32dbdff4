package io.laminar.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.wal.WalCorruptionException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** `laminar wal ...` against WAL directories written by the real runtime, run as a child process. */
class WalCommandsIT extends RuntimeDataIT {

    @Test
    void helpShowsUsageExamplesAndExitCodes() throws Exception {
        var help = Cli.run("--help");
        assertThat(help.exit()).as(help.toString()).isZero();
        assertThat(help.out()).contains("Usage: laminar", "Exit codes", "wal", "Examples");
        for (var command : List.of(List.of("wal", "ls"), List.of("wal", "dump"), List.of("wal", "verify"),
                List.of("wal", "repair"), List.of("wal"))) {
            var args = Stream.concat(command.stream(), Stream.of("--help")).toArray(String[]::new);
            var result = Cli.run(args);
            assertThat(result.exit()).as(result.toString()).isZero();
            assertThat(result.out()).as(command.toString()).contains("Usage: laminar " + String.join(" ", command), "laminar ");
            assertThat(result.out()).containsPattern("Examples?:");
        }
        assertThat(Cli.run("wal", "repair", "--help").out()).contains("takes the WAL lock", "refuses while the application");
        assertThat(Cli.run("wal", "verify", "--help").out()).contains("never takes the WAL lock");
    }

    @Test
    void launcherScriptRunsTheJar() throws Exception {
        var result = Cli.exec(List.of(Cli.launcher().toString(), "--version"), Map.of());
        assertThat(result.exit()).as(result.toString()).isZero();
        assertThat(result.out()).startsWith("laminar ");
    }

    @Test
    void lsShowsEveryCoreLog() throws Exception {
        var result = Cli.run("wal", "ls", data.resolve("wal").toString());
        assertThat(result.exit()).as(result.toString()).isZero();
        assertThat(result.out()).contains("core-0000 (core 0)", "core-0001 (core 1)", "tail clean", "epochs ",
                "core-0000-00000000000000000000.wal");
        var json = Cli.run("wal", "ls", data.toString(), "--json"); // a laminar.storage.dir works too
        assertThat(json.exit()).as(json.toString()).isZero();
        assertThat(json.out()).contains("\"log\" : \"core-0001\"", "\"tail\" : \"clean\"", "\"lastEpoch\"");
    }

    @Test
    void dumpDecodesStateChanges() throws Exception {
        var text = Cli.run("wal", "dump", data.resolve("wal").toString(), "--core", "0", "--decode", "--limit", "5");
        assertThat(text.exit()).as(text.toString()).isZero();
        assertThat(text.out().lines().count()).isEqualTo(5);
        assertThat(text.out()).contains("core-0000 pos 0 core 0", "crc 0x", "PUT key=\"key-3\" value=\"value-3-0\"");
        var all = Cli.run("wal", "dump", data.resolve("wal").toString(), "--decode", "--format", "json");
        assertThat(all.exit()).as(all.toString()).isZero();
        assertThat(all.out()).contains("\"op\":\"PUT\"", "\"key\":\"key-7\"", "\"value\":\"value-7-2\"", "\"kind\":\"DATA\"", "\"kind\":\"BARRIER\"",
                "\"epoch\":", "\"sequence\":");
        assertThat(all.out().lines()).allMatch(line -> line.startsWith("{\"log\":"));
        var from = Cli.run("wal", "dump", data.resolve("wal").toString(), "--core", "1", "--from", "4096", "--limit", "1");
        assertThat(from.out()).containsPattern("core-0001 pos (\\d+) ");
    }

    @Test
    void verifyOfACleanDirectory() throws Exception {
        var result = Cli.run("wal", "verify", data.resolve("wal").toString());
        assertThat(result.exit()).as(result.toString()).isZero();
        assertThat(result.out()).contains("core-0000: OK", "core-0001: OK", "no corruption found");
        assertThat(result.err()).isEmpty(); // no progress bar without a terminal
    }

    @Test
    void errorsAreOneOrTwoLinesWithExitCode2() throws Exception {
        var missing = Cli.run("wal", "verify", temp.resolve("nope").toString());
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).isEqualTo("laminar: no such directory: " + temp.resolve("nope") + "\n");
        Files.writeString(temp.resolve("stray.txt"), "x");
        var notLaminar = Cli.run("wal", "ls", temp.toString());
        assertThat(notLaminar.exit()).isEqualTo(2);
        assertThat(notLaminar.err()).contains("is not a laminar WAL directory").doesNotContain("Exception", "\tat ");
        assertThat(notLaminar.err().lines().count()).isLessThanOrEqualTo(2);
        var usage = Cli.run("wal", "dump");
        assertThat(usage.exit()).isEqualTo(2);
        assertThat(usage.err()).contains("Missing required parameter");
        var verbose = Cli.run("wal", "ls", temp.toString(), "--verbose");
        assertThat(verbose.err()).contains("CliException");
    }

    @Test
    void corruptionIsFoundAsRecoveryFindsItAndRepairCutsItOnlyWithYes() throws Exception {
        var dir = copy(data.resolve("wal"), temp.resolve("wal"));
        var segment = dir.resolve("core-0000-00000000000000000000.wal");
        flip(segment, 64 + 24 + 2); // the payload of the first record, which later records show was synced

        // The library refuses to open the log: the CLI must agree.
        assertThatThrownBy(() -> RuntimeData.openWal(dir).close()).isInstanceOf(WalCorruptionException.class);
        var verify = Cli.run("wal", "verify", dir.toString());
        assertThat(verify.exit()).as(verify.toString()).isEqualTo(1);
        assertThat(verify.out()).contains("core-0000: CORRUPT", segment.toString(), "file offset 64", "stored CRC32C 0x",
                "computed 0x", "core-0001: OK", "damage found");
        var json = Cli.run("wal", "verify", dir.toString(), "--json");
        assertThat(json.exit()).isEqualTo(1);
        assertThat(json.out()).contains("\"storedCrc32c\"", "\"status\" : \"CORRUPT\"", "\"fileOffset\" : 64");

        var before = snapshot(dir);
        var plan = Cli.run("wal", "repair", dir.toString());
        assertThat(plan.exit()).as(plan.toString()).isEqualTo(1);
        assertThat(plan.out()).contains("would cut from position 0", "core-0000-00000000000000000000.wal.dropped-64",
                "Nothing was changed");
        assertThat(snapshot(dir)).isEqualTo(before);

        // While the application holds the log, --yes refuses and changes nothing.
        try (var channel = FileChannel.open(dir.resolve("core-0000.lock"), StandardOpenOption.WRITE);
             var lock = channel.lock()) {
            var refused = Cli.run("wal", "repair", dir.toString(), "--yes");
            assertThat(refused.exit()).as(refused.toString()).isEqualTo(2);
            assertThat(refused.err()).contains("stop the application");
            // The read-only commands work beside it.
            assertThat(Cli.run("wal", "verify", dir.toString()).exit()).isEqualTo(1);
        }
        assertThat(snapshot(dir)).isEqualTo(before);

        var repaired = Cli.run("wal", "repair", dir.toString(), "--yes");
        assertThat(repaired.exit()).as(repaired.toString()).isZero();
        assertThat(repaired.out()).contains("cut from position 0", "Repaired");
        assertThat(dir.resolve("core-0000-00000000000000000000.wal.dropped-64")).exists();
        assertThat(Cli.run("wal", "verify", dir.toString()).exit()).isZero();
        RuntimeData.openWal(dir).close(); // the library opens it again
    }

    @Test
    void progressBarInAPseudoTerminal() throws Exception {
        var command = String.join(" ", Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                Cli.jar().toString(), "wal", "verify", data.resolve("wal").toString());
        var result = Cli.exec(List.of("script", "-qec", command, "/dev/null"), Map.of());
        assertThat(result.exit()).as(result.toString()).isZero();
        assertThat(result.out()).contains("verify [", "ETA", "/s", "no corruption found");
    }

    static Path copy(Path from, Path to) throws IOException {
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (var file : files.toList()) {
                if (Files.isRegularFile(file)) {
                    Files.copy(file, to.resolve(file.getFileName()));
                }
            }
        }
        return to;
    }

    static void flip(Path file, long offset) throws IOException {
        try (var raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(offset);
            int b = raf.read();
            raf.seek(offset);
            raf.write(b ^ 0x5a);
        }
    }

    static Map<String, Long> snapshot(Path dir) throws IOException {
        var map = new TreeMap<String, Long>();
        try (var files = Files.list(dir)) {
            for (var file : files.toList()) {
                var crc = new java.util.zip.CRC32C();
                crc.update(Files.readAllBytes(file));
                map.put(file.getFileName().toString(), crc.getValue());
            }
        }
        return map;
    }
}

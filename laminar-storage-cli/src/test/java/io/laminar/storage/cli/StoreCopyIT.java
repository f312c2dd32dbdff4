package io.laminar.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.checkpoint.RecoveryManager;
import io.laminar.storage.state.StateEntry;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.laminar.storage.store.s3.S3CheckpointStore;
import io.laminar.storage.store.s3.S3ProxyServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** `laminar store copy` between a directory and an S3Proxy bucket, both ways, then a real restore from the copy. */
class StoreCopyIT extends RuntimeDataIT {

    static long newest;
    static S3ProxyServer s3;

    @BeforeAll
    static void produce() throws Exception {
        newest = ids.get(ids.size() - 1);
        s3 = S3ProxyServer.inMemory();
        s3.start();
        s3.createBucket("copy");
    }

    @AfterAll
    static void stop() throws Exception {
        if (s3 != null) {
            s3.close();
        }
    }

    static Cli.Result s3Run(String... args) throws Exception {
        return Cli.runS3(s3, S3ProxyServer.SECRET_KEY, args);
    }

    /** The state a new machine restores from {@code store}: recovery over an empty WAL directory (it adopts). */
    List<Map<String, String>> restore(CheckpointStore store) throws Exception {
        var wal = Files.createTempDirectory(temp, "wal");
        try (var w = RuntimeData.openWal(wal)) {
            var recovered = new RecoveryManager(w, store).recover();
            assertThat(recovered.report().checkpointId()).isEqualTo(newest);
            assertThat(recovered.report().skipped()).isEmpty();
            var states = new ArrayList<Map<String, String>>();
            for (var snapshot : recovered.coreStates()) {
                var map = new java.util.TreeMap<String, String>();
                for (StateEntry e : snapshot) {
                    map.put(new String(e.key()), new String(e.value()));
                }
                states.add(map);
            }
            return states;
        }
    }

    @Test
    void helpHasExamples() throws Exception {
        var help = Cli.run("store", "copy", "--help");
        assertThat(help.exit()).as(help.toString()).isZero();
        assertThat(help.out()).contains("Usage: laminar store copy", "Examples:", "Resumable", "s3://bucket/prefix");
    }

    @Test
    void copyToS3AndBackThenRestoreGivesTheSameState() throws Exception {
        var up = s3Run("store", "copy", data.resolve("checkpoints").toString(), "s3://copy/orders/");
        assertThat(up.exit()).as(up.toString()).isZero();
        assertThat(up.out()).contains("checkpoint " + newest, "copied ", "manifest published, verified");
        var back = temp.resolve("back");
        var down = s3Run("store", "copy", "s3://copy/orders/", back.toString(), Long.toString(newest), "--json");
        assertThat(down.exit()).as(down.toString()).isZero();
        assertThat(down.out()).contains("\"checkpointId\" : " + newest, "\"manifest\" : \"published\"");

        List<Map<String, String>> expected;
        try (var original = FileSystemCheckpointStore.openReadOnly(data.resolve("checkpoints"))) {
            expected = restore(original);
        }
        assertThat(expected.get(0)).containsEntry("key-3", "value-3-1"); // on core 0; the last checkpoint's round
        try (var copy = FileSystemCheckpointStore.open(back)) {
            assertThat(copy.listCheckpoints()).containsExactly(newest);
            assertThat(restore(copy)).isEqualTo(expected);
        }
        try (var bucket = S3CheckpointStore.builder(s3.client(), "copy").prefix("orders/").build()) {
            assertThat(restore(bucket)).isEqualTo(expected);
        }
        var verify = Cli.run("checkpoint", "verify", back.toString());
        assertThat(verify.exit()).as(verify.toString()).isZero();
    }

    @Test
    void anInterruptedCopyResumes() throws Exception {
        var dst = temp.resolve("dst");
        // An interrupted copy: half of the files reached DST, the manifest did not.
        List<String> seeded = new ArrayList<>();
        try (var src = FileSystemCheckpointStore.openReadOnly(data.resolve("checkpoints"));
             var target = FileSystemCheckpointStore.open(dst)) {
            var files = src.readManifest(newest).orElseThrow().files();
            assertThat(files.size()).isGreaterThanOrEqualTo(2);
            for (int i = 0; i < files.size() / 2; i++) {
                try (var in = src.openFile(files.get(i).path())) {
                    target.writeFile(files.get(i).path(), in);
                }
                seeded.add(files.get(i).path());
            }
            assertThat(target.listCheckpoints()).isEmpty();
        }
        var resumed = Cli.run("store", "copy", data.resolve("checkpoints").toString(), dst.toString(), "--json");
        assertThat(resumed.exit()).as(resumed.toString()).isZero();
        var json = RecoverCommandIT.JSON.readTree(resumed.out());
        var skipped = new ArrayList<String>();
        json.get("skipped").forEach(n -> skipped.add(n.asString()));
        assertThat(skipped).containsExactlyElementsOf(seeded);
        assertThat(json.get("copied").size()).isPositive();

        var again = Cli.run("store", "copy", data.resolve("checkpoints").toString(), dst.toString());
        assertThat(again.exit()).as(again.toString()).isZero();
        assertThat(again.out()).contains("0 files copied", "manifest already there");
        try (var copy = FileSystemCheckpointStore.open(dst);
             var original = FileSystemCheckpointStore.openReadOnly(data.resolve("checkpoints"))) {
            assertThat(restore(copy)).isEqualTo(restore(original));
        }
    }

    @Test
    void aCopyIntoADataDirectoryLandsInItsCheckpointsDirectory() throws Exception {
        // A new machine's laminar.storage.dir: the application reads <dir>/checkpoints, so must the copy.
        var dataDir = temp.resolve("new-machine");
        Files.createDirectories(dataDir.resolve("wal"));
        var copy = Cli.run("store", "copy", data.resolve("checkpoints").toString(), dataDir.toString());
        assertThat(copy.exit()).as(copy.toString()).isZero();
        assertThat(dataDir.resolve("manifests")).doesNotExist();
        try (var copied = FileSystemCheckpointStore.openReadOnly(dataDir.resolve("checkpoints"))) {
            assertThat(copied.listCheckpoints()).containsExactly(newest);
        }
    }

    @Test
    void aDamagedSourceFileIsNotPublished() throws Exception {
        var src = RuntimeData.copyTree(data.resolve("checkpoints"), temp.resolve("src"));
        Path victim;
        try (var files = Files.walk(src.resolve("state"))) {
            victim = files.filter(f -> f.getFileName().toString().startsWith(String.format("%020d", newest)))
                    .findFirst().orElseThrow();
        }
        WalCommandsIT.flip(victim, Files.size(victim) / 2);
        var dst = temp.resolve("dst");
        var result = Cli.run("store", "copy", src.toString(), dst.toString());
        assertThat(result.exit()).as(result.toString()).isEqualTo(1);
        assertThat(result.err()).contains(victim.getFileName().toString()).doesNotContain("\tat ");
        try (var target = FileSystemCheckpointStore.open(dst)) {
            assertThat(target.listCheckpoints()).isEmpty();
            assertThat(target.listFiles()).doesNotContain(src.relativize(victim).toString().substring("state/".length()));
        }
    }
}

package io.laminar.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.checkpoint.RecoveryManager;
import io.laminar.storage.checkpoint.RecoveryReport;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * `laminar recover --dry-run` says what the library's recovery then really does: the same
 * checkpoint, the same skipped checkpoints and reasons, the same records per core, the same adoption.
 */
class RecoverCommandIT extends RuntimeDataIT { // data: a third round of writes after the last checkpoint

    static final JsonMapper JSON = JsonMapper.builder().build();

    static JsonNode dryRun(Path wal, Path store, int expectedExit) throws Exception {
        var result = Cli.run("recover", "--dry-run", "--dir", wal.toString(), "--store", store.toString(), "--json");
        assertThat(result.exit()).as(result.toString()).isEqualTo(expectedExit);
        return JSON.readTree(result.out());
    }

    /** Really recovers with the library and checks that the dry run said exactly this. */
    static RecoveryReport recoverAndCompare(JsonNode dry, Path wal, Path store) throws Exception {
        RecoveryReport report;
        try (var w = RuntimeData.openWal(wal); var s = FileSystemCheckpointStore.open(store)) {
            report = new RecoveryManager(w, s).recover().report();
        }
        assertThat(dry.get("wouldFail").asBoolean()).isFalse();
        assertThat(dry.get("checkpointId").isNull() ? null : dry.get("checkpointId").asLong())
                .isEqualTo(report.checkpointId());
        assertThat(dry.get("adopt").asBoolean()).isEqualTo(report.adoptedCheckpoint());
        var skipped = new ArrayList<Map.Entry<Long, String>>();
        dry.get("skipped").forEach(k -> skipped.add(Map.entry(k.get("checkpointId").asLong(), k.get("reason").asString())));
        assertThat(skipped).containsExactlyElementsOf(
                report.skipped().stream().map(k -> Map.entry(k.checkpointId(), k.reason())).toList());
        var perCore = new ArrayList<Long>();
        dry.get("recordsReplayedPerCore").forEach(n -> perCore.add(n.asLong()));
        assertThat(perCore).isEqualTo(report.recordsReplayedPerCore());
        assertThat(dry.get("recordsReplayed").asLong()).isEqualTo(report.recordsReplayed());
        return report;
    }

    @Test
    void helpHasExamples() throws Exception {
        var help = Cli.run("recover", "--help");
        assertThat(help.exit()).as(help.toString()).isZero();
        assertThat(help.out().replaceAll("\\s+", " ")).contains("Usage: laminar recover", "--dry-run", "Examples:",
                "never takes the WAL lock");
        var noDryRun = Cli.run("recover", "--dir", data.toString(), "--store", data.resolve("checkpoints").toString());
        assertThat(noDryRun.exit()).isEqualTo(2);
        assertThat(noDryRun.err()).contains("--dry-run");
    }

    @Test
    void dryRunChangesNothingWorksBesideTheLockAndAgreesWithRecovery() throws Exception {
        var dir = RuntimeData.copyTree(data, temp.resolve("data"));
        var wal = dir.resolve("wal");
        var before = WalCommandsIT.snapshot(wal);
        JsonNode dry;
        var text = (Cli.Result) null;
        var locks = new ArrayList<FileLock>();
        var channels = new ArrayList<FileChannel>();
        try {
            for (var core : List.of("core-0000.lock", "core-0001.lock")) { // as a running application holds them
                var channel = FileChannel.open(wal.resolve(core), StandardOpenOption.WRITE, StandardOpenOption.CREATE);
                channels.add(channel);
                locks.add(channel.lock());
            }
            dry = dryRun(dir, dir.resolve("checkpoints"), 0); // a laminar.storage.dir works for --dir too
            text = Cli.run("recover", "--dry-run", "--dir", wal.toString(), "--store", dir.resolve("checkpoints").toString());
        } finally {
            for (var lock : locks) {
                lock.release();
            }
            for (var channel : channels) {
                channel.close();
            }
        }
        assertThat(WalCommandsIT.snapshot(wal)).isEqualTo(before);
        assertThat(text.exit()).as(text.toString()).isZero();
        assertThat(text.out()).contains("Dry run: nothing was changed.", "would restore checkpoint " + dry.get("checkpointId"),
                "core 0: ", "records replayed from position");
        assertThat(dry.get("recordsReplayed").asLong()).isEqualTo(40); // the round after the last checkpoint
        var report = recoverAndCompare(dry, wal, dir.resolve("checkpoints"));
        assertThat(report.adoptedCheckpoint()).isFalse();
    }

    @Test
    void aDamagedCheckpointIsSkippedForTheSameReason() throws Exception {
        var dir = RuntimeData.copyTree(data, temp.resolve("data"));
        var store = dir.resolve("checkpoints");
        long newest;
        try (var s = FileSystemCheckpointStore.openReadOnly(store)) {
            var ids = s.listCheckpoints();
            newest = ids.get(ids.size() - 1);
        }
        Path victim;
        try (var files = Files.walk(store.resolve("state"))) {
            victim = files.filter(f -> f.getFileName().toString().startsWith(String.format("%020d", newest)))
                    .findFirst().orElseThrow();
        }
        WalCommandsIT.flip(victim, Files.size(victim) / 2);
        var dry = dryRun(dir.resolve("wal"), store, 1);
        assertThat(dry.get("skipped").get(0).get("checkpointId").asLong()).isEqualTo(newest);
        assertThat(dry.get("skipped").get(0).get("reason").asString()).contains(victim.getFileName().toString());
        recoverAndCompare(dry, dir.resolve("wal"), store);
    }

    @Test
    void aNewMachineWouldAdopt() throws Exception {
        var store = RuntimeData.copyTree(data.resolve("checkpoints"), temp.resolve("checkpoints"));
        var wal = Files.createDirectories(temp.resolve("new-wal"));
        var dry = dryRun(wal, store, 0);
        assertThat(dry.get("adopt").asBoolean()).isTrue();
        assertThat(wal).isEmptyDirectory(); // the dry run created nothing
        var text = Cli.run("recover", "--dry-run", "--dir", wal.toString(), "--store", store.toString());
        assertThat(text.out()).contains("ADOPT");
        assertThat(recoverAndCompare(dry, wal, store).adoptedCheckpoint()).isTrue();
    }

    @Test
    void aRecoveryThatWouldFailSaysWhy() throws Exception {
        var dir = RuntimeData.copyTree(data, temp.resolve("data"));
        WalCommandsIT.flip(dir.resolve("wal/core-0000-00000000000000000000.wal"), 64 + 24 + 2);
        var result = Cli.run("recover", "--dry-run", "--dir", dir.resolve("wal").toString(), "--store",
                dir.resolve("checkpoints").toString());
        assertThat(result.exit()).as(result.toString()).isEqualTo(1);
        assertThat(result.out()).contains("recovery would fail", "core-0000-00000000000000000000.wal");
    }
}

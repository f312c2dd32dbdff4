package io.laminar.storage.checkpoint;

import static io.laminar.storage.checkpoint.CoreThreads.render;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.laminar.storage.store.s3.S3CheckpointStore;
import io.laminar.storage.store.s3.S3ProxyServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Restoring on another machine: machines are data directories of their own (a WAL each) that share
 * one checkpoint store, an S3 bucket on S3Proxy (and, for the cases that are about the WAL alone, a
 * directory). A machine with an empty directory restores the newest checkpoint exactly, its sources
 * resume from the checkpoint's offsets, and it carries on writing and checkpointing from there.
 */
class RestoreOnAnotherMachineTest {

    private static final int CORES = 2;
    private static S3ProxyServer server;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startServer() throws Exception {
        server = S3ProxyServer.inMemory();
        server.createBucket("machines");
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.close();
    }

    /** A machine's connection to the shared bucket: its own client, as another process would have. */
    private record Bucket(S3Client client, S3CheckpointStore store) implements AutoCloseable {
        static Bucket connect(String prefix) {
            var client = server.client();
            return new Bucket(client, S3CheckpointStore.builder(client, "machines").prefix(prefix).build());
        }

        @Override
        public void close() {
            store.close();
            client.close();
        }
    }

    private static byte[] value(int i) {
        var v = new byte[200 + i % 50];
        Arrays.fill(v, (byte) i);
        return v;
    }

    private static StateCheckpointCoordinator.Builder coordinator(CoreThreads cores, CheckpointStore store) {
        return StateCheckpointCoordinator.builder(cores.wal, cores.drainer, store).barrierTimeout(Duration.ofSeconds(10))
                .retainedCheckpoints(5);
    }

    private static RecoveredState recover(Path walDir, CheckpointStore store) throws IOException {
        try (var wal = PerCoreWalManager.open(walDir, CoreThreads.walOptions(CORES))) {
            return new RecoveryManager(wal, store).recover();
        }
    }

    /** Where each core's source resumes: the checkpoint's offset plus what the WAL replay added. */
    private static long[] operations(RecoveredState recovered) {
        var ops = new long[CORES];
        for (int core = 0; core < CORES; core++) {
            var source = recovered.sources().get(CoreChains.name(core));
            ops[core] = (source == null ? 0 : Long.parseLong(source.offsets().get("ops")))
                    + recovered.report().recordsReplayedPerCore().get(core);
        }
        return ops;
    }

    private static List<List<String>> states(CoreThreads cores) {
        return List.of(render(cores.state(0)), render(cores.state(1)));
    }

    private static List<List<String>> states(RecoveredState recovered) {
        return List.of(render(recovered.coreStates().get(0)), render(recovered.coreStates().get(1)));
    }

    @Test
    void anEmptyMachineRestoresTheNewestCheckpointExactlyResumesItsSourcesAndCarriesOn() throws Exception {
        var dirA = tmp.resolve("machine-a/wal");
        var dirB = tmp.resolve("machine-b/wal");
        var dirC = tmp.resolve("machine-c/wal");
        CheckpointManifest first;
        CheckpointManifest newest;
        List<List<String>> atNewest;
        try (var bucket = Bucket.connect("app");
             var cores = new CoreThreads(dirA, CORES, null, null);
             var checkpoints = coordinator(cores, bucket.store()).build()) {
            for (int i = 0; i < 120; i++) {
                cores.putDurably(i % CORES, "k" + i, value(i));
            }
            first = checkpoints.triggerCheckpoint().join();
            for (int i = 0; i < 40; i++) {
                cores.putDurably(i % CORES, "k" + (i * 3), value(1000 + i));
            }
            cores.deleteDurably(0, "k2");
            cores.deleteDurably(1, "k5");
            atNewest = states(cores);
            newest = checkpoints.triggerCheckpoint().join();
            // Machine A goes on after its last checkpoint; these changes are in its local WAL only.
            for (int i = 0; i < 30; i++) {
                cores.putDurably(i % CORES, "lost" + i, value(i));
            }
            assertThat(states(cores)).isNotEqualTo(atNewest);
        }
        assertThat(newest.parentCheckpointId()).isEqualTo(first.checkpointId()); // a delta on top of the first

        // Machine B: an empty data directory, the same bucket.
        CheckpointManifest continued;
        List<List<String>> atContinued;
        List<List<String>> finalB;
        try (var bucket = Bucket.connect("app")) {
            RecoveredState restored;
            try (var wal = PerCoreWalManager.open(dirB, CoreThreads.walOptions(CORES))) {
                restored = new RecoveryManager(wal, bucket.store()).recover();
                // The new WAL continues from the checkpoint's positions: they never go backwards.
                assertThat(wal.startPositions().toArray()).containsExactly(
                        newest.walPositions().stream().mapToLong(Long::longValue).toArray());
            }
            assertThat(restored.report().checkpointId()).isEqualTo(newest.checkpointId());
            assertThat(restored.report().adoptedCheckpoint()).as("restored A's checkpoint into B's empty WAL").isTrue();
            assertThat(restored.report().skipped()).isEmpty();
            assertThat(restored.report().recordsReplayed()).isZero();
            assertThat(states(restored)).isEqualTo(atNewest);
            assertThat(restored.sources()).isEqualTo(newest.sources());
            assertThat(restored.sources().get("core-0000").offsets()).containsEntry("ops", "81"); // 60 + 20 + 1
            assertThat(restored.sources().get("core-0001").offsets()).containsEntry("ops", "81");
            assertThat(restored.epoch()).isEqualTo(newest.epoch());

            // B resumes its sources from the checkpoint's offsets and carries on writing and checkpointing.
            try (var cores = new CoreThreads(dirB, CORES, restored.coreStates(), operations(restored));
                 var checkpoints = coordinator(cores, bucket.store()).resumeFrom(restored).build()) {
                for (int i = 0; i < 20; i++) {
                    cores.putDurably(i % CORES, "b" + i, value(500 + i));
                }
                cores.deleteDurably(0, "k0");
                atContinued = states(cores);
                continued = checkpoints.triggerCheckpoint().join();
                cores.putDurably(1, "after-b", value(7)); // in B's WAL only
                finalB = states(cores);
            }
        }
        assertThat(continued.checkpointId()).isGreaterThan(newest.checkpointId());
        assertThat(continued.epoch()).isGreaterThan(newest.epoch());
        for (int core = 0; core < CORES; core++) {
            assertThat(continued.walPositions().get(core)).isGreaterThan(newest.walPositions().get(core));
        }
        // B's checkpoint continues A's chains with deltas rather than rewriting the state.
        assertThat(continued.parentCheckpointId()).isEqualTo(newest.checkpointId());
        assertThat(continued.operators().get("core-0000").stateFiles())
                .startsWith(newest.operators().get("core-0000").stateFiles().toArray(String[]::new));
        assertThat(continued.sources().get("core-0000").offsets()).containsEntry("ops", "92"); // 81 + 10 + 1

        try (var bucket = Bucket.connect("app")) {
            // B restarts on its own directory: its checkpoint plus its own WAL, as any restart.
            var again = recover(dirB, bucket.store());
            assertThat(again.report().checkpointId()).isEqualTo(continued.checkpointId());
            assertThat(again.report().adoptedCheckpoint()).as("B's own checkpoint and WAL").isFalse();
            assertThat(again.report().recordsReplayedPerCore()).containsExactly(0L, 1L);
            assertThat(states(again)).isEqualTo(finalB);

            // Machine C, empty again, sees B's newer checkpoint.
            var third = recover(dirC, bucket.store());
            assertThat(third.report().checkpointId()).isEqualTo(continued.checkpointId());
            assertThat(third.report().adoptedCheckpoint()).isTrue();
            assertThat(states(third)).isEqualTo(atContinued);
            assertThat(third.sources()).isEqualTo(continued.sources());
        }
    }

    @Test
    void aCheckpointTakenWithAnotherWalIsNeverReplayedAgainstThisOne() throws Exception {
        var dirA = tmp.resolve("a/wal");
        var dirB = tmp.resolve("b/wal");
        var store = FileSystemCheckpointStore.open(tmp.resolve("store"));
        CheckpointManifest older;
        CheckpointManifest newer;
        try (var cores = new CoreThreads(dirA, CORES, null, null);
             var checkpoints = coordinator(cores, store).build()) {
            for (int i = 0; i < 20; i++) {
                cores.putDurably(i % CORES, "a" + i, value(i));
            }
            older = checkpoints.triggerCheckpoint().join();
            for (int i = 0; i < 20; i++) {
                cores.putDurably(i % CORES, "a" + i, value(100 + i));
            }
            newer = checkpoints.triggerCheckpoint().join();
        }
        // The newer manifest is unreadable when B restores, so B adopts the older one...
        var manifest = store.manifestFile(newer.checkpointId());
        var good = Files.readAllBytes(manifest);
        Files.write(manifest, Arrays.copyOf(good, good.length / 2));
        var restored = recover(dirB, store);
        assertThat(restored.report().checkpointId()).isEqualTo(older.checkpointId());
        assertThat(restored.report().adoptedCheckpoint()).isTrue();
        List<List<String>> finalB;
        // ...and writes far past the newer checkpoint's positions before it restarts.
        try (var cores = new CoreThreads(dirB, CORES, restored.coreStates(), operations(restored))) {
            for (int i = 0; i < 200; i++) {
                cores.putDurably(i % CORES, "b" + i, value(i));
            }
            finalB = states(cores);
            for (int core = 0; core < CORES; core++) {
                assertThat(cores.wal.durablePosition(core)).isGreaterThan(newer.walPositions().get(core));
            }
        }
        Files.write(manifest, good); // readable again

        var again = recover(dirB, store);

        // The newer checkpoint's positions lie inside B's WAL, but name B's records, not A's barriers.
        assertThat(again.report().skipped()).singleElement().satisfies(s -> {
            assertThat(s.checkpointId()).isEqualTo(newer.checkpointId());
            assertThat(s.reason()).contains("taken with another WAL");
        });
        assertThat(again.report().checkpointId()).isEqualTo(older.checkpointId());
        assertThat(again.report().adoptedCheckpoint()).as("B replays its own WAL from the checkpoint it adopted")
                .isFalse();
        assertThat(states(again)).isEqualTo(finalB);
    }

    @Test
    void anAdoptionThatACrashInterruptedIsCompletedByTheNextRecovery() throws Exception {
        var dirA = tmp.resolve("a/wal");
        var dirB = tmp.resolve("b/wal");
        var store = FileSystemCheckpointStore.open(tmp.resolve("store"));
        CheckpointManifest checkpoint;
        List<List<String>> atCheckpoint;
        try (var cores = new CoreThreads(dirA, CORES, null, null);
             var checkpoints = coordinator(cores, store).build()) {
            for (int i = 0; i < 30; i++) {
                cores.putDurably(i % CORES, "k" + i, value(i));
            }
            atCheckpoint = states(cores);
            checkpoint = checkpoints.triggerCheckpoint().join();
        }
        assertThat(recover(dirB, store).report().adoptedCheckpoint()).isTrue();
        // As if the machine died after core 0 was adopted but before core 1 was: core 1's log is new again.
        try (var files = Files.list(dirB)) {
            for (var file : files.filter(f -> f.getFileName().toString().startsWith("core-0001-")).toList()) {
                Files.delete(file);
            }
        }

        var restored = recover(dirB, store);

        assertThat(restored.report().checkpointId()).isEqualTo(checkpoint.checkpointId());
        assertThat(restored.report().adoptedCheckpoint()).as("core 1 is adopted now").isTrue();
        assertThat(states(restored)).isEqualTo(atCheckpoint);
        try (var wal = PerCoreWalManager.open(dirB, CoreThreads.walOptions(CORES))) {
            assertThat(wal.startPositions().toArray()).containsExactly(
                    checkpoint.walPositions().stream().mapToLong(Long::longValue).toArray());
            assertThat(wal.epoch()).isEqualTo(checkpoint.epoch());
        }
        // Once adopted, the directory restores like any other: a third recovery changes nothing, and
        // adopts nothing (the WAL holds the checkpoint's barriers: it replays from them, as any restart).
        var third = recover(dirB, store);
        assertThat(states(third)).isEqualTo(atCheckpoint);
        assertThat(third.report().checkpointId()).isEqualTo(checkpoint.checkpointId());
        assertThat(third.report().adoptedCheckpoint()).isFalse();
        assertThat(third.report().recordsReplayed()).isZero();
    }

    @Test
    void aWalWithRecordsOfItsOwnIsNeverAdoptedOver() throws Exception {
        var dirA = tmp.resolve("a/wal");
        var dirB = tmp.resolve("b/wal");
        var store = FileSystemCheckpointStore.open(tmp.resolve("store"));
        try (var cores = new CoreThreads(dirA, CORES, null, null);
             var checkpoints = coordinator(cores, store).build()) {
            for (int i = 0; i < 30; i++) {
                cores.putDurably(i % CORES, "a" + i, value(i));
            }
            checkpoints.triggerCheckpoint().join();
        }
        List<List<String>> ownState;
        try (var cores = new CoreThreads(dirB, CORES, null, null)) {
            cores.putDurably(0, "own", value(1)); // B has a history of its own
            ownState = states(cores);
        }

        var recovered = recover(dirB, store);

        // A's checkpoint needs records B does not hold: skipped, and B's WAL is recovered as it is.
        assertThat(recovered.report().checkpointId()).isNull();
        assertThat(recovered.report().adoptedCheckpoint()).isFalse();
        assertThat(recovered.report().skipped()).singleElement().extracting(SkippedCheckpoint::reason).asString()
                .containsAnyOf("ends at", "taken with another WAL");
        assertThat(states(recovered)).isEqualTo(ownState);

        // Nor can it be made to adopt one by hand.
        try (var wal = PerCoreWalManager.open(dirB, CoreThreads.walOptions(CORES))) {
            assertThatThrownBy(() -> wal.adoptCheckpoint(io.laminar.storage.percore.CorePositions.of(1 << 20, 1 << 20),
                    99)).isInstanceOf(IllegalStateException.class).hasMessageContaining("holds records of its own");
        }
    }
}

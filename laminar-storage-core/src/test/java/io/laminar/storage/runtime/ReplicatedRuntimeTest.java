package io.laminar.storage.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.FencedException;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.replication.ChangeReplicator;
import io.laminar.storage.replication.MemoryReplicator;
import io.laminar.storage.replication.ReplicationTimeoutException;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runtime's side of replicated durability, over real WALs and a real file-system store, with
 * the in-memory {@link MemoryReplicator} standing for the replicated log (Kafka is tested in
 * {@code laminar-storage-kafka}).
 */
@Timeout(60)
class ReplicatedRuntimeTest {

    private static final int CORES = 2;

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();
    private final MemoryReplicator.Log log = new MemoryReplicator.Log();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            try {
                open.get(i).close();
            } catch (RuntimeException e) {
                // a fenced runtime refuses to close cleanly; what the test checks happened before
            }
        }
        open.clear();
    }

    private PerCoreWalManager wal(String name) {
        var wal = PerCoreWalManager.open(dir.resolve(name),
                PerCoreWalOptions.builder().cores(CORES).maxEntrySize(64 * 1024)
                        .wal(w -> w.segmentSize(1 << 20)).build());
        open.add(wal);
        return wal;
    }

    private CheckpointStore store() {
        try {
            var store = FileSystemCheckpointStore.open(dir.resolve("checkpoints"));
            open.add(store);
            return store;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private LaminarRuntime start(String walName, MemoryReplicator replicator) {
        var runtime = LaminarRuntime.builder(wal(walName), store()).replicator(replicator).build();
        open.add(runtime);
        runtime.start();
        return runtime;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static CompletableFuture<Void> put(LaminarRuntime runtime, String key, String value) {
        var k = bytes(key);
        return runtime.submitDurable(runtime.coreOf(k), c -> {
            c.store().put(k, bytes(value));
            return null;
        });
    }

    private static Map<String, String> contents(LaminarRuntime runtime) {
        var all = new TreeMap<String, String>();
        for (int core = 0; core < runtime.cores(); core++) {
            runtime.submit(core, c -> {
                c.store().forEach((k, v) -> {
                    synchronized (all) {
                        all.put(new String(k, StandardCharsets.UTF_8), new String(v, StandardCharsets.UTF_8));
                    }
                });
                return null;
            }).join();
        }
        return all;
    }

    @Test
    void aRescaledStateIsRefusedWithAReplicatorBeforeAnythingStarts() throws Exception {
        var rescaled = new io.laminar.storage.checkpoint.RecoveredState(List.of(), Map.of(), Map.of(), 1,
                new io.laminar.storage.checkpoint.RecoveryReport(null, false, List.of(), 0, 0, List.of(),
                        Duration.ZERO), null, List.of());
        var builder = LaminarRuntime.builder(wal("wal"), store()).recovered(rescaled)
                .replicator(new MemoryReplicator(log, Duration.ofSeconds(30)));
        assertThatThrownBy(builder::build).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cannot start from a rescaled state")
                .hasMessageContaining("Rescaler.openReplicated");
        assertThat(log.records()).isEmpty();
    }

    @Test
    void aDurableFutureWaitsForTheReplicaAfterTheLocalFsync() throws Exception {
        var replicator = new MemoryReplicator(log, Duration.ofSeconds(30));
        var runtime = start("wal", replicator);
        replicator.hold();
        var future = put(runtime, "k", "v");
        // Long enough for the local fdatasync (group commit lingers 1 ms); the replica is held.
        Thread.sleep(300);
        assertThat(future).isNotDone();
        assertThat(log.records()).isEmpty();
        replicator.release();
        future.get(10, TimeUnit.SECONDS);
        assertThat(log.records()).hasSize(1);
    }

    @Test
    void aReplicaThatTimesOutFailsTheDurableFutureAndIsRetriedInOrder() throws Exception {
        var replicator = new MemoryReplicator(log, Duration.ofMillis(300));
        var runtime = start("wal", replicator);
        replicator.hold();
        var late = put(runtime, "a", "1");
        assertThatThrownBy(() -> late.get(10, TimeUnit.SECONDS)).cause()
                .isInstanceOf(ReplicationTimeoutException.class)
                .hasMessageContaining("not acknowledged by the replicas within PT0.3S")
                .hasMessageContaining("held by the test");
        replicator.release();
        put(runtime, "b", "2").get(10, TimeUnit.SECONDS);
        // The timed-out change was not dropped: the replica holds both, in order, once each.
        assertThat(log.records()).hasSize(2);
        assertThat(contents(runtime)).containsExactlyInAnyOrderEntriesOf(Map.of("a", "1", "b", "2"));
    }

    @Test
    void aFencedReplicatorFailsTheRuntimeAndEveryLaterDurableTask() throws Exception {
        var oldOwner = new MemoryReplicator(log, Duration.ofSeconds(30));
        var runtime = start("wal-a", oldOwner);
        put(runtime, "before", "1").get(10, TimeUnit.SECONDS);
        new MemoryReplicator(log, Duration.ofSeconds(30)).open(CORES); // a new owner fences it

        var fenced = put(runtime, "after", "2");
        assertThatThrownBy(() -> fenced.get(10, TimeUnit.SECONDS)).cause().isInstanceOf(FencedException.class);
        assertThat(runtime.failure()).get().isInstanceOf(FencedException.class);
        // Nothing more is acknowledged, not even a durable task that changes nothing.
        var readOnly = runtime.submitDurable(0, c -> c.store().size());
        assertThatThrownBy(() -> readOnly.get(10, TimeUnit.SECONDS)).cause().isInstanceOf(FencedException.class);
        var another = put(runtime, "later", "3");
        assertThatThrownBy(() -> another.get(10, TimeUnit.SECONDS)).isInstanceOf(Exception.class);
        assertThat(log.records()).extracting(r -> new String(r.change(), StandardCharsets.UTF_8))
                .noneMatch(c -> c.contains("after") || c.contains("later"));
    }

    @Test
    void aFencedOwnerCanNeitherPublishACheckpointNorDeleteAFileOfTheNewOwner() throws Exception {
        var a = LaminarRuntime.builder(wal("wal-a"), store()).replicator(new MemoryReplicator(log, Duration.ofSeconds(30)))
                .checkpoints(c -> c.retainedCheckpoints(1)).build();
        open.add(a);
        a.start();
        put(a, "k", "a").get(10, TimeUnit.SECONDS);
        a.triggerCheckpoint().get(10, TimeUnit.SECONDS);

        var b = start("wal-b", new MemoryReplicator(log, Duration.ofSeconds(30))); // claims a newer owner epoch
        put(b, "k", "b").get(10, TimeUnit.SECONDS);
        b.triggerCheckpoint().get(10, TimeUnit.SECONDS);
        var checkpoints = store().listCheckpoints();
        var files = store().listFiles();

        // A's next checkpoint (its retention would delete all but one) is refused, and fails A.
        assertThatThrownBy(() -> a.triggerCheckpoint().get(10, TimeUnit.SECONDS)).cause()
                .isInstanceOf(io.laminar.storage.FencedException.class);
        assertThat(a.failure()).get().isInstanceOf(io.laminar.storage.FencedException.class);
        assertThat(store().listCheckpoints()).isEqualTo(checkpoints);
        assertThat(store().listFiles()).containsAll(files);
    }

    @Test
    void aTakeoverRestoresTheCheckpointAndEveryReplicatedChangeAfterItExactlyOnce() throws Exception {
        var a = start("wal-a", new MemoryReplicator(log, Duration.ofSeconds(30)));
        var expected = new TreeMap<String, String>();
        for (int i = 0; i < 50; i++) {
            put(a, "key-" + i, "v" + i).get(10, TimeUnit.SECONDS);
            expected.put("key-" + i, "v" + i);
        }
        var first = a.triggerCheckpoint().get(10, TimeUnit.SECONDS);
        assertThat(first.sources()).containsKey(ChangeReplicator.SOURCE_NAME);
        for (int i = 40; i < 60; i++) {
            put(a, "key-" + i, "w" + i).get(10, TimeUnit.SECONDS);
            expected.put("key-" + i, "w" + i);
        }
        var k = bytes("key-3");
        a.submitDurable(a.coreOf(k), c -> c.store().delete(k)).get(10, TimeUnit.SECONDS);
        expected.remove("key-3");
        // Core 0 is cleared, then written again: the clear must not erase what came after it.
        a.submitDurable(0, c -> {
            c.store().clear();
            return null;
        }).get(10, TimeUnit.SECONDS);
        expected.keySet().removeIf(key -> a.coreOf(bytes(key)) == 0);
        for (int i = 100; i < 110; i++) {
            put(a, "key-" + i, "x" + i).get(10, TimeUnit.SECONDS);
            expected.put("key-" + i, "x" + i);
        }
        assertThat(contents(a)).isEqualTo(expected);
        // Machine A is lost: its directory goes with it. Nothing more is written by A.
        closeAll();

        var b = start("wal-b", new MemoryReplicator(log, Duration.ofSeconds(30)));
        var report = b.recoveryReport().orElseThrow();
        assertThat(report.checkpointId()).isEqualTo(first.checkpointId());
        assertThat(report.adoptedCheckpoint()).isTrue();
        assertThat(report.recordsFromReplication()).isEqualTo(20 + 1 + 1 + 10);
        assertThat(contents(b)).isEqualTo(expected);
        // The takeover checkpointed what it restored before serving, and the marker is gone.
        assertThat(store().listCheckpoints()).last().isNotEqualTo(first.checkpointId());
        assertThat(dir.resolve("wal-b").resolve(LaminarRuntime.TAKEOVER_MARKER)).doesNotExist();

        // B serves on; a second takeover (C) gets A's and B's changes.
        put(b, "from-b", "1").get(10, TimeUnit.SECONDS);
        expected.put("from-b", "1");
        closeAll();
        var c = start("wal-c", new MemoryReplicator(log, Duration.ofSeconds(30)));
        assertThat(contents(c)).isEqualTo(expected);
        assertThat(c.recoveryReport().orElseThrow().recordsFromReplication()).isEqualTo(1);
    }

    @Test
    void aTakeoverInterruptedBeforeItsFirstCheckpointIsRepeated() throws Exception {
        var a = start("wal-a", new MemoryReplicator(log, Duration.ofSeconds(30)));
        put(a, "k", "1").get(10, TimeUnit.SECONDS);
        a.triggerCheckpoint().get(10, TimeUnit.SECONDS);
        put(a, "k", "2").get(10, TimeUnit.SECONDS);
        closeAll();
        // B's start crashed after the adoption, before its first checkpoint: the marker is still there.
        Files.createDirectories(dir.resolve("wal-b"));
        Files.createFile(dir.resolve("wal-b").resolve(LaminarRuntime.TAKEOVER_MARKER));
        var b = start("wal-b", new MemoryReplicator(log, Duration.ofSeconds(30)));
        assertThat(contents(b)).containsExactlyEntriesOf(Map.of("k", "2"));
        assertThat(b.recoveryReport().orElseThrow().recordsFromReplication()).isEqualTo(1);
    }

    @Test
    void aRestartOnItsOwnDirectoryReadsNothingFromTheReplicatedLog() throws Exception {
        var a = start("wal-a", new MemoryReplicator(log, Duration.ofSeconds(30)));
        put(a, "k", "1").get(10, TimeUnit.SECONDS);
        closeAll();
        var again = start("wal-a", new MemoryReplicator(log, Duration.ofSeconds(30)));
        assertThat(again.recoveryReport().orElseThrow().recordsFromReplication()).isZero();
        assertThat(contents(again)).containsExactlyEntriesOf(Map.of("k", "1"));
    }

    @Test
    void anOldOwnerRestartedOnItsStaleDirectoryIsRefusedBeforeItFencesAnyone() throws Exception {
        var a = start("wal-a", new MemoryReplicator(log, Duration.ofSeconds(30)));
        put(a, "k", "from-a").get(10, TimeUnit.SECONDS);
        closeAll(); // A stops (its WAL and store too); its directory stays
        var b = start("wal-b", new MemoryReplicator(log, Duration.ofSeconds(30)));
        put(b, "k", "from-b").get(10, TimeUnit.SECONDS);

        var stale = LaminarRuntime.builder(wal("wal-a"), store())
                .replicator(new MemoryReplicator(log, Duration.ofSeconds(30))).build();
        open.add(stale);
        assertThatThrownBy(stale::start).isInstanceOf(io.laminar.storage.StorageException.class)
                .hasMessageContaining("is stale: it last owned its shard with owner epoch 1")
                .hasMessageContaining("owner epoch 2 since")
                .hasMessageContaining("Delete this data directory");
        // B was not fenced: it goes on acknowledging and checkpointing.
        put(b, "k2", "from-b").get(10, TimeUnit.SECONDS);
        b.triggerCheckpoint().get(10, TimeUnit.SECONDS);
        assertThat(b.failure()).isEmpty();
        assertThat(contents(b)).isEqualTo(Map.of("k", "from-b", "k2", "from-b"));
    }

    @Test
    void aTakeoverWithAnotherNumberOfCoresWhoseCheckpointHasNoReplicationPositionsIsRefusedBeforeItFencesAnyone()
            throws Exception {
        // A checkpoint taken without replication: the replicated changes after it cannot be told apart.
        var local = LaminarRuntime.builder(wal("wal-a"), store()).build();
        open.add(local);
        local.start();
        put(local, "k", "before").get(10, TimeUnit.SECONDS);
        local.triggerCheckpoint().get(10, TimeUnit.SECONDS);
        closeAll();

        var otherCores = PerCoreWalManager.open(dir.resolve("wal-b"),
                PerCoreWalOptions.builder().cores(CORES + 1).maxEntrySize(64 * 1024)
                        .wal(w -> w.segmentSize(1 << 20)).build());
        open.add(otherCores);
        var b = LaminarRuntime.builder(otherCores, store())
                .replicator(new MemoryReplicator(log, Duration.ofSeconds(30))).build();
        open.add(b);
        assertThatThrownBy(b::start).isInstanceOf(io.laminar.storage.StorageException.class)
                .hasMessageContaining("with " + (CORES + 1) + " cores")
                .hasMessageContaining("holds no replication positions")
                .hasMessageContaining("Nothing was fenced");
        // Neither the replicated log nor the store was claimed.
        assertThat(log.owner()).isZero();
        assertThat(store().newestOwnerEpoch()).isZero();
    }

    @Test
    void replicatedRecordsAreTruncatedOnlyBehindTheOldestRetainedCheckpoint() throws Exception {
        var replicator = new MemoryReplicator(log, Duration.ofSeconds(30));
        var runtime = LaminarRuntime.builder(wal("wal"), store()).replicator(replicator)
                .checkpoints(c -> c.retainedCheckpoints(2)).build();
        open.add(runtime);
        runtime.start();
        var positions = new ArrayList<Long>();
        for (int round = 0; round < 4; round++) {
            put(runtime, "k" + round, "v").get(10, TimeUnit.SECONDS);
            var manifest = runtime.triggerCheckpoint().get(10, TimeUnit.SECONDS);
            positions.add(Long.parseLong(manifest.sources().get(ChangeReplicator.SOURCE_NAME).offsets().get("0")));
        }
        // Retained: the last two; the log starts at the older one's position.
        assertThat(log.records()).hasSize((int) (4 - positions.get(2)));
        assertThat(replicator.truncations()).isPositive();
    }

    @Test
    void aTakeoverRefusesWhenTheReplicatedLogNoLongerHoldsTheChangesAfterTheCheckpoint() throws Exception {
        var a = start("wal-a", new MemoryReplicator(log, Duration.ofSeconds(30)));
        put(a, "k", "1").get(10, TimeUnit.SECONDS);
        a.triggerCheckpoint().get(10, TimeUnit.SECONDS);
        put(a, "k", "2").get(10, TimeUnit.SECONDS);
        closeAll();
        log.dropBefore(2);
        var runtime = LaminarRuntime.builder(wal("wal-b"), store())
                .replicator(new MemoryReplicator(log, Duration.ofSeconds(30))).build();
        open.add(runtime);
        assertThatThrownBy(runtime::start).hasMessageContaining("are gone");
        assertThat(dir.resolve("wal-b").resolve(LaminarRuntime.TAKEOVER_MARKER)).exists();
    }

}

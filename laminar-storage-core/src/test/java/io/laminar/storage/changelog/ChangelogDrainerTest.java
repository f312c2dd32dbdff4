package io.laminar.storage.changelog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.io.FaultyFileIO;
import io.laminar.storage.percore.CorePositions;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.percore.RecordKind;
import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.StateChangeFormat;
import io.laminar.storage.state.StateEntry;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChangelogDrainerTest {

    @TempDir
    Path dir;

    private PerCoreWalOptions.Builder options(int cores) {
        return PerCoreWalOptions.builder().cores(cores).maxEntrySize(4096).wal(w -> w.segmentSize(256 * 1024));
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Runs random puts, deletes and clears on one core's store; the same seed gives the same operations. */
    private static void randomOperations(ChangelogAwareStateStore store, long seed, int count) {
        var random = new Random(seed);
        for (int i = 0; i < count; i++) {
            int dice = random.nextInt(1000);
            var key = bytes("key-" + random.nextInt(200));
            if (dice == 0) {
                store.clear();
            } else if (dice < 200) {
                store.delete(key);
            } else {
                store.put(key, bytes("value-" + i + "-" + "v".repeat(random.nextInt(100))));
            }
        }
    }

    private static List<StateEntry> contents(ChangelogAwareStateStore store) {
        var out = new ArrayList<StateEntry>();
        store.iterator().forEachRemaining(out::add);
        return out;
    }

    @Test
    void drainerAppendsEveryChangeAndReplayRebuildsEachCoreExactly() throws Exception {
        int cores = 3;
        var live = new ChangelogAwareStateStore[cores];
        try (var wal = PerCoreWalManager.open(dir, options(cores).build());
             var drainer = ChangelogDrainer.start(wal, ChangelogOptions.defaults().withQueueCapacity(64))) {
            var threads = new ArrayList<Thread>();
            for (int core = 0; core < cores; core++) {
                int c = core;
                live[c] = new ChangelogAwareStateStore(drainer.changelog(c));
                threads.add(new Thread(() -> {
                    randomOperations(live[c], 1000 + c, 5000);
                    var changelog = drainer.changelog(c);
                    changelog.whenDurable(changelog.publishedChanges()).join();
                }));
            }
            threads.forEach(Thread::start);
            for (var thread : threads) {
                thread.join();
            }
            for (int core = 0; core < cores; core++) {
                assertThat(drainer.changelog(core).durableChanges()).isEqualTo(drainer.changelog(core).publishedChanges());
            }
            assertThat(drainer.statistics().entriesDrained()).isEqualTo(
                    drainer.changelog(0).publishedChanges() + drainer.changelog(1).publishedChanges()
                            + drainer.changelog(2).publishedChanges());
            assertThat(drainer.statistics().batches()).isPositive();
        }
        try (var wal = PerCoreWalManager.open(dir, options(cores).build())) {
            var restored = new ChangelogAwareStateStore[cores];
            for (int core = 0; core < cores; core++) {
                restored[core] = new ChangelogAwareStateStore(io.laminar.storage.state.ChangelogSink.NONE);
            }
            wal.replay(wal.startPositions(), record -> {
                if (record.kind() == RecordKind.DATA) {
                    StateChangeFormat.apply(record.body(), restored[record.core()].replayer());
                }
            });
            for (int core = 0; core < cores; core++) {
                assertThat(contents(restored[core])).as("core %d", core).isEqualTo(contents(live[core]));
            }
        }
    }

    @Test
    void aSlowDiskMakesRing0WaitAndLosesNothing() throws Exception {
        var io = FaultyFileIO.overSystem().slowWrites(Duration.ofMillis(2), FaultyFileIO.SEGMENTS);
        var walOptions = options(1).maxEntrySize(1024).wal(w -> w.writeBufferSize(4096).fileIO(io)).build();
        var store = (ChangelogAwareStateStore) null;
        try (var wal = PerCoreWalManager.open(dir, walOptions);
             var drainer = ChangelogDrainer.start(wal, ChangelogOptions.defaults().withQueueCapacity(8).withBatchLimit(4))) {
            store = new ChangelogAwareStateStore(drainer.changelog(0));
            for (int i = 0; i < 400; i++) {
                store.put(bytes("k" + (i % 50)), new byte[400]);
            }
            drainer.changelog(0).whenDurable(400).get(60, TimeUnit.SECONDS);
            assertThat(drainer.statistics().backpressureWaits()).isPositive();
            assertThat(drainer.statistics().backpressureWaitNanos()).isPositive();
            assertThat(drainer.statistics().queueDepthHighWaterMark()).isGreaterThanOrEqualTo(4);
            assertThat(drainer.statistics().rejected()).isZero();
        }
        try (var wal = PerCoreWalManager.open(dir, options(1).maxEntrySize(1024).build())) {
            var count = new long[1];
            wal.replay(wal.startPositions(), record -> {
                if (record.kind() == RecordKind.DATA) {
                    count[0]++;
                }
            });
            assertThat(count[0]).isEqualTo(400);
        }
    }

    @Test
    void failPolicyRefusesAChangeWhenTheQueueIsFullAndTheStoreStaysUnchanged() throws Exception {
        var io = FaultyFileIO.overSystem().slowWrites(Duration.ofMillis(20), FaultyFileIO.SEGMENTS);
        var walOptions = options(1).maxEntrySize(1024).wal(w -> w.writeBufferSize(4096).fileIO(io)).build();
        try (var wal = PerCoreWalManager.open(dir, walOptions);
             var drainer = ChangelogDrainer.start(wal,
                     ChangelogOptions.defaults().withQueueCapacity(4).withBatchLimit(1)
                             .withOverflowPolicy(OverflowPolicy.FAIL))) {
            var store = new ChangelogAwareStateStore(drainer.changelog(0));
            ChangelogFullException refused = null;
            int applied = 0;
            for (int i = 0; i < 10_000 && refused == null; i++) {
                try {
                    store.put(bytes("k" + i), new byte[600]);
                    applied++;
                } catch (ChangelogFullException e) {
                    refused = e;
                }
            }
            assertThat(refused).isNotNull();
            assertThat(refused.getMessage()).contains("core 0", "is full", "BACKPRESSURE");
            assertThat(store.size()).isEqualTo(applied);
            assertThat(drainer.changelog(0).publishedChanges()).isEqualTo(applied);
            assertThat(drainer.statistics().rejected()).isEqualTo(1);
        }
    }

    @Test
    void theDrainerWritesEpochBarriersForIdleCoresSoCheckpointsDoNotWait() throws Exception {
        try (var wal = PerCoreWalManager.open(dir, options(2).build());
             var drainer = ChangelogDrainer.start(wal, ChangelogOptions.defaults())) {
            var store = new ChangelogAwareStateStore(drainer.changelog(0));
            store.put(bytes("a"), bytes("1"));
            var prepared = wal.epochCoordinator().prepareCheckpoint(Duration.ofSeconds(30));
            // The cut opens a new epoch on both cores, the idle one included; the epoch before it is durable.
            assertThat(prepared.epoch()).isPositive();
            assertThat(wal.durableEpoch()).isGreaterThanOrEqualTo(prepared.epoch() - 1);
        }
    }

    @Test
    void badInputGetsAClearError() throws Exception {
        try (var wal = PerCoreWalManager.open(dir, options(2).maxEntrySize(100).build())) {
            var drainer = ChangelogDrainer.start(wal, ChangelogOptions.defaults());
            assertThatThrownBy(() -> drainer.changelog(2)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("core 2 does not exist");
            var store = new ChangelogAwareStateStore(drainer.changelog(0));
            assertThatThrownBy(() -> store.put(bytes("k"), new byte[200]))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxEntrySize");
            assertThat(store.size()).isZero();
            drainer.close();
            assertThatThrownBy(() -> store.put(bytes("k"), bytes("v"))).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
        }
        assertThatThrownBy(() -> new ChangelogOptions(1, 1, OverflowPolicy.FAIL))
                .hasMessageContaining("queueCapacity must be between 2");
        assertThatThrownBy(() -> new ChangelogOptions(16, 0, OverflowPolicy.FAIL))
                .hasMessageContaining("batchLimit must be at least 1, but was 0");
    }

    @Test
    void durableFuturesFailWhenTheWalFails() throws Exception {
        var io = FaultyFileIO.overSystem();
        try (var wal = PerCoreWalManager.open(dir, options(1).wal(w -> w.fileIO(io)).build());
             var drainer = ChangelogDrainer.start(wal, ChangelogOptions.defaults())) {
            var store = new ChangelogAwareStateStore(drainer.changelog(0));
            store.put(bytes("a"), bytes("1"));
            drainer.changelog(0).whenDurable(1).get(30, TimeUnit.SECONDS);
            io.forces().withMessage("No space left on device").failNow();
            store.put(bytes("b"), bytes("2"));
            var pending = drainer.changelog(0).whenDurable(2);
            assertThatThrownBy(() -> pending.get(30, TimeUnit.SECONDS)).hasCauseInstanceOf(RuntimeException.class)
                    .hasMessageContaining("the WAL of core 0").hasMessageContaining("No space left on device")
                    .hasRootCauseInstanceOf(FaultyFileIO.InjectedIOException.class)
                    .hasRootCauseMessage("No space left on device (fdatasync of " + dir.toAbsolutePath()
                            + "/core-0000-00000000000000000000.wal)");
            assertThat(drainer.changelog(0).durableChanges()).isEqualTo(1);
        }
    }
}

package io.laminar.storage.replication.kafka;

import static io.laminar.storage.replication.kafka.Shards.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.FencedException;
import io.laminar.storage.checkpoint.Rescaler;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.replication.ChangeReplicator;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rescale of a replicated shard through real Kafka brokers ({@link SharedKafkaCluster}): a lost
 * 2-core owner taken over with 1 core, then with 3, and a restart on the shard's own directory with
 * other cores. Every acknowledged change is checked against a model, exactly once and on the core
 * that owns its key.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(180)
class KafkaRescaleTest {

    private static final AtomicInteger SHARDS = new AtomicInteger();

    private KafkaCluster cluster;
    private final TreeMap<String, String> expected = new TreeMap<>();

    @TempDir
    Path dir;

    @BeforeAll
    void startBrokers() throws Exception {
        cluster = SharedKafkaCluster.get();
    }

    @BeforeEach
    void newModel() {
        expected.clear(); // one instance for the class (the brokers): each test has a shard and a model of its own
    }

    /** An owner over {@code walDir} with {@code cores} cores, its WAL opened as the starter opens a replicated one. */
    private static Shards.Owner start(Path walDir, Path storeDir, KafkaReplicatorOptions options, int cores)
            throws IOException {
        var closing = new ArrayList<AutoCloseable>();
        try {
            var wal = Rescaler.openReplicated(walDir, PerCoreWalOptions.builder().cores(cores).maxEntrySize(64 * 1024)
                    .wal(w -> w.segmentSize(1 << 20)).build());
            closing.add(wal);
            var store = FileSystemCheckpointStore.open(storeDir);
            closing.add(store);
            var replicator = new KafkaChangeReplicator(options);
            closing.add(replicator);
            var runtime = LaminarRuntime.builder(wal, store).replicator(replicator).build();
            closing.add(runtime);
            runtime.start();
            return new Shards.Owner(runtime, replicator, store, closing);
        } catch (RuntimeException | IOException e) {
            for (int i = closing.size() - 1; i >= 0; i--) {
                try {
                    closing.get(i).close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    private void put(Shards.Owner owner, String key, String value) throws Exception {
        owner.put(key, value).get(10, TimeUnit.SECONDS);
        expected.put(key, value);
    }

    private void clear(Shards.Owner owner, int core) throws Exception {
        owner.runtime().submitDurable(core, c -> {
            c.store().clear();
            return null;
        }).get(10, TimeUnit.SECONDS);
        expected.keySet().removeIf(k -> owner.runtime().coreOf(bytes(k)) == core);
    }

    /** The whole state equals the model, and every key is on the core the runtime routes it to. */
    private void assertExact(Shards.Owner owner) {
        var runtime = owner.runtime();
        for (int core = 0; core < runtime.cores(); core++) {
            int expectedCore = core;
            runtime.submit(core, c -> {
                c.store().forEach((k, v) -> assertThat(runtime.coreOf(k))
                        .as("the core of %s", new String(k, StandardCharsets.UTF_8)).isEqualTo(expectedCore));
                return null;
            }).join();
        }
        assertThat(owner.contents()).isEqualTo(expected);
    }

    /**
     * Checkpoints and a tail after the last one: {@code tailPuts} puts with a clear of core
     * {@code clearedCore} among them. Returns the records the tail puts in Kafka.
     */
    private long writeCheckpointsAndTail(Shards.Owner owner, String prefix, int rounds, int clearedCore)
            throws Exception {
        for (int round = 0; round < rounds; round++) {
            for (int i = 0; i < 60; i++) {
                put(owner, prefix + "key-" + i, "r" + round + "-" + i);
            }
            owner.delete(prefix + "key-" + round).get(10, TimeUnit.SECONDS);
            expected.remove(prefix + "key-" + round);
            var manifest = owner.runtime().triggerCheckpoint().get(30, TimeUnit.SECONDS);
            assertThat(manifest.sources()).containsKey(ChangeReplicator.SOURCE_NAME);
        }
        for (int i = 0; i < 30; i++) {
            put(owner, prefix + "tail-" + i, "t" + i);
        }
        clear(owner, clearedCore);
        for (int i = 30; i < 40; i++) {
            put(owner, prefix + "tail-" + i, "t" + i);
        }
        assertExact(owner);
        // 40 puts, and the clear (one record, in the cleared core's partition).
        return 40 + 1;
    }

    @Test
    void aLostOwnerIsTakenOverWithOneCoreThenWithThreeEveryAcknowledgedChangeExactlyOnce() throws Exception {
        var options = Shards.options(cluster, "rescale-" + SHARDS.incrementAndGet()).build();
        var store = dir.resolve("checkpoints");
        long tail;
        var a = start(dir.resolve("a"), store, options, 2);
        try {
            tail = writeCheckpointsAndTail(a, "a-", 3, 1);
            // A is not dead, only unreachable (a pause): B takes the shard over with 1 core meanwhile.
            try (var b = start(dir.resolve("b"), store, options, 1)) {
                var report = b.runtime().recoveryReport().orElseThrow();
                var rescale = report.rescale();
                assertThat(rescale.oldCores()).isEqualTo(2);
                assertThat(rescale.newCores()).isEqualTo(1);
                assertThat(rescale.keyGroupsMoved()).isEqualTo(128); // core 1's half of 256
                assertThat(rescale.entries()).isEqualTo(expected.size());
                assertThat(report.recordsFromReplication()).isEqualTo(tail);
                assertThat(report.checkpointId()).isEqualTo(rescale.rescaleCheckpoint());
                assertExact(b);

                // A wakes up: fenced in Kafka and in the store; it deletes nothing of B's.
                var newest = b.store().readManifest(rescale.rescaleCheckpoint()).orElseThrow();
                var late = a.put("a-zombie", "x");
                assertThatThrownBy(() -> late.get(30, TimeUnit.SECONDS)).cause().isInstanceOf(FencedException.class);
                assertThat(a.runtime().failure()).get().isInstanceOf(FencedException.class);
                // Its checkpoint cannot complete (its drainer stopped, fenced), and its close deletes nothing.
                var lateCheckpoint = a.runtime().triggerCheckpoint();
                assertThatThrownBy(() -> lateCheckpoint.get(30, TimeUnit.SECONDS)).isNotNull();
                a.close();
                for (var file : newest.files()) {
                    assertThat(Files.exists(store.resolve("state").resolve(file.path()))
                            || Files.exists(store.resolve(file.path()))).as(file.path()).isTrue();
                }

                tail = writeCheckpointsAndTail(b, "b-", 2, 0);
            }
        } finally {
            a.close();
        }
        Shards.deleteRecursively(dir.resolve("a"));
        Shards.deleteRecursively(dir.resolve("b")); // B's machine is lost too

        try (var c = start(dir.resolve("c"), store, options, 3)) {
            var report = c.runtime().recoveryReport().orElseThrow();
            assertThat(report.rescale().oldCores()).isEqualTo(1);
            assertThat(report.rescale().newCores()).isEqualTo(3);
            assertThat(report.recordsFromReplication()).isEqualTo(tail);
            assertExact(c);
            put(c, "from-c", "1");
        }
        // And a takeover with the same 3 cores is a plain one: nothing is rescaled.
        try (var d = start(dir.resolve("d"), store, options, 3)) {
            assertThat(d.runtime().recoveryReport().orElseThrow().rescale()).isNull();
            assertExact(d);
        }
    }

    @Test
    void aRestartOnItsOwnDirectoryWithOtherCoresIsRescaledFromItsOwnWal() throws Exception {
        var options = Shards.options(cluster, "rescale-" + SHARDS.incrementAndGet()).build();
        var store = dir.resolve("checkpoints");
        try (var a = start(dir.resolve("a"), store, options, 2)) {
            writeCheckpointsAndTail(a, "a-", 2, 1);
        }
        for (int cores : new int[] {3, 1}) {
            try (var again = start(dir.resolve("a"), store, options, cores)) {
                var report = again.runtime().recoveryReport().orElseThrow();
                assertThat(report.rescale().newCores()).isEqualTo(cores);
                assertThat(report.rescale().walBytesRead()).isPositive();
                assertThat(report.recordsFromReplication()).isZero();
                assertThat(dir.resolve("a" + Rescaler.REPLICATED_SUFFIX)).doesNotExist();
                assertExact(again);
                put(again, "after-" + cores, "1");
            }
        }
        // A takeover of the last layout (1 core) by a 2-core machine restores everything.
        try (var b = start(dir.resolve("b"), store, options, 2)) {
            assertThat(b.runtime().recoveryReport().orElseThrow().rescale().oldCores()).isEqualTo(1);
            assertExact(b);
        }
    }
}

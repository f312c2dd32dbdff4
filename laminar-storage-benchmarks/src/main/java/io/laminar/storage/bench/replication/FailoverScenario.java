package io.laminar.storage.bench.replication;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.checkpoint.RecoveryListener;
import io.laminar.storage.checkpoint.RecoveryManager;
import io.laminar.storage.checkpoint.RecoveryReport;
import io.laminar.storage.checkpoint.Rescaler;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.replication.kafka.KafkaChangeReplicator;
import io.laminar.storage.replication.kafka.KafkaCluster;
import io.laminar.storage.replication.kafka.KafkaReplicatorOptions;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code failover}: shard A holds {@code stateBytes} of checkpointed state (16 B keys, 1 KiB values,
 * two cores) and then makes {@code tailBytes} of durable overwrites with replicated durability, so
 * that they are in Kafka but in no checkpoint; A is then lost (closed without a final checkpoint,
 * its directory deleted). Timed:
 * <ul>
 *   <li>{@code laminar-failover}: owner B on an empty directory, from {@code LaminarRuntime.start()}
 *       to serving: Kafka fencing ({@code initTransactions}), the owner epoch claim, the checkpoint
 *       restore, the Kafka tail and the takeover's first checkpoint. Extras split it:
 *       {@code restoreSeconds} (start to the end of the checkpoint restore, fencing and claim
 *       included), {@code kafkaTailRecords} and {@code kafkaTailSeconds} (reading and applying them),
 *       and the rest ({@code takeoverCheckpointSeconds}, the checkpoint before serving).</li>
 *   <li>{@code laminar-restore}: in the same run, before B, a plain {@link RecoveryManager#recover()}
 *       of the same checkpoint on another empty directory, without the Kafka tail.</li>
 *   <li>{@code laminar-failover-rescaled}: after B, owner C with {@value #RESCALED_CORES} cores on an
 *       empty directory and a copy of the checkpoint store as A left it (B's checkpoint retained an
 *       older one without replication positions, so the topic still holds the tail): the same
 *       takeover, rescaling 2 to {@value #RESCALED_CORES} cores (the checkpoint and the tail restored
 *       into 2 cores, regrouped, a FULL checkpoint written and read back). Extras:
 *       {@code vsFailover} (against B in the same run), the rescale's own {@code rescaleSeconds}.</li>
 * </ul>
 * The default run uses the sizes the issue names (1 GiB + 64 MiB; run it with a heap of 4 GiB or
 * more); the quick run 32 MiB + 4 MiB. Files are read from the page cache (just written). Before
 * each timed phase the heap is collected and the copied store is on disk, so that no phase pays for
 * the harness's garbage (a new owner is a fresh process) or for the writeback of its copy.
 */
public final class FailoverScenario implements Scenario {

    public static final String NAME = "failover";
    static final long MIB = 1 << 20;
    private static final int CORES = 2;
    private static final int RESCALED_CORES = 4;
    private static final int KEY_BYTES = 16;
    private static final int VALUE_BYTES = 1024;
    private static final int PARTITIONS = 16;
    private static final int BATCH = 256;
    private static final int TAIL_IN_FLIGHT = 256;

    private final KafkaCluster cluster;

    FailoverScenario(KafkaCluster cluster) {
        this.cluster = cluster;
    }

    /** A scenario over {@code cluster}, which the caller starts and stops. */
    public static FailoverScenario over(KafkaCluster cluster) {
        return new FailoverScenario(cluster);
    }

    @Override
    public String name() {
        return NAME;
    }

    private static PerCoreWalOptions walOptions() {
        return PerCoreWalOptions.builder().cores(CORES).build();
    }

    private KafkaChangeReplicator replicator(String shard) {
        return new KafkaChangeReplicator(KafkaReplicatorOptions.builder(shard)
                .bootstrapServers(cluster.bootstrapServers()).partitions(PARTITIONS).replicationFactor(3)
                .minInSyncReplicas(2).build());
    }

    private static byte[] key(long index) {
        return String.format("k%015d", index).getBytes(StandardCharsets.US_ASCII);
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        boolean quick = context.settings().quick();
        long stateBytes = quick ? 32 * MIB : 1024 * MIB;
        long tailBytes = quick ? 4 * MIB : 64 * MIB;
        long entries = stateBytes / (KEY_BYTES + VALUE_BYTES);
        long tailRecords = tailBytes / (KEY_BYTES + VALUE_BYTES);
        var dir = context.newDirectory(NAME);
        var shard = "failover-" + System.nanoTime();
        try {
            var checkpoints = dir.resolve("checkpoints");
            shardA(dir.resolve("a"), checkpoints, shard, entries, tailRecords);
            BenchContext.deleteTree(dir.resolve("a")); // machine A is lost

            var seconds = new double[2];
            settle();
            var plain = plainRestore(dir.resolve("restore"), checkpoints, stateBytes, seconds);
            BenchContext.deleteTree(dir.resolve("restore"));
            var asALeftIt = dir.resolve("checkpoints-copy");
            copyTree(checkpoints, asALeftIt);
            settle();
            var failover = takeover(dir.resolve("b"), checkpoints, shard, stateBytes, tailRecords, tailBytes, seconds);
            failover.extra("vsPlainRestore", Result.round(seconds[1] / seconds[0], 3));
            BenchContext.deleteTree(dir.resolve("b"));
            var rescaledSeconds = new double[1];
            settle();
            var rescaled = rescaledTakeover(dir.resolve("c"), asALeftIt, shard, stateBytes, tailRecords, tailBytes,
                    rescaledSeconds);
            rescaled.extra("vsFailover", Result.round(rescaledSeconds[0] / seconds[1], 3));
            return List.of(plain, failover, rescaled);
        } finally {
            BenchContext.deleteTree(dir);
        }
    }

    /** Puts {@code entries} keys, in tasks of {@link #BATCH} per core, not waiting for durability. */
    private static void fill(LaminarRuntime runtime, long entries, byte[] value) {
        var pending = new ArrayList<CompletableFuture<?>>();
        var batches = new List[CORES];
        for (int core = 0; core < CORES; core++) {
            batches[core] = new ArrayList<byte[]>();
        }
        for (long i = 0; i < entries; i++) {
            var key = key(i);
            int core = runtime.coreOf(key);
            @SuppressWarnings("unchecked")
            List<byte[]> batch = batches[core];
            batch.add(key);
            if (batch.size() == BATCH || i == entries - 1) {
                var keys = List.copyOf(batch);
                batch.clear();
                pending.add(runtime.submit(core, c -> {
                    keys.forEach(k -> c.store().put(k, value));
                    return null;
                }));
                if (pending.size() >= 64) {
                    pending.forEach(CompletableFuture::join);
                    pending.clear();
                }
            }
        }
        for (int core = 0; core < CORES; core++) {
            @SuppressWarnings("unchecked")
            List<byte[]> batch = batches[core];
            if (!batch.isEmpty()) {
                var keys = List.copyOf(batch);
                pending.add(runtime.submit(core, c -> {
                    keys.forEach(k -> c.store().put(k, value));
                    return null;
                }));
            }
        }
        pending.forEach(CompletableFuture::join);
    }

    /**
     * Shard A: its state and a checkpoint with local durability, then with replicated durability a
     * checkpoint with replication positions and the Kafka tail. A method of its own so that nothing of
     * A stays reachable from the caller's frame afterwards: a new owner is another process.
     */
    private void shardA(Path walDir, Path checkpoints, String shard, long entries, long tailRecords) throws Exception {
        var value = new byte[VALUE_BYTES];
        new SplittableRandom(7).nextBytes(value);
        // A, local durability: the state, and a checkpoint of it.
        try (var wal = PerCoreWalManager.open(walDir, walOptions());
             var store = FileSystemCheckpointStore.open(checkpoints);
             var runtime = LaminarRuntime.builder(wal, store).finalCheckpointOnClose(false).build()) {
            runtime.start();
            fill(runtime, entries, value);
            runtime.triggerCheckpoint().get(30, TimeUnit.MINUTES);
        }
        // A again, now replicated: a checkpoint with replication positions, then the Kafka tail.
        var replicatorA = replicator(shard);
        try (var wal = PerCoreWalManager.open(walDir, walOptions());
             var store = FileSystemCheckpointStore.open(checkpoints);
             var runtime = LaminarRuntime.builder(wal, store).replicator(replicatorA)
                     .finalCheckpointOnClose(false).build()) {
            runtime.start();
            runtime.triggerCheckpoint().get(30, TimeUnit.MINUTES);
            tail(runtime, tailRecords, entries, value);
        } finally {
            replicatorA.close();
        }
    }

    /** {@code records} durable overwrites of random existing keys, {@link #TAIL_IN_FLIGHT} at a time. */
    private static void tail(LaminarRuntime runtime, long records, long entries, byte[] value) {
        var random = new SplittableRandom(11);
        var inFlight = new ArrayList<CompletableFuture<?>>();
        for (long i = 0; i < records; i++) {
            var key = key(random.nextLong(entries));
            var changed = value.clone();
            changed[0] = (byte) i;
            inFlight.add(runtime.submitDurable(runtime.coreOf(key), c -> {
                c.store().put(key, changed);
                return null;
            }));
            if (inFlight.size() == TAIL_IN_FLIGHT) {
                inFlight.forEach(CompletableFuture::join);
                inFlight.clear();
            }
        }
        inFlight.forEach(CompletableFuture::join);
    }

    private static Result plainRestore(Path walDir, Path checkpoints, long stateBytes, double[] seconds)
            throws Exception {
        long start = System.nanoTime();
        RecoveryReport report;
        long entries = 0;
        try (var wal = PerCoreWalManager.open(walDir, walOptions());
             var store = FileSystemCheckpointStore.open(checkpoints)) {
            var recovered = new RecoveryManager(wal, store).recover();
            report = recovered.report();
            for (var state : recovered.coreStates()) {
                entries += state.size();
            }
        }
        seconds[0] = (System.nanoTime() - start) / 1e9;
        return new Result(NAME, "laminar-restore", CORES, VALUE_BYTES)
                .bytesPerSecond(stateBytes, seconds[0])
                .extra("seconds", Result.round(seconds[0], 3))
                .extra("stateBytes", stateBytes)
                .extra("entries", entries)
                .extra("checkpoint", report.checkpointId());
    }

    /**
     * Copies a tree and forces every copied file to disk: otherwise the kernel writes the copy's
     * gigabyte back while the next timed phase reads and fsyncs, and that phase pays for it.
     */
    private static void copyTree(Path from, Path to) throws java.io.IOException {
        try (var paths = java.nio.file.Files.walk(from)) {
            for (var path : (Iterable<Path>) paths::iterator) {
                var target = to.resolve(from.relativize(path).toString());
                if (java.nio.file.Files.isDirectory(path)) {
                    java.nio.file.Files.createDirectories(target);
                } else {
                    java.nio.file.Files.copy(path, target);
                    try (var channel = FileChannel.open(target, StandardOpenOption.WRITE)) {
                        channel.force(true);
                    }
                }
            }
        }
    }

    /**
     * Before a timed phase: collects the previous phases' garbage (A's state, the plain restore's),
     * which a new owner, a fresh process on another machine, would not have in its heap.
     */
    private static void settle() {
        System.gc();
    }

    /** C: the takeover of A's checkpoint and tail with {@link #RESCALED_CORES} cores. */
    private Result rescaledTakeover(Path walDir, Path checkpoints, String shard, long stateBytes, long tailRecords,
                                    long tailBytes, double[] measured) throws Exception {
        var replicatorC = replicator(shard);
        try (var wal = Rescaler.openReplicated(walDir,
                     PerCoreWalOptions.builder().cores(RESCALED_CORES).build());
             var store = FileSystemCheckpointStore.open(checkpoints);
             var runtime = LaminarRuntime.builder(wal, store).replicator(replicatorC).build()) {
            long start = System.nanoTime();
            var report = runtime.start();
            double seconds = (System.nanoTime() - start) / 1e9;
            measured[0] = seconds;
            var rescale = report.rescale();
            if (rescale == null || rescale.newCores() != RESCALED_CORES || report.recordsFromReplication() != tailRecords) {
                throw new IllegalStateException("the rescaled takeover did not rescale to " + RESCALED_CORES
                        + " cores with the " + tailRecords + " records of the tail: " + report);
            }
            return new Result(NAME, "laminar-failover-rescaled", RESCALED_CORES, VALUE_BYTES)
                    .bytesPerSecond(stateBytes + tailBytes, seconds)
                    .extra("seconds", Result.round(seconds, 3))
                    .extra("rescaleSeconds", Result.round(rescale.duration().toNanos() / 1e9, 3))
                    .extra("oldCores", rescale.oldCores())
                    .extra("keyGroupsMoved", rescale.keyGroupsMoved())
                    .extra("kafkaTailRecords", report.recordsFromReplication())
                    .extra("stateBytes", stateBytes)
                    .extra("checkpoint", report.checkpointId());
        } finally {
            replicatorC.close();
        }
    }

    private Result takeover(Path walDir, Path checkpoints, String shard, long stateBytes, long tailRecords,
                            long tailBytes, double[] measured) throws Exception {
        var restored = new AtomicReference<RecoveryReport>();
        var restoredAt = new long[1];
        var replicatorB = replicator(shard);
        try (var wal = PerCoreWalManager.open(walDir, walOptions());
             var store = FileSystemCheckpointStore.open(checkpoints);
             var runtime = LaminarRuntime.builder(wal, store).replicator(replicatorB)
                     .recoveryListener(new RecoveryListener() {
                         @Override
                         public void completed(RecoveryReport report) {
                             restoredAt[0] = System.nanoTime();
                             restored.set(report);
                         }
                     }).build()) {
            long start = System.nanoTime();
            var report = runtime.start();
            long end = System.nanoTime();
            double seconds = (end - start) / 1e9;
            measured[1] = seconds;
            double restoreSeconds = (restoredAt[0] - start) / 1e9;
            double tailSeconds = (report.duration().toNanos() - restored.get().duration().toNanos()) / 1e9;
            if (report.recordsFromReplication() != tailRecords) {
                throw new IllegalStateException("the takeover restored " + report.recordsFromReplication()
                        + " records from Kafka, but " + tailRecords + " were acknowledged after the checkpoint");
            }
            return new Result(NAME, "laminar-failover", CORES, VALUE_BYTES)
                    .bytesPerSecond(stateBytes + tailBytes, seconds)
                    .extra("seconds", Result.round(seconds, 3))
                    .extra("restoreSeconds", Result.round(restoreSeconds, 3))
                    .extra("kafkaTailRecords", report.recordsFromReplication())
                    .extra("kafkaTailBytes", tailBytes)
                    .extra("kafkaTailSeconds", Result.round(tailSeconds, 3))
                    .extra("takeoverCheckpointSeconds", Result.round(seconds - restoreSeconds - tailSeconds, 3))
                    .extra("stateBytes", stateBytes)
                    .extra("checkpoint", report.checkpointId());
        } finally {
            replicatorB.close();
        }
    }
}

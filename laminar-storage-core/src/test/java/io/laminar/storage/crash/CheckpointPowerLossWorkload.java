package io.laminar.storage.crash;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.changelog.ChangelogDrainer;
import io.laminar.storage.changelog.ChangelogOptions;
import io.laminar.storage.checkpoint.RecoveredState;
import io.laminar.storage.checkpoint.RecoveryManager;
import io.laminar.storage.checkpoint.StateCheckpointCoordinator;
import io.laminar.storage.io.FileIO;
import io.laminar.storage.io.PowerLossFileIO;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.ModelState;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * Per-core logs with epochs, the aligned drainer, full and incremental checkpoints with retention
 * and WAL truncation, in three lives: a new node; a restart that recovers (and whose first
 * checkpoint cleans up orphans); a node with a new, empty WAL directory that adopts the newest
 * checkpoint. Operations are {@link CrashWorkload}'s, so the state of any prefix can be rebuilt.
 * Notes: {@code Life(n, walDirectory)}, {@code Ack(core, ops)} once a core's first ops operations
 * are durable, {@code Published(id)} once a checkpoint's manifest is.
 */
final class CheckpointPowerLossWorkload implements PowerLossExplorer.Workload {

    static final int CORES = 2;
    private static final CrashWorkload OPERATIONS = new CrashWorkload(40, 200);

    record Life(int life, String walDirectory) {
    }

    record Ack(int core, long ops) {
    }

    record Published(long id) {
    }

    private final int rounds;
    private final int opsPerRound;
    private final boolean restartAfterRecovery;

    /**
     * @param restartAfterRecovery whether each check also runs the recovered node on: one checkpoint
     *                             (orphan cleanup, retention, truncation over the crash's leftovers),
     *                             then recovers again and checks again
     */
    CheckpointPowerLossWorkload(int rounds, int opsPerRound, boolean restartAfterRecovery) {
        this.rounds = rounds;
        this.opsPerRound = opsPerRound;
        this.restartAfterRecovery = restartAfterRecovery;
    }

    @Override
    public String name() {
        return restartAfterRecovery ? "checkpoints-and-restart" : "checkpoints";
    }

    static PerCoreWalOptions walOptions(FileIO io) {
        return PerCoreWalOptions.builder().cores(CORES).maxEntrySize(1024)
                .wal(w -> w.segmentSize(64 * 1024).writeBufferSize(128 * 1024).fileIO(io)).build();
    }

    /** Operations in the recovered state of each core: the checkpoint's offset plus the replayed records. */
    static long[] operations(RecoveredState recovered) {
        var ops = new long[CORES];
        for (int core = 0; core < CORES; core++) {
            var source = recovered.sources().get(io.laminar.storage.checkpoint.CoreChains.name(core));
            ops[core] = (source == null ? 0 : Long.parseLong(source.offsets().get("ops")))
                    + recovered.report().recordsReplayedPerCore().get(core);
        }
        return ops;
    }

    /** A running node: logs, drainer, coordinator and one thread per core running queued operations. */
    static final class Node implements AutoCloseable {
        final PerCoreWalManager wal;
        final RecoveredState recovered;
        private final long seed;
        private final ChangelogDrainer drainer;
        private final StateCheckpointCoordinator coordinator;
        private final long[] ops;
        private final ChangelogAwareStateStore[] stores = new ChangelogAwareStateStore[CORES];
        @SuppressWarnings("unchecked")
        private final ConcurrentLinkedQueue<Runnable>[] tasks = new ConcurrentLinkedQueue[CORES];
        private final Thread[] threads = new Thread[CORES];
        private volatile boolean stop;

        Node(FileIO io, Path walDir, Path storeDir, long seed) throws Exception {
            this.seed = seed;
            wal = PerCoreWalManager.open(walDir, walOptions(io));
            try {
                recovered = new RecoveryManager(wal, FileSystemCheckpointStore.open(storeDir, io)).recover();
            } catch (Exception | Error e) {
                wal.close();
                throw e;
            }
            ops = operations(recovered);
            drainer = ChangelogDrainer.start(wal, ChangelogOptions.defaults().withQueueCapacity(256)
                    .withAlignedBarriers(true));
            coordinator = StateCheckpointCoordinator.builder(wal, drainer, FileSystemCheckpointStore.open(storeDir, io))
                    .retainedCheckpoints(2).maxDeltas(2).resumeFrom(recovered).build().start();
            for (int core = 0; core < CORES; core++) {
                int c = core;
                var changelog = drainer.changelog(c);
                stores[c] = ChangelogAwareStateStore.fromSnapshot(recovered.coreStates().get(c), changelog);
                tasks[c] = new ConcurrentLinkedQueue<>();
                threads[c] = new Thread(() -> {
                    while (!stop) {
                        long done = ops[c];
                        changelog.pollCheckpoint(stores[c], () -> Map.of("ops", Long.toString(done)));
                        var task = tasks[c].poll();
                        if (task == null) {
                            LockSupport.parkNanos(20_000);
                            continue;
                        }
                        task.run();
                    }
                }, "powerloss-core-" + c);
                threads[c].start();
            }
        }

        long[] recoveredOps() {
            return operations(recovered);
        }

        /** Runs n more operations on core c; the future gives the core's op count once they are durable. */
        CompletableFuture<Long> operate(int c, int n) {
            var result = new CompletableFuture<Long>();
            tasks[c].add(() -> {
                try {
                    var store = stores[c];
                    for (int i = 0; i < n; i++) {
                        OPERATIONS.operation(seed, c, ops[c] + 1, store::containsKey, store.asSink());
                        ops[c]++;
                    }
                    long count = ops[c];
                    var changelog = drainer.changelog(c);
                    changelog.whenDurable(changelog.publishedChanges()).whenComplete((v, e) -> {
                        if (e != null) {
                            result.completeExceptionally(e);
                        } else {
                            result.complete(count);
                        }
                    });
                } catch (Throwable e) {
                    result.completeExceptionally(e);
                }
            });
            return result;
        }

        long checkpoint() {
            return coordinator.triggerCheckpoint().join().checkpointId();
        }

        @Override
        public void close() {
            stop = true;
            for (var t : threads) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            coordinator.close();
            drainer.close();
            wal.close();
        }
    }

    private void round(Node node, PowerLossFileIO io, int round) {
        var futures = new java.util.ArrayList<CompletableFuture<Long>>();
        for (int c = 0; c < CORES; c++) {
            futures.add(node.operate(c, opsPerRound));
        }
        for (int c = 0; c < CORES; c++) {
            io.mark(new Ack(c, futures.get(c).join()));
        }
        if (round % 3 != 2) { // some rounds leave their operations to the WAL alone
            io.mark(new Published(node.checkpoint()));
        }
    }

    @Override
    public void run(PowerLossFileIO io, Path root, long seed) throws Exception {
        var storeDir = root.resolve("checkpoints");
        String[] walDirs = {"wal", "wal", "wal-new"};
        for (int life = 0; life < walDirs.length; life++) {
            io.mark(new Life(life, walDirs[life]));
            try (var node = new Node(io, root.resolve(walDirs[life]), storeDir, seed)) {
                var ops = node.recoveredOps();
                for (int c = 0; c < CORES; c++) {
                    io.mark(new Ack(c, ops[c]));
                }
                for (int round = 0; round < rounds; round++) {
                    round(node, io, round);
                }
            }
        }
    }

    @Override
    public PowerLossExplorer.Checker checker(long seed) {
        return new PowerLossExplorer.Checker() {
            String walDirectory = "wal";
            final long[] acked = new long[CORES];
            long published = -1;

            @Override
            public void onMark(Object note) {
                if (note instanceof Life life) {
                    walDirectory = life.walDirectory();
                } else if (note instanceof Ack ack) {
                    acked[ack.core()] = Math.max(acked[ack.core()], ack.ops());
                } else if (note instanceof Published p) {
                    published = Math.max(published, p.id());
                }
            }

            @Override
            public void check(Path root) throws Exception {
                var walDir = root.resolve(walDirectory);
                var storeDir = root.resolve("checkpoints");
                long[] ops;
                long newest;
                try (var node = new Node(NoSyncFileIO.INSTANCE, walDir, storeDir, seed)) {
                    ops = verify(node.recovered, acked, published);
                    if (!restartAfterRecovery) {
                        return;
                    }
                    for (int c = 0; c < CORES; c++) {
                        ops[c] = node.operate(c, 3).join();
                    }
                    newest = Math.max(published, node.checkpoint());
                }
                try (var again = PerCoreWalManager.open(walDir, walOptions(NoSyncFileIO.INSTANCE))) {
                    verify(new RecoveryManager(again, FileSystemCheckpointStore.open(storeDir, NoSyncFileIO.INSTANCE))
                            .recover(), ops, newest);
                }
            }

            /** Checks a recovery against the acknowledged operations; returns the recovered counts. */
            private long[] verify(RecoveredState recovered, long[] atLeast, long newestPublished) {
                var ops = operations(recovered);
                for (int core = 0; core < CORES; core++) {
                    assertThat(ops[core]).as("core %d: operations recovered; %d were durable", core, atLeast[core])
                            .isGreaterThanOrEqualTo(atLeast[core]);
                    var model = new ModelState();
                    for (long index = 1; index <= ops[core]; index++) {
                        OPERATIONS.operation(seed, core, index, model::containsKey, model);
                    }
                    assertThat(ModelState.render(recovered.coreStates().get(core)))
                            .as("core %d after %d operations", core, ops[core]).isEqualTo(model.render());
                }
                if (newestPublished >= 0) {
                    assertThat(recovered.report().checkpointId()).as("the checkpoint recovered from; %d was published",
                            newestPublished).isNotNull().isGreaterThanOrEqualTo(newestPublished);
                }
                return ops;
            }
        };
    }
}

package io.laminar.storage.checkpoint;

import io.laminar.storage.changelog.ChangelogDrainer;
import io.laminar.storage.changelog.ChangelogOptions;
import io.laminar.storage.crash.CrashWorkload;
import io.laminar.storage.io.FileIO;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * The process {@link CheckpointCrashTest} kills: recovers with {@link RecoveryManager}, then runs core
 * threads, the aligned drainer and frequent checkpoints, printing {@code ACK <core> <operations>}
 * whenever that many operations of a core are durable. With {@code -Dlaminar.crash.haltAt=STEP} and
 * {@code -Dlaminar.crash.haltAfter=N} it halts itself ({@code Runtime.halt}) the N-th time a
 * checkpoint reaches that {@link CheckpointStep}; with {@code haltAt=PARTIAL_TRUNCATION}, the first time
 * a WAL truncation has deleted one segment of a core and is about to delete another.
 *
 * <p>Operations are a deterministic function of (seed, core, index) and of the state before them,
 * each producing exactly one change, so the parent can rebuild the state of any prefix. A core's
 * source offset ("ops") is the number of operations in its state.
 */
public final class CheckpointCrashChild {

    static final int CORES = 2;
    private static final CrashWorkload WORKLOAD = new CrashWorkload(200, 300);
    static final int HALTED = 77;
    /**
     * A crash point inside the WAL truncation, finer than {@link CheckpointStep#TRUNCATION} (which
     * halts just before it): halt when a truncation is about to delete the second segment of one
     * core, so that some but not all of the segments it deletes of that core are gone.
     */
    static final String PARTIAL_TRUNCATION = "PARTIAL_TRUNCATION";

    /**
     * A {@link FileIO} that, while {@code truncating} is set, counts the WAL segments deleted per
     * core and halts the process before deleting a core's second one.
     */
    static final class HaltingOnSecondSegmentDelete implements FileIO {
        private final FileIO delegate = FileIO.system();
        private final Map<String, Integer> deletedPerCore = new java.util.concurrent.ConcurrentHashMap<>();
        volatile boolean truncating;

        void startTruncation() {
            deletedPerCore.clear();
            truncating = true;
        }

        @Override
        public java.nio.channels.FileChannel open(Path path, java.util.Set<? extends java.nio.file.OpenOption> options)
                throws java.io.IOException {
            return delegate.open(path, options);
        }

        @Override
        public void atomicMove(Path source, Path target) throws java.io.IOException {
            delegate.atomicMove(source, target);
        }

        @Override
        public void deleteIfExists(Path path) throws java.io.IOException {
            var name = path.getFileName().toString();
            if (truncating && name.matches(".*-\\d{20}\\.wal")) {
                var log = name.substring(0, name.lastIndexOf('-'));
                if (deletedPerCore.merge(log, 1, Integer::sum) == 2) {
                    System.err.println("halting before deleting " + name + ", the second segment of " + log
                            + " this truncation deletes");
                    System.err.flush();
                    Runtime.getRuntime().halt(HALTED);
                }
            }
            delegate.deleteIfExists(path);
        }

        @Override
        public void syncDirectory(Path directory) throws java.io.IOException {
            delegate.syncDirectory(directory);
        }
    }

    static void operation(long seed, int core, long index, Predicate<byte[]> present, ChangelogSink target) {
        WORKLOAD.operation(seed, core, index, present, target);
    }

    /** Operations in the recovered state of each core: the checkpoint's offset plus the replayed records. */
    static long[] operations(RecoveredState recovered) {
        var ops = new long[CORES];
        for (int core = 0; core < CORES; core++) {
            var source = recovered.sources().get(CoreChains.name(core));
            ops[core] = (source == null ? 0 : Long.parseLong(source.offsets().get("ops")))
                    + recovered.report().recordsReplayedPerCore().get(core);
        }
        return ops;
    }

    public static void main(String[] args) throws Exception {
        var walDir = Path.of(args[0]);
        var store = FileSystemCheckpointStore.open(Path.of(args[1]));
        long seed = Long.parseLong(args[2]);
        var haltAt = System.getProperty("laminar.crash.haltAt");
        int haltAfter = Integer.getInteger("laminar.crash.haltAfter", 1);
        var reached = new AtomicInteger();
        var io = new HaltingOnSecondSegmentDelete();
        var wal = PerCoreWalManager.open(walDir, PARTIAL_TRUNCATION.equals(haltAt)
                ? CoreThreads.walOptions(CORES, io) : CoreThreads.walOptions(CORES));
        var recovered = new RecoveryManager(wal, store).recover();
        var ops = operations(recovered);
        var drainer = ChangelogDrainer.start(wal, ChangelogOptions.defaults().withQueueCapacity(256)
                .withAlignedBarriers(true));
        var coordinator = StateCheckpointCoordinator.builder(wal, drainer, store).interval(Duration.ofMillis(15))
                .retainedCheckpoints(2).maxDeltas(3)
                .resumeFrom(recovered) // deltas continue the recovered chains across crashes
                .stepObserver(step -> {
                    if (PARTIAL_TRUNCATION.equals(haltAt)) {
                        if (step == CheckpointStep.TRUNCATION) {
                            io.startTruncation();
                        } else if (step == CheckpointStep.CUT) {
                            io.truncating = false;
                        }
                    }
                    if (step.name().equals(haltAt) && reached.incrementAndGet() == haltAfter) {
                        Runtime.getRuntime().halt(HALTED);
                    }
                }).build().start();
        var threads = new ArrayList<Thread>();
        for (int core = 0; core < CORES; core++) {
            int c = core;
            var changelog = drainer.changelog(c);
            var store0 = ChangelogAwareStateStore.fromSnapshot(recovered.coreStates().get(c), changelog);
            var sink = store0.asSink();
            long first = ops[c] + 1;
            threads.add(new Thread(() -> {
                for (long index = first; ; index++) {
                    long done = index - 1;
                    changelog.pollCheckpoint(store0, () -> Map.of("ops", Long.toString(done)));
                    operation(seed, c, index, store0::containsKey, sink);
                    if (index % 50 == 0) {
                        changelog.whenDurable(changelog.publishedChanges()).join();
                        synchronized (System.out) {
                            System.out.println("ACK " + c + " " + index);
                            System.out.flush();
                        }
                    }
                }
            }, "core-" + c));
        }
        synchronized (System.out) {
            System.out.println("READY " + ops[0] + " " + ops[1] + " checkpoint " + recovered.report().checkpointId());
            System.out.flush();
        }
        threads.forEach(Thread::start);
        for (var thread : threads) {
            thread.join(); // until killed or halted
        }
        coordinator.close();
    }
}

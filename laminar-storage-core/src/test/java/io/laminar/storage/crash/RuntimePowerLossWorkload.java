package io.laminar.storage.crash;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.checkpoint.CheckpointListener;
import io.laminar.storage.io.FileIO;
import io.laminar.storage.io.PowerLossFileIO;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.state.ModelState;
import io.laminar.storage.state.StateStore;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;

/**
 * {@link LaminarRuntime} over a {@link PerCoreWalManager} and a {@link FileSystemCheckpointStore},
 * on {@value #CORES} cores, in three lives: a new node that ends with a clean {@code close()} (and
 * a final checkpoint); a restart (recovery through {@code start()}) that ends abruptly, as a killed
 * process (no close: its FileIO is cut off, {@link KillSwitchFileIO}); a restart after that, which
 * closes cleanly. Each life runs {@code submitDurable} tasks (and a few plain {@code submit} ones)
 * while periodic checkpoints run, and triggers some checkpoints.
 *
 * <p>Task {@code t} of core {@code c} (1-based) makes one to three {@link CrashWorkload} changes
 * that follow from (seed, c, t) and the state before it, then puts the key {@value #COUNTER} to
 * {@code t}: so the counter of a recovered state names the prefix of tasks it must equal, and a task
 * only partly there shows as a difference. Notes: {@code Ack(core, task)} when a
 * {@code submitDurable} future completes, {@code Published(id)} once a checkpoint's manifest is.
 *
 * <p>Each crash image is recovered by starting a runtime on it (it must start), and every core's
 * state is read with a {@code submit} task: its counter must reach every acknowledged task, and the
 * state must equal the model of exactly that prefix of the core's tasks (nothing else there, nothing
 * missing, every value byte for byte), or of that prefix and the first changes of the next task,
 * which was not acknowledged: a task is not a transaction (its changes go to the WAL, and become
 * durable, one by one), so a crash may keep part of it. Such states are counted ({@link
 * #partialTasks()}); {@code tasksAtomic} makes them violations. The checkpoint recovered from must be
 * at least the newest one published.
 */
final class RuntimePowerLossWorkload implements PowerLossExplorer.Workload {

    static final int CORES = 3;
    static final String COUNTER = "#task";
    private static final byte[] COUNTER_KEY = COUNTER.getBytes(StandardCharsets.UTF_8);
    private static final CrashWorkload OPERATIONS = new CrashWorkload(24, 120);
    private static final int ROUNDS = 8;
    private static final int TASKS_PER_ROUND = 4;

    record Ack(int core, long task) {
    }

    record Published(long id) {
    }

    private final boolean tasksAtomic;
    private final java.util.concurrent.atomic.AtomicLong partialTasks = new java.util.concurrent.atomic.AtomicLong();

    /**
     * @param tasksAtomic whether a task left in part (its first changes there, the rest and its
     *                    counter not) is a violation; it is not a promise of the library, whose WAL
     *                    makes each change durable on its own: the suite counts such states
     */
    RuntimePowerLossWorkload(boolean tasksAtomic) {
        this.tasksAtomic = tasksAtomic;
    }

    /** Crash states so far in which an unacknowledged task was there in part. */
    long partialTasks() {
        return partialTasks.get();
    }

    @Override
    public String name() {
        return "runtime";
    }

    static PerCoreWalOptions walOptions(FileIO io) {
        return PerCoreWalOptions.builder().cores(CORES).maxEntrySize(1024)
                .wal(w -> w.segmentSize(64 * 1024).writeBufferSize(128 * 1024).fileIO(io)).build();
    }

    /** Task {@code task} of {@code core}: its changes, then the counter. */
    static void task(long seed, int core, long task, Predicate<byte[]> present, ChangelogSink target) {
        int changes = 1 + new Random(seed * 7_777L + core * 131L + task).nextInt(3);
        for (int i = 0; i < changes; i++) {
            OPERATIONS.operation(seed, core, task * 4 + i, present, target);
        }
        target.onPut(COUNTER_KEY, ByteBuffer.allocate(8).putLong(task).array());
    }

    static long counter(StateStore store) {
        var value = store.get(COUNTER_KEY);
        return value == null ? 0 : ByteBuffer.wrap(value).getLong();
    }

    /** One life of a node: its runtime and what it was opened over. */
    private static final class Node implements AutoCloseable {
        final PerCoreWalManager wal;
        final LaminarRuntime runtime;
        final io.laminar.storage.checkpoint.RecoveryReport report;

        Node(FileIO io, Path root, boolean finalCheckpoint, Duration interval, CheckpointListener listener) {
            wal = PerCoreWalManager.open(root.resolve("wal"), walOptions(io));
            try {
                var store = FileSystemCheckpointStore.open(root.resolve("checkpoints"), io);
                var builder = LaminarRuntime.builder(wal, store).finalCheckpointOnClose(finalCheckpoint)
                        .checkpoints(c -> {
                            c.retainedCheckpoints(2).maxDeltas(2);
                            if (interval != null) {
                                c.interval(interval);
                            }
                        });
                if (listener != null) {
                    builder.listener(listener);
                }
                runtime = builder.build();
                report = runtime.start();
            } catch (Exception | Error e) {
                wal.close();
                throw e instanceof RuntimeException r ? r : new IllegalStateException(e);
            }
        }

        /** Each core's state, read on its thread; the counter first. */
        List<List<String>> states() {
            var futures = new ArrayList<CompletableFuture<List<String>>>();
            for (int c = 0; c < CORES; c++) {
                futures.add(runtime.submit(c, context -> ModelState.render(context.store())));
            }
            return futures.stream().map(CompletableFuture::join).toList();
        }

        @Override
        public void close() {
            try {
                runtime.close();
            } finally {
                wal.close();
            }
        }
    }

    @Override
    public void run(PowerLossFileIO io, Path root, long seed) throws Exception {
        var random = new Random(seed);
        var published = new CheckpointListener() {
            @Override
            public void completed(CheckpointManifest manifest, Duration duration, long writtenBytes) {
                io.mark(new Published(manifest.checkpointId()));
            }
        };
        for (int life = 0; life < 3; life++) {
            boolean abrupt = life == 1;
            var kill = new KillSwitchFileIO(io);
            var node = new Node(kill, root, life == 0, Duration.ofMillis(4 + random.nextInt(6)), published);
            try {
                var next = new long[CORES];
                for (int c = 0; c < CORES; c++) {
                    next[c] = node.runtime.submit(c, context -> counter(context.store())).join() + 1;
                }
                var pending = new ArrayList<CompletableFuture<?>>();
                for (int round = 0; round < ROUNDS; round++) {
                    for (int c = 0; c < CORES; c++) {
                        for (int i = 0; i < TASKS_PER_ROUND; i++) {
                            int core = c;
                            long t = next[c]++;
                            if (random.nextInt(8) == 0) { // never acknowledged, durable with the next sync
                                pending.add(node.runtime.submit(c,
                                        context -> doTask(seed, core, t, context.store())));
                            } else {
                                pending.add(node.runtime.submitDurable(c, context -> doTask(seed, core, t,
                                        context.store())).thenRun(() -> io.mark(new Ack(core, t))));
                            }
                        }
                    }
                    if (random.nextInt(3) == 0) {
                        io.mark(new Published(node.runtime.coordinator().triggerCheckpoint().join().checkpointId()));
                    }
                    if (random.nextBoolean()) {
                        CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).join();
                        pending.clear();
                    }
                }
                if (abrupt) {
                    kill.kill(); // a killed process: what it wrote stays, nothing more reaches the disk
                } else {
                    CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).join();
                }
            } finally {
                try {
                    node.close();
                } catch (RuntimeException e) {
                    if (!abrupt) {
                        throw e;
                    }
                }
            }
        }
    }

    private static Void doTask(long seed, int core, long t, StateStore store) {
        task(seed, core, t, store::containsKey, store.asSink());
        return null;
    }

    @Override
    public PowerLossExplorer.Checker checker(long seed) {
        return new PowerLossExplorer.Checker() {
            final long[] acked = new long[CORES];
            long published = -1;
            /** Per core: the model's rendering after each of its changes, and the number of changes in its first t tasks. */
            final List<List<List<String>>> renders = new ArrayList<>();
            final List<List<Integer>> taskEnds = new ArrayList<>();
            final List<ModelState> models = new ArrayList<>();

            {
                for (int c = 0; c < CORES; c++) {
                    var model = new ModelState();
                    models.add(model);
                    renders.add(new ArrayList<>(List.of(model.render())));
                    taskEnds.add(new ArrayList<>(List.of(0)));
                }
            }

            @Override
            public void onMark(Object note) {
                if (note instanceof Ack ack) {
                    acked[ack.core()] = Math.max(acked[ack.core()], ack.task());
                } else if (note instanceof Published p) {
                    published = Math.max(published, p.id());
                }
            }

            /** Models core {@code core} up to task {@code tasks} (0-based: the state before any task is 0). */
            private void modelUpTo(int core, long tasks) {
                var model = models.get(core);
                var after = renders.get(core);
                var ends = taskEnds.get(core);
                while (ends.size() <= tasks) {
                    task(seed, core, ends.size(), model::containsKey, new ChangelogSink() {
                        @Override
                        public void onPut(byte[] key, byte[] value) {
                            model.onPut(key, value);
                            after.add(model.render());
                        }

                        @Override
                        public void onDelete(byte[] key) {
                            model.onDelete(key);
                            after.add(model.render());
                        }

                        @Override
                        public void onClear() {
                            model.onClear();
                            after.add(model.render());
                        }
                    });
                    ends.add(after.size() - 1);
                }
            }

            /**
             * Whether {@code state} (without a counter) is what a task after the acknowledged ones
             * leaves when it is cut after a clear among its first changes: a prefix of the changes that
             * holds every acknowledged task. A life submits at most ROUNDS * TASKS_PER_ROUND tasks per
             * core, so the task cut is at most that far past the last acknowledged one.
             */
            private boolean clearedByAPartialTask(int core, List<String> state) {
                for (long t = acked[core]; t < acked[core] + ROUNDS * TASKS_PER_ROUND; t++) {
                    modelUpTo(core, t + 1);
                    var after = renders.get(core);
                    int next = taskEnds.get(core).get((int) t + 1); // its counter put: excluded
                    for (int part = taskEnds.get(core).get((int) t) + 1; part < next; part++) {
                        if (state.equals(after.get(part))) {
                            return true;
                        }
                    }
                }
                return false;
            }

            @Override
            public void check(Path root) {
                try (var node = new Node(NoSyncFileIO.INSTANCE, root, false, null, null)) {
                    var states = node.states();
                    for (int c = 0; c < CORES; c++) {
                        var state = states.get(c);
                        boolean counted = !state.isEmpty() && state.get(0).startsWith(COUNTER + "=");
                        long tasks = counted ? Long.parseLong(state.get(0).substring(COUNTER.length() + 1), 16) : 0;
                        if (!counted && acked[c] > 0 && !tasksAtomic && clearedByAPartialTask(c, state)) {
                            // A task cut after a clear among its changes has removed the counter
                            // too: the state is that task's first changes, not "no task" (a task is not
                            // atomic across a crash, each change is).
                            partialTasks.incrementAndGet();
                            continue;
                        }
                        assertThat(tasks).as("core %d: tasks recovered; task %d was acknowledged", c, acked[c])
                                .isGreaterThanOrEqualTo(acked[c]);
                        modelUpTo(c, tasks + 1);
                        var after = renders.get(c);
                        int whole = taskEnds.get(c).get((int) tasks);
                        if (state.equals(after.get(whole))) {
                            continue;
                        }
                        // Task tasks + 1 (never acknowledged) may have left some of its changes: the
                        // WAL makes each change durable on its own (a task is not a transaction).
                        int part = whole + 1;
                        int next = taskEnds.get(c).get((int) tasks + 1); // its counter put: excluded
                        while (part < next && !state.equals(after.get(part))) {
                            part++;
                        }
                        if (part < next && !tasksAtomic) {
                            partialTasks.incrementAndGet();
                            continue;
                        }
                        assertThat(state).as("core %d: the state after its first %d tasks%s", c, tasks,
                                part < next ? ", each whole (task " + (tasks + 1) + " is there in part: its first "
                                        + (part - whole) + " changes)" : "").isEqualTo(after.get(whole));
                    }
                    var report = node.report;
                    if (published >= 0) {
                        assertThat(report.checkpointId()).as("the checkpoint recovered from; %d was published",
                                published).isNotNull().isGreaterThanOrEqualTo(published);
                    }
                }
            }
        };
    }
}

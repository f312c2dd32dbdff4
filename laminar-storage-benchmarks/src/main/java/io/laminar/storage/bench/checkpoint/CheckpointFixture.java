package io.laminar.storage.bench.checkpoint;

import io.laminar.storage.changelog.ChangelogDrainer;
import io.laminar.storage.changelog.ChangelogOptions;
import io.laminar.storage.changelog.CoreChangelog;
import io.laminar.storage.checkpoint.CheckpointStep;
import io.laminar.storage.checkpoint.StateCheckpointCoordinator;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.StateEntry;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BiFunction;

/**
 * What every {@code checkpoint} scenario runs on, wired as {@code CheckpointRecoveryTest} does but
 * with the library's defaults: a {@link PerCoreWalManager} of {@value #CORES} cores, a
 * {@link ChangelogDrainer} with aligned barriers, one core thread per core owning a
 * {@link ChangelogAwareStateStore} and calling {@code pollCheckpoint} between tasks and while idle,
 * a {@link FileSystemCheckpointStore} and a {@link StateCheckpointCoordinator} (state files streamed
 * into the store, one retained checkpoint so old files are deleted as the run goes).
 *
 * <p>The state is bulk-loaded ({@link ChangelogAwareStateStore#restore}, nothing published to the
 * WAL): {@code entriesPerCore} entries of {@value #KEY_BYTES} B keys (core, index big-endian, then
 * filler, so they come in key order) and {@value #VALUE_BYTES} B random values (or
 * {@code valueBytes}, for the {@code restore} scenario's small-value rows).
 */
public final class CheckpointFixture implements AutoCloseable {

    public static final int CORES = 2;
    public static final int KEY_BYTES = 16;
    public static final int VALUE_BYTES = 1024;
    /** Bytes of one entry in a FULL state file: op, key length, key, value length, value. */
    static final int FILE_ENTRY_BYTES = 1 + 4 + KEY_BYTES + 4 + VALUE_BYTES;
    /** Header and trailer of a state file. */
    static final int FILE_OVERHEAD_BYTES = 32 + 9;

    final Path directory;
    final PerCoreWalManager wal;
    final ChangelogDrainer drainer;
    final CheckpointStore store;
    final StateCheckpointCoordinator coordinator;
    final ChangelogAwareStateStore[] stores = new ChangelogAwareStateStore[CORES];
    public final long entriesPerCore;
    /** The size of every value. */
    public final int valueBytes;
    private final ConcurrentLinkedQueue<Runnable>[] tasks;
    private final Thread[] threads = new Thread[CORES];
    private final long[] ops = new long[CORES];
    private final Map<CheckpointStep, Long> steps = new EnumMap<>(CheckpointStep.class);
    private volatile boolean stop;

    /** Entries per core for {@code stateBytes} of key + value bytes across the cores. */
    static long entriesPerCore(long stateBytes) {
        return entriesPerCore(stateBytes, VALUE_BYTES);
    }

    /** Entries per core for {@code stateBytes} of key + value bytes across the cores, with {@code valueBytes} values. */
    static long entriesPerCore(long stateBytes, int valueBytes) {
        return Math.max(1, stateBytes / CORES / (KEY_BYTES + valueBytes));
    }

    /** Bytes of a core's FULL state file with {@code entries} entries. */
    public static long fullFileBytes(long entries) {
        return FILE_OVERHEAD_BYTES + entries * FILE_ENTRY_BYTES;
    }

    /** The key of entry {@code index} of {@code core}: ascending in {@code index}. */
    static void key(int core, long index, byte[] into) {
        into[0] = (byte) core;
        for (int i = 0; i < 8; i++) {
            into[1 + i] = (byte) (index >>> (56 - 8 * i));
        }
        long filler = index * 0x9E3779B97F4A7C15L;
        for (int i = 9; i < KEY_BYTES; i++) {
            into[i] = (byte) (filler >>> (8 * (i - 9)));
        }
    }

    CheckpointFixture(Path directory, long stateBytes, int maxDeltas) throws IOException {
        this(directory, stateBytes, maxDeltas, null);
    }

    /**
     * A fixture whose checkpoints go to {@code checkpointStore} (the caller closes it) rather than to a
     * {@link FileSystemCheckpointStore} in {@code directory}: how the {@code s3} suite checkpoints
     * into S3 through the same path.
     */
    @SuppressWarnings("unchecked")
    public CheckpointFixture(Path directory, long stateBytes, int maxDeltas, CheckpointStore checkpointStore)
            throws IOException {
        this(directory, stateBytes, maxDeltas, checkpointStore, VALUE_BYTES);
    }

    /** As {@link #CheckpointFixture(Path, long, int, CheckpointStore)}, with values of {@code valueBytes}. */
    public CheckpointFixture(Path directory, long stateBytes, int maxDeltas, CheckpointStore checkpointStore,
                             int valueBytes) throws IOException {
        this.directory = directory;
        this.valueBytes = valueBytes;
        this.entriesPerCore = entriesPerCore(stateBytes, valueBytes);
        wal = PerCoreWalManager.open(directory.resolve("wal"), PerCoreWalOptions.builder().cores(CORES).build());
        ChangelogDrainer d = null;
        CheckpointStore s;
        StateCheckpointCoordinator c;
        try {
            d = ChangelogDrainer.start(wal, ChangelogOptions.defaults().withAlignedBarriers(true));
            s = checkpointStore != null ? checkpointStore : FileSystemCheckpointStore.open(directory.resolve("checkpoints"));
            c = StateCheckpointCoordinator.builder(wal, d, s)
                    .maxDeltas(maxDeltas).retainedCheckpoints(1).barrierTimeout(Duration.ofSeconds(60))
                    .stepObserver(step -> {
                        synchronized (steps) {
                            steps.put(step, System.nanoTime());
                        }
                    }).build();
        } catch (IOException | RuntimeException e) {
            if (d != null) {
                d.close();
            }
            wal.close();
            throw e;
        }
        drainer = d;
        store = s;
        coordinator = c;
        tasks = new ConcurrentLinkedQueue[CORES];
        for (int core = 0; core < CORES; core++) {
            stores[core] = ChangelogAwareStateStore.restore(entries(core, entriesPerCore, valueBytes),
                    drainer.changelog(core));
            tasks[core] = new ConcurrentLinkedQueue<>();
        }
        for (int core = 0; core < CORES; core++) {
            int c0 = core;
            var changelog = drainer.changelog(core);
            threads[core] = new Thread(() -> {
                while (!stop) {
                    changelog.pollCheckpoint(stores[c0], () -> Map.of("ops", Long.toString(ops[c0])));
                    var task = tasks[c0].poll();
                    if (task == null) {
                        LockSupport.parkNanos(50_000);
                        continue;
                    }
                    task.run();
                    ops[c0]++;
                }
            }, "bench-core-" + core);
            threads[core].setDaemon(true);
            threads[core].start();
        }
    }

    /** Key-ordered entries of a core; the arrays are reused (restore copies them). */
    private static Iterator<StateEntry> entries(int core, long count, int valueBytes) {
        var key = new byte[KEY_BYTES];
        var value = new byte[valueBytes];
        var random = new SplittableRandom(core * 31L + 7);
        return new Iterator<>() {
            long next;

            @Override
            public boolean hasNext() {
                return next < count;
            }

            @Override
            public StateEntry next() {
                if (next >= count) {
                    throw new NoSuchElementException();
                }
                key(core, next++, key);
                fill(random, value);
                return new StateEntry(key, value);
            }
        };
    }

    public static void fill(SplittableRandom random, byte[] bytes) {
        for (int i = 0; i + 8 <= bytes.length; i += 8) {
            long v = random.nextLong();
            for (int b = 0; b < 8; b++) {
                bytes[i + b] = (byte) (v >>> (8 * b));
            }
        }
    }

    /**
     * Runs {@code task} on core {@code core}'s thread (it gets the store and the core's changelog;
     * a long task must call {@code pollCheckpoint} itself).
     */
    <T> CompletableFuture<T> run(int core, BiFunction<ChangelogAwareStateStore, CoreChangelog, T> task) {
        var result = new CompletableFuture<T>();
        tasks[core].add(() -> {
            try {
                result.complete(task.apply(stores[core], drainer.changelog(core)));
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        });
        return result;
    }

    /**
     * Overwrites {@code count} random existing keys of each core with new random values, from the
     * core threads, as fast as they go, and waits until every change is durable.
     */
    void overwriteRandomKeys(long count, long seed) {
        var done = new CompletableFuture<?>[CORES];
        for (int core = 0; core < CORES; core++) {
            int c = core;
            done[core] = run(core, (store, changelog) -> {
                var random = new SplittableRandom(seed + c);
                var key = new byte[KEY_BYTES];
                var values = new byte[16][valueBytes];
                for (var v : values) {
                    fill(random, v);
                }
                for (long i = 0; i < count; i++) {
                    key(c, random.nextLong(entriesPerCore), key);
                    store.put(key, values[(int) (i & 15)]);
                    if ((i & 1023) == 0) {
                        changelog.pollCheckpoint(store, () -> Map.of());
                    }
                }
                return changelog.publishedChanges();
            }).thenCompose(last -> drainer.changelog(c).whenDurable(last));
        }
        CompletableFuture.allOf(done).join();
    }

    /**
     * Overwrites {@code fraction} of each core's keys, each key at most once (a random sample), and
     * waits until durable; returns the number of keys changed on all cores.
     */
    long changeFraction(double fraction, long seed) {
        long perCore = Math.max(1, Math.round(entriesPerCore * fraction));
        var done = new CompletableFuture<?>[CORES];
        for (int core = 0; core < CORES; core++) {
            int c = core;
            done[core] = run(core, (store, changelog) -> {
                var random = new SplittableRandom(seed + c);
                var chosen = new java.util.BitSet((int) entriesPerCore);
                var key = new byte[KEY_BYTES];
                var value = new byte[VALUE_BYTES];
                for (long n = 0; n < perCore; ) {
                    int index = (int) random.nextLong(entriesPerCore);
                    if (chosen.get(index)) {
                        continue;
                    }
                    chosen.set(index);
                    key(c, index, key);
                    fill(random, value);
                    store.put(key, value);
                    n++;
                }
                return changelog.publishedChanges();
            }).thenCompose(last -> drainer.changelog(c).whenDurable(last));
        }
        CompletableFuture.allOf(done).join();
        return perCore * CORES;
    }

    /** A checkpoint and how long it and its steps took. */
    public record Timed(CheckpointManifest manifest, double seconds, double cutSeconds, double filesSeconds,
                        double publishSeconds) {
    }

    /** Triggers a checkpoint and waits for it. */
    public Timed checkpoint() {
        synchronized (steps) {
            steps.clear();
        }
        long start = System.nanoTime();
        var manifest = coordinator.triggerCheckpoint().join();
        long end = System.nanoTime();
        synchronized (steps) {
            long cut = steps.getOrDefault(CheckpointStep.CUT, end);
            long files = steps.getOrDefault(CheckpointStep.STATE_FILES_WRITTEN, end);
            long published = steps.getOrDefault(CheckpointStep.MANIFEST_PUBLISHED, end);
            return new Timed(manifest, (end - start) / 1e9, (cut - start) / 1e9, (files - cut) / 1e9,
                    (published - start) / 1e9);
        }
    }

    long backpressureWaits() {
        return drainer.statistics().backpressureWaits();
    }

    /** Stops the core threads, the coordinator, the drainer and the WAL (files stay). */
    @Override
    public void close() {
        stop = true;
        for (var t : threads) {
            if (t == null) {
                continue;
            }
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            coordinator.close();
        } finally {
            try {
                drainer.close();
            } finally {
                wal.close();
            }
        }
    }
}

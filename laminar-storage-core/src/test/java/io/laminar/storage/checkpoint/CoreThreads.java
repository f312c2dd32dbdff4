package io.laminar.storage.checkpoint;

import io.laminar.storage.changelog.ChangelogDrainer;
import io.laminar.storage.changelog.ChangelogOptions;
import io.laminar.storage.changelog.CutContext;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.StateEntry;
import io.laminar.storage.state.StateSnapshot;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;

/**
 * Test harness: a per-core WAL with an aligned drainer and one thread per core that owns a store,
 * runs the tasks handed to it and calls {@code pollCheckpoint} between tasks and while idle. The
 * source offset of a core is the number of tasks it ran ("ops"); see {@link #context} for the watermark
 * and operator state it reports at a cut.
 */
final class CoreThreads implements AutoCloseable {

    static PerCoreWalOptions walOptions(int cores) {
        return walOptions(cores, io.laminar.storage.io.FileIO.system());
    }

    static PerCoreWalOptions walOptions(int cores, io.laminar.storage.io.FileIO io) {
        return PerCoreWalOptions.builder().cores(cores).maxEntrySize(8192)
                .wal(w -> w.segmentSize(64 * 1024).fileIO(io)).build();
    }

    final PerCoreWalManager wal;
    final ChangelogDrainer drainer;
    final ChangelogAwareStateStore[] stores;
    private final ConcurrentLinkedQueue<Runnable>[] tasks;
    private final Thread[] threads;
    private final long[] ops;
    volatile boolean polling = true;
    private volatile boolean stop;

    @SuppressWarnings("unchecked")
    CoreThreads(Path dir, int cores, List<StateSnapshot> initial, long[] initialOps) {
        wal = PerCoreWalManager.open(dir, walOptions(cores));
        drainer = ChangelogDrainer.start(wal, ChangelogOptions.defaults().withQueueCapacity(1024)
                .withAlignedBarriers(true));
        stores = new ChangelogAwareStateStore[cores];
        tasks = new ConcurrentLinkedQueue[cores];
        threads = new Thread[cores];
        ops = initialOps == null ? new long[cores] : initialOps.clone();
        for (int core = 0; core < cores; core++) {
            int c = core;
            var changelog = drainer.changelog(c);
            stores[c] = initial == null ? new ChangelogAwareStateStore(changelog)
                    : ChangelogAwareStateStore.fromSnapshot(initial.get(c), changelog);
            tasks[c] = new ConcurrentLinkedQueue<>();
            threads[c] = new Thread(() -> {
                while (!stop) {
                    if (polling) {
                        changelog.pollCheckpointWithContext(stores[c], () -> context(c, ops[c]));
                    }
                    var task = tasks[c].poll();
                    if (task == null) {
                        LockSupport.parkNanos(50_000);
                        continue;
                    }
                    task.run();
                }
            }, "test-core-" + c);
            threads[c].start();
        }
    }

    /**
     * What core {@code core} reports at a cut after {@code ops} operations: source offset "ops", the
     * watermark {@code 1000 * (core + 1) + ops}, and an operator state "counter" holding ops as text.
     */
    static CutContext context(int core, long ops) {
        return new CutContext(Map.of("ops", Long.toString(ops)), 1000L * (core + 1) + ops,
                Map.of("counter", Long.toString(ops).getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    /** Runs {@code op} on core {@code core}'s thread as one operation; returns its result. */
    <T> CompletableFuture<T> run(int core, Function<ChangelogAwareStateStore, T> op) {
        return run(core, op, true);
    }

    private <T> CompletableFuture<T> run(int core, Function<ChangelogAwareStateStore, T> op, boolean counted) {
        var result = new CompletableFuture<T>();
        tasks[core].add(() -> {
            try {
                var value = op.apply(stores[core]);
                if (counted) {
                    ops[core]++;
                }
                result.complete(value);
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        });
        return result;
    }

    /** Puts on core {@code core} and waits until the change is durable. */
    void putDurably(int core, String key, byte[] value) {
        long change = run(core, s -> {
            s.put(key.getBytes(), value);
            return drainer.changelog(core).publishedChanges();
        }).join();
        drainer.changelog(core).whenDurable(change).join();
    }

    /** Deletes on core {@code core} (counted as an op even if absent) and waits until durable. */
    void deleteDurably(int core, String key) {
        long change = run(core, s -> {
            s.delete(key.getBytes());
            return drainer.changelog(core).publishedChanges();
        }).join();
        drainer.changelog(core).whenDurable(change).join();
    }

    /**
     * Stops every core thread from calling {@code pollCheckpoint} (so none writes a barrier) and
     * returns once none can still be inside a call that began before: each thread has since run a
     * task (an uncounted no-op), and reads the flag afresh after it. {@code polling = true} resumes.
     */
    void stopPolling() {
        polling = false;
        for (int core = 0; core < stores.length; core++) {
            run(core, store -> null, false).join();
        }
    }

    /** The state of a core, read on its thread. */
    StateSnapshot state(int core) {
        return run(core, ChangelogAwareStateStore::snapshot, false).join();
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
        drainer.close();
        wal.close();
    }

    /** A core's state as "key=hex(value)" lines, in key order: what tests compare. */
    static List<String> render(StateSnapshot snapshot) {
        var out = new ArrayList<String>();
        for (StateEntry e : snapshot) {
            out.add(new String(e.key(), StandardCharsets.UTF_8) + "=" + HexFormat.of().formatHex(e.value()));
        }
        return out;
    }
}

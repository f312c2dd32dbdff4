package io.laminar.storage.changelog;

import io.laminar.storage.crash.CrashWorkload;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.percore.RecordKind;
import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.state.StateChangeFormat;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.function.Predicate;

/**
 * The process {@link ChangelogCrashTest} kills: recovers the per-core WAL into one state store per
 * core, then runs cores, the changelog drainer and the WAL syncers, and prints
 * {@code ACK <core> <operations>} whenever that many operations of a core are durable.
 *
 * <p>Operations are a deterministic function of (seed, core, index) and of the state before them
 * (a delete only names a present key), so each produces exactly one change record and the parent can
 * rebuild the expected state of any durable prefix.
 */
public final class ChangelogCrashChild {

    static final int CORES = 2;
    private static final CrashWorkload WORKLOAD = new CrashWorkload(100, 200);

    static PerCoreWalOptions options() {
        return PerCoreWalOptions.builder().cores(CORES).maxEntrySize(4096).wal(w -> w.segmentSize(128 * 1024)).build();
    }

    /** Operation {@code index} (1-based) of {@code core}, applied to {@code target}. */
    static void operation(long seed, int core, long index, Predicate<byte[]> present, ChangelogSink target) {
        WORKLOAD.operation(seed, core, index, present, target);
    }

    public static void main(String[] args) throws Exception {
        var dir = Path.of(args[0]);
        long seed = Long.parseLong(args[1]);
        try (var wal = PerCoreWalManager.open(dir, options())) {
            var stores = new ChangelogAwareStateStore[CORES];
            var recovered = new long[CORES];
            for (int core = 0; core < CORES; core++) {
                stores[core] = new ChangelogAwareStateStore(ChangelogSink.NONE);
            }
            wal.replay(wal.startPositions(), record -> {
                if (record.kind() == RecordKind.DATA) {
                    StateChangeFormat.apply(record.body(), stores[record.core()].replayer());
                    recovered[record.core()]++;
                }
            });
            var drainer = ChangelogDrainer.start(wal, ChangelogOptions.defaults().withQueueCapacity(256));
            var threads = new ArrayList<Thread>();
            for (int core = 0; core < CORES; core++) {
                int c = core;
                var changelog = drainer.changelog(c);
                var store = ChangelogAwareStateStore.fromSnapshot(stores[c].snapshot(), changelog);
                var sink = store.asSink();
                threads.add(new Thread(() -> {
                    for (long index = recovered[c] + 1; ; index++) {
                        operation(seed, c, index, store::containsKey, sink);
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
                System.out.println("READY " + recovered[0] + " " + recovered[1]);
                System.out.flush();
            }
            threads.forEach(Thread::start);
            for (var thread : threads) {
                thread.join(); // until killed
            }
        }
    }
}

package io.laminar.storage.bench.percore;

import io.laminar.storage.bench.Payloads;
import io.laminar.storage.changelog.ChangelogDrainer;
import io.laminar.storage.changelog.ChangelogOptions;
import io.laminar.storage.percore.CorePositions;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.wal.WalStatistics;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The durable Ring 0 set-up every {@code percore} scenario (and {@code Ring0PutBenchmark}) measures:
 * a {@link PerCoreWalManager} with the library's defaults (group commit, 64 MiB segments, 4 MiB
 * write buffers), a {@link ChangelogDrainer} with its defaults (16384 changes per core queue,
 * batches of 1024, backpressure) and one {@link ChangelogAwareStateStore} per core publishing to its
 * core's changelog. The only non-default is the file-system seam, {@link TimedFileIO}, which times
 * every fdatasync.
 */
public final class Ring0Fixture implements AutoCloseable {

    public static final int KEY_BYTES = 16;
    public static final int VALUE_BYTES = 64;
    /** Distinct keys each core cycles through; after the first pass every put overwrites. */
    public static final int KEY_SPACE = 1 << 14;

    final PerCoreWalManager wal;
    final ChangelogDrainer drainer;
    final TimedFileIO io = new TimedFileIO();

    private Ring0Fixture(Path directory, int cores) {
        wal = PerCoreWalManager.open(directory,
                PerCoreWalOptions.builder().cores(cores).wal(w -> w.fileIO(io)).build());
        ChangelogDrainer started;
        try {
            started = ChangelogDrainer.start(wal, ChangelogOptions.defaults());
        } catch (RuntimeException e) {
            wal.close();
            throw e;
        }
        drainer = started;
    }

    /** Opens the per-core WAL in {@code directory} (new and empty) and starts the drainer. */
    public static Ring0Fixture open(Path directory, int cores) {
        return new Ring0Fixture(directory, cores);
    }

    /** A putter over a new store publishing to core {@code core}'s changelog; use it on one thread only. */
    public Putter putter(int core) {
        return new Putter(new ChangelogAwareStateStore(drainer.changelog(core)), core);
    }

    /** A putter over a store with no durability at all ({@link ChangelogSink#NONE}). */
    public static Putter volatilePutter() {
        return new Putter(new ChangelogAwareStateStore(ChangelogSink.NONE), 0);
    }

    /** Changes of {@code core} published so far (core thread only) and durable so far (any thread). */
    public long durableChanges(int core) {
        return drainer.changelog(core).durableChanges();
    }

    /** Waits until change {@code change} of {@code core} is durable; false on timeout. */
    public boolean awaitDurable(int core, long change, long timeoutSeconds) throws Exception {
        try {
            drainer.changelog(core).whenDurable(change).get(timeoutSeconds, TimeUnit.SECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            return false;
        }
    }

    public long backpressureWaits() {
        return drainer.statistics().backpressureWaits();
    }

    public long backpressureWaitNanos() {
        return drainer.statistics().backpressureWaitNanos();
    }

    public long queueHighWater() {
        return drainer.statistics().queueDepthHighWaterMark();
    }

    public WalStatistics walStatistics(int core) {
        return wal.statistics(core);
    }

    /**
     * Deletes, on every core, the segments that lie entirely before a point 64 KiB behind the durable
     * position (always at or before the core's last record, which must stay), so that long runs do
     * not fill the disk. Safe while the core threads and the drainer keep writing.
     */
    public void truncateDurable() {
        var positions = new long[wal.cores()];
        for (int core = 0; core < positions.length; core++) {
            positions[core] = Math.max(wal.startPositions().position(core), wal.durablePosition(core) - (64 << 10));
        }
        wal.truncateBefore(CorePositions.of(positions));
    }

    public int cores() {
        return wal.cores();
    }

    @Override
    public void close() {
        try {
            drainer.close();
        } finally {
            wal.close();
        }
    }

    /**
     * One core thread's puts: 16 B keys from a fixed space of {@value #KEY_SPACE} random keys, taken
     * in a fixed order, and 64 B random values (eight of them, in turn). Not thread-safe.
     */
    public static final class Putter {
        private final ChangelogAwareStateStore store;
        private final byte[][] keys = new byte[KEY_SPACE][];
        private final byte[][] values = new byte[8][];
        private int next;
        private long puts;

        Putter(ChangelogAwareStateStore store, int core) {
            this.store = store;
            for (int i = 0; i < KEY_SPACE; i++) {
                keys[i] = Payloads.random(KEY_BYTES, 1_000_003L * core + i);
            }
            for (int i = 0; i < values.length; i++) {
                values[i] = Payloads.random(VALUE_BYTES, -1 - i);
            }
        }

        /** One put: the next key of the cycle. */
        public void put() {
            int i = next;
            store.put(keys[i], values[i & 7]);
            next = (i + 1) & (KEY_SPACE - 1);
            puts++;
        }

        /** Puts so far; with a changelog this is also the number of the last change published. */
        public long puts() {
            return puts;
        }

        /** Puts every key once, so that every later put overwrites an existing key. */
        public void fill() {
            for (int i = 0; i < KEY_SPACE; i++) {
                put();
            }
        }

        public ChangelogAwareStateStore store() {
            return store;
        }
    }
}

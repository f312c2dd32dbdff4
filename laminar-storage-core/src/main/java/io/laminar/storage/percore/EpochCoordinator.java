package io.laminar.storage.percore;

import io.laminar.storage.StorageException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * The epoch part of checkpointing for one {@link PerCoreWalManager}: cuts every core's log at an epoch
 * barrier and waits until the cut is durable. Get it from {@link PerCoreWalManager#epochCoordinator()}.
 *
 * <p>It is the only thing that advances the global epoch, and it prepares one checkpoint at a time,
 * so while it waits for epoch {@code e} no core can skip to {@code e + 1}: each core's latest
 * barrier is the one for {@code e}.
 *
 * <p>Not to be confused with {@code checkpoint.StateCheckpointCoordinator}, which takes whole
 * checkpoints (state files and manifest) and asks this one for their cut.
 *
 * <p>Thread-safe: concurrent calls run one after another.
 */
public final class EpochCoordinator {

    private static final long MAX_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private final PerCoreWalManager wal;

    EpochCoordinator(PerCoreWalManager wal) {
        this.wal = wal;
    }

    /**
     * Advances the global epoch, waits until every core's owner has written the barrier for it
     * (on its next append or {@link CoreWalWriter#pollEpoch()}) and until each core's syncer has
     * made that barrier durable, and returns the epoch with the barrier positions.
     *
     * <p>If that takes longer than {@code timeout} it throws and returns nothing: the epoch stays
     * advanced (barriers already written are harmless markers, and epochs never go back), and the
     * next call advances it again and waits for every core afresh.
     *
     * @throws CheckpointTimeoutException if some cores did not write or sync their barrier in time;
     *                                    it names them
     * @throws IllegalStateException      if the WAL is closed
     * @throws StorageException           if a core's log fails meanwhile
     * @throws InterruptedException       if interrupted while waiting (the epoch stays advanced)
     */
    public synchronized PreparedCheckpoint prepareCheckpoint(Duration timeout) throws InterruptedException {
        if (timeout == null || timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must be zero or positive, but was " + timeout);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        long epoch = wal.advanceEpoch();
        int cores = wal.cores();
        var positions = new long[cores];
        @SuppressWarnings("unchecked")
        CompletableFuture<Long>[] syncs = new CompletableFuture[cores];

        // 1. Every owner writes its barrier. Polling is fine here: this is the slow path.
        int missing = cores;
        for (long park = 10_000; ; park = Math.min(MAX_PARK_NANOS, park * 2)) {
            for (int core = 0; core < cores; core++) {
                var state = wal.state(core);
                if (syncs[core] == null && state.barrierEpoch() >= epoch) {
                    positions[core] = state.barrierPosition();
                    syncs[core] = requestSync(core, epoch);
                    missing--;
                }
            }
            if (missing == 0) {
                break;
            }
            wal.checkOpen();
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                var silent = new ArrayList<Integer>();
                for (int core = 0; core < cores; core++) {
                    if (syncs[core] == null) {
                        silent.add(core);
                    }
                }
                throw new CheckpointTimeoutException("prepareCheckpoint timed out after " + timeout + ": cores "
                        + silent + " did not write the barrier of epoch " + epoch + " (their owners neither appended "
                        + "nor called pollEpoch(); with aligned barriers, their core threads did not call "
                        + "CoreChangelog.pollCheckpoint()); no checkpoint was prepared, the next attempt starts afresh",
                        epoch, silent);
            }
            LockSupport.parkNanos(this, Math.min(park, left));
            if (Thread.interrupted()) {
                throw new InterruptedException("interrupted while waiting for the barriers of epoch " + epoch);
            }
        }

        // 2. Each core's syncer makes its barrier durable.
        var unsynced = new ArrayList<Integer>();
        for (int core = 0; core < cores; core++) {
            try {
                syncs[core].get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                unsynced.add(core);
            } catch (ExecutionException e) {
                throw new StorageException("core " + core + " could not make the barrier of epoch " + epoch
                        + " durable: " + e.getCause(), e.getCause());
            }
        }
        if (!unsynced.isEmpty()) {
            throw new CheckpointTimeoutException("prepareCheckpoint timed out after " + timeout + ": cores "
                    + unsynced + " wrote the barrier of epoch " + epoch + " but did not make it durable in time; "
                    + "no checkpoint was prepared, the next attempt starts afresh", epoch, unsynced);
        }
        return new PreparedCheckpoint(epoch, CorePositions.of(positions));
    }

    private CompletableFuture<Long> requestSync(int core, long epoch) {
        try {
            // The barrier was appended before its epoch was published, so this sync covers it.
            return wal.state(core).wal.sync();
        } catch (RuntimeException e) {
            throw new StorageException("core " + core + " could not sync the barrier of epoch " + epoch + ": " + e, e);
        }
    }
}

package io.laminar.storage.percore;

import io.laminar.storage.wal.WalListener;
import io.laminar.storage.wal.WriteAheadLog;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * What the threads around one core share: the owner's writer publishes its latest barrier, the
 * core log's syncer (through {@link #onSync}) publishes what is durable, and anyone reads both.
 *
 * <p>Every field has a single writer, so nothing here needs a compare-and-set: the barrier fields
 * are written only by the owner thread, {@code syncedRecords} and {@code durableBarrierEpoch} only
 * in {@code onSync}, which the WAL calls one at a time, under its sync lock. Waiters are guarded by their queue.
 */
final class CoreState implements WalListener {

    private static final VarHandle LAST_RECORD_POSITION;

    static {
        try {
            LAST_RECORD_POSITION = MethodHandles.lookup().findVarHandle(CoreState.class, "lastRecordPosition",
                    long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final int core;
    private final Executor completions;
    private final java.util.List<PerCoreWalListener> listeners;
    private final Runnable completeWaiters = this::completeWaiters;
    private final PriorityQueue<Waiter> waiters = new PriorityQueue<>();

    volatile WriteAheadLog wal;
    /** The sequence the first record appended since open got: durable sequences count from it. */
    volatile long firstSequence;

    // Written by the syncer (onSync).
    private volatile long syncedRecords;
    private volatile long durableBarrierEpoch;

    // Written by the owner. The pending pair is published before the barrier is appended, so the
    // syncer that makes the barrier durable is sure to see it (see onSync).
    private volatile long pendingBarrierSequence = -1;
    private volatile long pendingBarrierEpoch;
    // Published after the barrier is appended, for the coordinator: position first, epoch last.
    private volatile long barrierPosition = -1;
    private volatile long barrierEpoch = -1;
    /** Position of the last record appended, or -1: truncation must keep at least that record. */
    @SuppressWarnings("unused") // accessed through LAST_RECORD_POSITION
    private volatile long lastRecordPosition = -1;

    private volatile boolean hasWaiters;
    private volatile RuntimeException failure;

    CoreState(int core, Executor completions, java.util.List<PerCoreWalListener> listeners) {
        this.core = core;
        this.completions = completions;
        this.listeners = listeners;
    }

    /** Called once after recovery, before any thread can append. */
    void recovered(WriteAheadLog wal, long nextSequence, long lastEpoch, long lastRecordPosition) {
        this.wal = wal;
        this.firstSequence = nextSequence;
        this.durableBarrierEpoch = lastEpoch;
        LAST_RECORD_POSITION.setVolatile(this, lastRecordPosition);
    }

    // ---- owner side --------------------------------------------------------------------------

    void beforeBarrier(long sequence, long epoch) {
        pendingBarrierSequence = sequence; // sequence first: onSync reads the epoch first
        pendingBarrierEpoch = epoch;
    }

    void afterBarrier(long position, long epoch) {
        barrierPosition = position;
        barrierEpoch = epoch;
    }

    void appended(long position) {
        // A release store, not a volatile one: the append path stays free of full fences.
        LAST_RECORD_POSITION.setRelease(this, position);
    }

    // ---- readers -----------------------------------------------------------------------------

    long durableSequence() {
        return firstSequence + syncedRecords - 1;
    }

    long durableBarrierEpoch() {
        return durableBarrierEpoch;
    }

    long barrierEpoch() {
        return barrierEpoch;
    }

    long barrierPosition() {
        return barrierPosition;
    }

    long lastRecordPosition() {
        return (long) LAST_RECORD_POSITION.getVolatile(this);
    }

    // ---- syncer side -------------------------------------------------------------------------

    /**
     * The core's single writer appends records in sequence order and the WAL syncs them in
     * position order, so the records its syncs made durable are exactly the first
     * {@code syncedRecords} sequences since open.
     */
    @Override
    public void onSync(int records, long bytes, long nanos) {
        syncedRecords += records; // single writer: the WAL calls onSync under its sync lock
        long durable = durableSequence();
        // Epoch first, then sequence (the owner writes them the other way round): the sequence read
        // belongs to this barrier or a later one, so "sequence durable" implies "this epoch's barrier
        // durable". A barrier that is missed because a newer one is pending is caught when that is.
        long epoch = pendingBarrierEpoch;
        long sequence = pendingBarrierSequence;
        if (sequence >= 0 && sequence <= durable && epoch > durableBarrierEpoch) {
            durableBarrierEpoch = epoch;
        }
        if (hasWaiters) {
            // Not on this thread: user code attached to the futures must not run under the WAL's sync lock.
            schedule();
        }
        for (var listener : listeners) {
            try {
                listener.onSync(core, records, bytes, nanos);
            } catch (RuntimeException ignored) {
                // a metrics listener must not fail the log
            }
        }
    }

    @Override
    public void onFailure(Throwable cause) {
        failure = new IllegalStateException("the log of core " + core + " failed: " + cause, cause);
        schedule();
        if (!listeners.isEmpty()) {
            try {
                completions.execute(() -> {
                    for (var listener : listeners) {
                        try {
                            listener.onFailure(core, cause);
                        } catch (RuntimeException ignored) {
                            // nothing to do: the failure is reported through the manager anyway
                        }
                    }
                });
            } catch (RejectedExecutionException closing) {
                // the manager is closing
            }
        }
    }

    // ---- durable acknowledgements ------------------------------------------------------------

    CompletableFuture<Long> whenDurable(long sequence) {
        var future = new CompletableFuture<Long>();
        synchronized (waiters) {
            if (sequence <= durableSequence()) {
                future.complete(sequence);
                return future;
            }
            if (failure != null) {
                future.completeExceptionally(failure);
                return future;
            }
            waiters.add(new Waiter(sequence, future));
            hasWaiters = true;
        }
        // A sync may have finished between the check and hasWaiters: complete on our own.
        schedule();
        return future;
    }

    private void schedule() {
        try {
            completions.execute(completeWaiters);
        } catch (RejectedExecutionException e) {
            completeWaiters(); // closing: the completion thread is gone, and no WAL lock is held any more
        }
    }

    private void completeWaiters() {
        var done = new ArrayList<Waiter>();
        RuntimeException failed;
        synchronized (waiters) {
            long durable = durableSequence();
            failed = failure;
            while (!waiters.isEmpty() && (failed != null || waiters.peek().sequence <= durable)) {
                done.add(waiters.poll());
            }
            hasWaiters = !waiters.isEmpty();
        }
        for (var waiter : done) {
            if (waiter.sequence <= durableSequence()) {
                waiter.future.complete(waiter.sequence);
            } else {
                waiter.future.completeExceptionally(failed);
            }
        }
    }

    /** Completes what is durable and fails the rest: the log is closed. */
    void closeWaiters(RuntimeException cause) {
        completeWaiters();
        var rest = new ArrayList<Waiter>();
        synchronized (waiters) {
            rest.addAll(waiters);
            waiters.clear();
            hasWaiters = false;
        }
        rest.forEach(w -> w.future.completeExceptionally(cause));
    }

    private record Waiter(long sequence, CompletableFuture<Long> future) implements Comparable<Waiter> {
        @Override
        public int compareTo(Waiter other) {
            return Long.compare(sequence, other.sequence);
        }
    }
}

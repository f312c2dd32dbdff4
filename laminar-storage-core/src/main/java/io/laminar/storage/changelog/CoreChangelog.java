package io.laminar.storage.changelog;

import io.laminar.storage.concurrent.Backoff;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.state.StateChangeFormat;
import io.laminar.storage.state.StateStore;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Supplier;
import org.jctools.queues.SpscArrayQueue;

/**
 * The Ring 0 end of one core's changelog: a {@link ChangelogSink} that its core thread (the single
 * producer) feeds and the {@link ChangelogDrainer} (the single consumer) empties into that core's
 * WAL. Plug it into the core's {@link io.laminar.storage.state.ChangelogAwareStateStore}.
 *
 * <p>A change is copied into a pooled entry and offered to a bounded JCTools SPSC queue; no I/O and
 * no lock on the core thread, and no allocation once the pool is warm and the entry arrays have
 * grown to the largest key and value seen. When the queue is full the {@link OverflowPolicy}
 * decides: wait (counted) or refuse; a change is never dropped.
 *
 * <p>Changes are numbered 1, 2, 3, ... per core in publication order (restarting at 1 with each
 * drainer). {@link #durableChanges()} tells how far they are fsynced.
 *
 * <h2>Aligned checkpoint barriers</h2>
 * With {@link ChangelogOptions#alignedBarriers()}, the core thread itself places its checkpoint
 * barriers: it calls {@link #pollCheckpoint} at a safe point of its loop (between two operations,
 * and also while idle). When the global epoch has advanced, that call takes the store's snapshot
 * (O(1)), records it with the source offsets as the core's {@link CoreCut}, and publishes a barrier
 * marker into the queue right after the core's last change. The drainer writes the epoch barrier
 * when it dequeues the marker, so the barrier's WAL position is exactly the cut of the snapshot:
 * replaying the WAL from the barrier onto the snapshot gives the core's state.
 *
 * <p>Thread-safety: the {@code on*} methods, {@link #pollCheckpoint} and {@link #publishedChanges()}
 * belong to the core thread; {@link #durableChanges()}, {@link #whenDurable} and {@link #cutAt} may
 * be called from any thread.
 */
public final class CoreChangelog implements ChangelogSink {

    private final int core;
    private final ChangelogDrainer drainer;
    private final OverflowPolicy overflowPolicy;
    private final int maxEntrySize;
    final SpscArrayQueue<ChangeEntry> queue;
    final SpscArrayQueue<ChangeEntry> free;
    private final ConcurrentLinkedQueue<Waiter> waiters = new ConcurrentLinkedQueue<>();
    private final Backoff backoff = new Backoff(100, 100, 10_000); // core thread: waiting for room

    private long published;
    private long cutEpoch; // core thread: the epoch of the last marker published
    private volatile CoreCut cut;
    private volatile long durable;
    private volatile TimedOut timedOut; // the latest batch whose replica timed out, or null
    volatile long backpressureWaits;
    volatile long backpressureWaitNanos;
    volatile long rejected;

    CoreChangelog(int core, ChangelogDrainer drainer, ChangelogOptions options, int maxEntrySize) {
        this.core = core;
        this.drainer = drainer;
        this.overflowPolicy = options.overflowPolicy();
        this.maxEntrySize = maxEntrySize;
        this.queue = new SpscArrayQueue<>(options.queueCapacity());
        this.free = new SpscArrayQueue<>(options.queueCapacity());
        this.cutEpoch = drainer.globalEpoch();
    }

    /**
     * The core thread's checkpoint safe point (aligned barriers only): if the global epoch has
     * advanced since the last call, snapshots {@code store}, captures {@code sourceOffsets} and
     * publishes the barrier marker for the new epoch right after the last change published; the
     * result is then available from {@link #cutAt}. Otherwise it does nothing but one volatile read.
     * Core thread only; call it often, also while the core is idle, or checkpoints time out.
     *
     * <p>The marker waits for room in a full queue whatever the {@link OverflowPolicy} (it is never
     * refused: a checkpoint must not be lost to a full queue).
     *
     * @param store         the store this changelog feeds
     * @param sourceOffsets the core's source positions at this point; called only at a cut; may be null
     * @return true if a cut was taken
     * @throws IllegalStateException if the drainer was not started with aligned barriers, or is closed
     */
    public boolean pollCheckpoint(StateStore store, Supplier<Map<String, String>> sourceOffsets) {
        return pollCheckpointWithContext(store, sourceOffsets == null ? null
                : () -> CutContext.ofSourceOffsets(sourceOffsets.get()));
    }

    /**
     * As {@link #pollCheckpoint(StateStore, Supplier)}, capturing at the cut, besides the state, the
     * core's whole {@link CutContext}: source positions, event-time watermark and small operator
     * states, all consistent with the snapshot (called at the cut only, on the core thread).
     *
     * @param context what the core reports at the cut; called only at a cut; may be null
     * @return true if a cut was taken
     */
    public boolean pollCheckpointWithContext(StateStore store, Supplier<CutContext> context) {
        long global = drainer.globalEpoch();
        if (global <= cutEpoch) {
            return false;
        }
        if (!drainer.alignedBarriers()) {
            throw new IllegalStateException("pollCheckpoint needs a drainer started with "
                    + "ChangelogOptions.withAlignedBarriers(true); core " + core + "'s drainer writes barriers itself");
        }
        drainer.checkRunning();
        var snapshot = store.snapshot();
        var captured = context == null ? null : context.get();
        cut = new CoreCut(core, global, snapshot, captured == null ? CutContext.EMPTY : captured);
        var entry = free.relaxedPoll();
        if (entry == null) {
            entry = new ChangeEntry();
        }
        entry.marker(global);
        if (!queue.offer(entry)) {
            waitForRoom(entry, false);
        }
        cutEpoch = global;
        drainer.wake();
        return true;
    }

    /**
     * The cut this core took at the barrier of {@code epoch}, or null if its latest cut is of
     * another epoch (it has not reached the barrier yet, or has moved past it). Any thread.
     */
    public CoreCut cutAt(long epoch) {
        var c = cut;
        return c != null && c.epoch() == epoch ? c : null;
    }

    /** The core this changelog belongs to. */
    public int core() {
        return core;
    }

    @Override
    public void onPut(byte[] key, byte[] value) {
        publish(StateChangeFormat.PUT, key, value);
    }

    @Override
    public void onDelete(byte[] key) {
        publish(StateChangeFormat.DELETE, key, null);
    }

    @Override
    public void onClear() {
        publish(StateChangeFormat.CLEAR, null, null);
    }

    /** How many changes this core has published. Core thread only. */
    public long publishedChanges() {
        return published;
    }

    /** Changes numbered up to this one are fsynced in the core's WAL. Any thread. */
    public long durableChanges() {
        return durable;
    }

    /**
     * A future that completes once change number {@code change} (and every earlier one) is fsynced,
     * or exceptionally if the drainer fails or closes first. Completed on the drainer thread: use the
     * {@code *Async} methods for slow work. Any thread.
     */
    public CompletableFuture<Long> whenDurable(long change) {
        if (durable >= change) {
            return CompletableFuture.completedFuture(change);
        }
        var waiter = new Waiter(change, new CompletableFuture<>());
        waiters.add(waiter);
        var late = timedOut;
        if (durable >= change) {
            waiter.future.complete(change);
        } else if (drainer.failure() != null) {
            waiter.future.completeExceptionally(drainer.failure());
        } else if (late != null && change <= late.change() && waiters.remove(waiter)) {
            // its batch already timed out waiting for its replica: no later publish covers it soon
            waiter.future.completeExceptionally(late.cause());
        }
        return waiter.future;
    }

    private void publish(byte op, byte[] key, byte[] value) {
        int size = StateChangeFormat.encodedLength(op, key == null ? 0 : key.length, value == null ? 0 : value.length);
        if (size > maxEntrySize) {
            throw new IllegalArgumentException("a change of " + size + " bytes on core " + core
                    + " is larger than the per-core WAL's maxEntrySize (" + maxEntrySize + " bytes)");
        }
        drainer.checkRunning();
        var entry = free.relaxedPoll();
        if (entry == null) {
            entry = new ChangeEntry(); // the pool is still warming up
        }
        entry.set(op, key, value, published + 1);
        if (!queue.offer(entry)) {
            waitForRoom(entry, overflowPolicy == OverflowPolicy.FAIL);
        }
        published++;
    }

    private void waitForRoom(ChangeEntry entry, boolean refuse) {
        if (refuse) {
            free.offer(entry);
            rejected++;
            throw new ChangelogFullException("the changelog queue of core " + core + " is full ("
                    + queue.capacity() + " changes): the drainer and the disk behind it are not keeping up. "
                    + "The change was not applied. Retry later, raise the queue capacity, or use "
                    + "OverflowPolicy.BACKPRESSURE to wait instead");
        }
        long started = System.nanoTime();
        drainer.wake();
        backoff.reset();
        while (!queue.offer(entry)) {
            drainer.checkRunning();
            backoff.idle();
        }
        backpressureWaits++;
        backpressureWaitNanos += System.nanoTime() - started;
    }

    /** Drainer thread: changes up to {@code change} are durable. */
    void publishDurable(long change) {
        if (change <= durable) {
            return;
        }
        durable = change;
        for (var it = waiters.iterator(); it.hasNext(); ) {
            var waiter = it.next();
            if (waiter.change <= change) {
                it.remove();
                waiter.future.complete(waiter.change);
            }
        }
    }

    /**
     * Drainer thread: the batches up to change {@code change} waited too long for their replica;
     * their waiters fail with {@code cause} (the changes may still become durable later).
     */
    void failWaitersUpTo(long change, RuntimeException cause) {
        timedOut = new TimedOut(change, cause);
        for (var it = waiters.iterator(); it.hasNext(); ) {
            var waiter = it.next();
            if (waiter.change <= change && waiter.change > durable) {
                it.remove();
                waiter.future.completeExceptionally(cause);
            }
        }
    }

    void failWaiters(Throwable cause) {
        for (Waiter waiter; (waiter = waiters.poll()) != null; ) {
            waiter.future.completeExceptionally(cause);
        }
    }

    private record Waiter(long change, CompletableFuture<Long> future) {
    }

    private record TimedOut(long change, RuntimeException cause) {
    }
}

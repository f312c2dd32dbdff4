package io.laminar.storage.percore;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The single-threaded writer of one core's log: exactly one thread, the core's owner, may use it
 * (the first thread that calls it becomes the owner; any other thread gets an
 * {@link IllegalStateException}).
 *
 * <p>{@link #append} puts the 24-byte entry header (kind, epoch, sequence; see
 * {@code CoreRecordFormat}) in front of the body and appends it to the core's
 * {@link io.laminar.storage.wal.WriteAheadLog}. It takes no lock and performs no compare-and-set of
 * its own (the WAL reserves space with one compare-and-set that only this thread ever attempts, so
 * it is never contended); it reads the global epoch (a volatile read) and publishes a few volatile
 * fields for the syncer and the coordinator. Once its scratch buffer has grown to the largest
 * entry seen, it allocates nothing.
 *
 * <p>Epochs: when the global epoch has moved since this core's last record, the next
 * {@link #append} first writes a barrier record for the new epoch. An idle owner must call
 * {@link #pollEpoch()} now and then so that a checkpoint does not wait for its next append.
 *
 * <p>Aligned barriers: after {@link #disableAutomaticBarriers()}, {@link #append} never writes a
 * barrier on its own (records keep the writer's epoch) and barriers are written only where the
 * owner asks, with {@link #barrier(long)} (or {@link #pollEpoch()}). The changelog drainer does this
 * so that a barrier lands exactly where the core thread took its state snapshot.
 */
public final class CoreWalWriter {

    private final PerCoreWalManager manager;
    private final CoreState state;
    private final int core;
    private Thread owner;
    private ByteBuffer scratch = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
    private long nextSequence;
    private long epoch;
    private boolean explicitBarriers;

    CoreWalWriter(PerCoreWalManager manager, CoreState state, long nextSequence, long epoch) {
        this.manager = manager;
        this.state = state;
        this.core = state.core;
        this.nextSequence = nextSequence;
        this.epoch = epoch;
    }

    /** The core this writer belongs to. */
    public int core() {
        return core;
    }

    /**
     * Appends an entry (the body's bytes from its position to its limit; the buffer is not
     * changed) and returns its sequence number. Durable later: see
     * {@link PerCoreWalManager#durableSequence} and {@link PerCoreWalManager#whenDurable}.
     *
     * @throws IllegalArgumentException if the body is larger than {@link PerCoreWalOptions#maxEntrySize()}
     * @throws IllegalStateException    if called by a thread other than the owner, or after close
     * @throws io.laminar.storage.wal.WalFailedException if the core's log has failed
     */
    public long append(ByteBuffer body) {
        checkOwner();
        int length = body.remaining();
        if (length > manager.options().maxEntrySize()) {
            throw new IllegalArgumentException("an entry of " + length + " bytes is larger than maxEntrySize ("
                    + manager.options().maxEntrySize() + " bytes) of the per-core WAL in " + manager.directory()
                    + "; split the entry or raise maxEntrySize");
        }
        if (!explicitBarriers) {
            barrierIfAdvanced();
        }
        long sequence = nextSequence;
        write(RecordKind.DATA, epoch, body, length);
        return sequence;
    }

    /** {@link #append(ByteBuffer)} for a byte array (wrapping it allocates; prefer a reused buffer). */
    public long append(byte[] body) {
        return append(ByteBuffer.wrap(body));
    }

    /**
     * Writes the barrier for the global epoch if this core has not written it yet: what an idle
     * owner (or a drainer loop) calls so that checkpoints need not wait for its next append.
     *
     * @return true if a barrier was written
     * @throws IllegalStateException if called by a thread other than the owner, or after close
     */
    public boolean pollEpoch() {
        checkOwner();
        return barrierIfAdvanced();
    }

    /**
     * From now on {@link #append} writes no barrier on its own: barriers are written only by
     * {@link #barrier(long)} and {@link #pollEpoch()}, at the points the owner chooses. Owner only.
     */
    public void disableAutomaticBarriers() {
        checkOwner();
        explicitBarriers = true;
    }

    /**
     * Writes the barrier of {@code barrierEpoch} now, unless this core already wrote it (or a later
     * one): the records appended before it belong to the earlier epoch, those after it to
     * {@code barrierEpoch}. Owner only.
     *
     * @return true if a barrier was written
     * @throws IllegalArgumentException if {@code barrierEpoch} is beyond the global epoch
     */
    public boolean barrier(long barrierEpoch) {
        checkOwner();
        long global = manager.epochForWriters();
        if (barrierEpoch > global) {
            throw new IllegalArgumentException("cannot write the barrier of epoch " + barrierEpoch + " on core " + core
                    + ": the global epoch is only " + global);
        }
        if (barrierEpoch <= epoch) {
            return false;
        }
        writeBarrier(barrierEpoch);
        return true;
    }

    /** The epoch of this core's latest record (or of its next one, if it has not written yet). Owner only. */
    public long epoch() {
        checkOwner();
        return epoch;
    }

    /** The sequence number the next record will get. Owner only. */
    public long nextSequence() {
        checkOwner();
        return nextSequence;
    }

    private boolean barrierIfAdvanced() {
        long global = manager.epochForWriters();
        if (global == epoch) {
            return false;
        }
        writeBarrier(global);
        return true;
    }

    private void writeBarrier(long global) {
        // Published before the append, so that the syncer which makes the barrier durable sees it.
        state.beforeBarrier(nextSequence, global);
        long position = write(RecordKind.BARRIER, global, null, 0);
        epoch = global;
        state.afterBarrier(position, global);
    }

    /** Appends one record with the next sequence number and returns its WAL position. */
    private long write(RecordKind kind, long recordEpoch, ByteBuffer body, int length) {
        int total = CoreRecordFormat.HEADER_LENGTH + length;
        if (scratch.capacity() < total) {
            scratch = ByteBuffer.allocate(Integer.highestOneBit(total - 1) << 1).order(ByteOrder.LITTLE_ENDIAN);
        }
        scratch.clear().limit(total);
        CoreRecordFormat.putHeader(scratch, kind, core, recordEpoch, nextSequence);
        if (length > 0) {
            scratch.put(CoreRecordFormat.HEADER_LENGTH, body, body.position(), length);
        }
        long position = state.wal.append(scratch); // copies the scratch buffer into the WAL's write buffer
        nextSequence++; // only once the WAL took the record: a failed append uses no number
        state.appended(position);
        return position;
    }

    /** Whether some thread has used this writer (and so owns it). Any thread. */
    synchronized boolean isUsed() {
        return owner != null;
    }

    private void checkOwner() {
        var current = Thread.currentThread();
        if (owner != current) {
            bindOwner(current);
        }
        manager.checkOpen();
    }

    private void bindOwner(Thread current) {
        synchronized (this) { // once per writer: the first caller becomes the owner
            if (owner == null) {
                owner = current;
                return;
            }
        }
        throw new IllegalStateException("the writer of core " + core + " belongs to thread '" + owner.getName()
                + "', but '" + current.getName() + "' called it: each core's log has exactly one writing thread");
    }
}

package io.laminar.storage.changelog;

import io.laminar.storage.FencedException;
import io.laminar.storage.StorageException;
import io.laminar.storage.concurrent.Backoff;
import io.laminar.storage.concurrent.Threads;
import io.laminar.storage.percore.CoreWalWriter;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.replication.ChangeReplicator;
import io.laminar.storage.replication.ReplicationTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Ring 1 changelog consumer: one background thread that takes the changes every core thread
 * published to its {@link CoreChangelog}, in batches of at most {@code batchLimit} per core, and
 * appends each as a data record through that core's {@link CoreWalWriter}. It is the single writer
 * of every core's WAL, so it also writes the epoch barriers ({@link CoreWalWriter#pollEpoch()} on
 * every pass), and it publishes per core how far the changes are durable.
 *
 * <p>With {@link ChangelogOptions#alignedBarriers()} the drainer writes no barrier on its own: it
 * writes core {@code c}'s barrier of epoch {@code e} when it dequeues the marker that core thread
 * published with {@link CoreChangelog#pollCheckpoint}, so the barrier sits exactly at the cut of the
 * core's snapshot.
 *
 * <p>Each record's body is a {@link io.laminar.storage.state.StateChangeFormat} change holding the
 * key and value bytes, so replaying a core's WAL into
 * {@link io.laminar.storage.state.ChangelogAwareStateStore#replayer()} rebuilds its state.
 *
 * <p>If an append fails (the WAL failed), the drainer stops: every later change on a core thread
 * throws, pending {@link CoreChangelog#whenDurable} futures fail, and the manager must be reopened.
 * Each of these exceptions has the WAL's failure (what its write or fdatasync threw) as its cause.
 *
 * <h2>Replication</h2>
 * Started with a {@link ChangeReplicator}, the drainer hands it every data record it appends (with
 * the core, epoch and sequence the WAL gave it) and ends a replicated batch after each pass. A change
 * is then durable only once its core's WAL has fdatasync'd it <em>and</em> the replicator has
 * acknowledged its batch. A batch that waits for its replica longer than
 * {@link ChangeReplicator#ackTimeout()} fails its changes' futures with a
 * {@link ReplicationTimeoutException} (never completes them on the local fsync alone); the
 * replicator keeps retrying it, and later batches complete once it succeeds. A replicator that fails
 * for good ({@link ChangeReplicator#failure()}, e.g. fenced by a new owner) stops the drainer as a
 * failed WAL does, with that failure as the cause.
 *
 * <p>Thread-safety: {@link #changelog}, {@link #statistics()} and {@link #close()} may be called
 * from any thread; each {@link CoreChangelog} has its own threading rules.
 */
public final class ChangelogDrainer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ChangelogDrainer.class);
    private static final int PENDING_BATCHES = 1024;
    private static final long IDLE_PARK_NANOS = 100_000;

    private final PerCoreWalManager wal;
    private final ChangelogOptions options;
    private final CoreChangelog[] changelogs;
    private final CoreWalWriter[] writers;
    private final ChangeReplicator replicator; // null: local durability only
    private final long ackTimeoutNanos;
    private final Thread thread;
    private final Statistics statistics = new Statistics();

    // Drainer thread only: per core, batches appended but not yet known durable (change, sequence).
    private final long[][] pendingChange;
    private final long[][] pendingSequence;
    private final long[][] pendingSince; // System.nanoTime() when the batch was appended
    private final int[] pendingHead;
    private final int[] pendingCount;
    private boolean batchOpen; // drainer thread: records handed to the replicator since the last endBatch
    private ByteBuffer scratch = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);

    private volatile boolean stopping;
    private volatile boolean parked;
    private volatile RuntimeException failure;

    private ChangelogDrainer(PerCoreWalManager wal, ChangelogOptions options, ChangeReplicator replicator) {
        this.wal = wal;
        this.options = options;
        this.replicator = replicator;
        this.ackTimeoutNanos = replicator == null ? Long.MAX_VALUE : replicator.ackTimeout().toNanos();
        int cores = wal.cores();
        changelogs = new CoreChangelog[cores];
        writers = new CoreWalWriter[cores];
        pendingChange = new long[cores][PENDING_BATCHES];
        pendingSequence = new long[cores][PENDING_BATCHES];
        pendingSince = new long[cores][PENDING_BATCHES];
        pendingHead = new int[cores];
        pendingCount = new int[cores];
        int maxEntrySize = wal.options().maxEntrySize();
        for (int core = 0; core < cores; core++) {
            changelogs[core] = new CoreChangelog(core, this, options, maxEntrySize);
            writers[core] = wal.writer(core);
        }
        thread = Threads.daemon("laminar-changelog-drainer", this::run);
    }

    /**
     * Starts a drainer over {@code wal}: from now on it is the only writer of every core's log.
     */
    public static ChangelogDrainer start(PerCoreWalManager wal, ChangelogOptions options) {
        return start(wal, options, null);
    }

    /**
     * As {@link #start(PerCoreWalManager, ChangelogOptions)}, replicating every change through
     * {@code replicator} (already {@link ChangeReplicator#open opened}; null: none) before it counts
     * as durable. The caller keeps owning the replicator and closes it after the drainer.
     */
    public static ChangelogDrainer start(PerCoreWalManager wal, ChangelogOptions options, ChangeReplicator replicator) {
        var drainer = new ChangelogDrainer(wal, options, replicator);
        drainer.thread.start();
        return drainer;
    }

    /**
     * Why the drainer stopped making changes durable (a WAL failure, or the replicator's failure, e.g.
     * a {@link io.laminar.storage.FencedException}), or empty while it runs. Any thread.
     */
    public Optional<RuntimeException> failureCause() {
        return Optional.ofNullable(failure);
    }

    /** The changelog that core {@code core}'s thread publishes to. */
    public CoreChangelog changelog(int core) {
        if (core < 0 || core >= changelogs.length) {
            throw new IllegalArgumentException("core " + core + " does not exist: the per-core WAL in "
                    + wal.directory() + " has cores 0 to " + (changelogs.length - 1));
        }
        return changelogs[core];
    }

    /** Live counters. */
    public ChangelogStatistics statistics() {
        return statistics;
    }

    /**
     * Drains what the cores published before this call, stops the thread and fails the durable
     * futures still pending. Does not close the per-core WAL (its owner does).
     */
    @Override
    public void close() {
        stopping = true;
        LockSupport.unpark(thread);
        Threads.joinUninterruptibly(thread);
    }

    RuntimeException failure() {
        return failure;
    }

    void checkRunning() {
        var f = failure;
        if (f instanceof FencedException) {
            // Another owner has the shard: reopening would not help, and callers match on the type.
            throw new FencedException("the changelog drainer of " + wal.directory() + " has stopped: " + f.getMessage(),
                    f);
        }
        if (f != null) {
            throw new StorageException("the changelog drainer of " + wal.directory() + " has failed: " + f.getMessage()
                    + "; no further change can be made durable. Reopen the per-core WAL to recover", f);
        }
        if (stopping) {
            throw new IllegalStateException("the changelog drainer of " + wal.directory() + " is closed");
        }
    }

    void wake() {
        if (parked) {
            LockSupport.unpark(thread);
        }
    }

    long globalEpoch() {
        return wal.epoch();
    }

    boolean alignedBarriers() {
        return options.alignedBarriers();
    }

    private void run() {
        try {
            if (options.alignedBarriers()) {
                for (var writer : writers) {
                    writer.disableAutomaticBarriers(); // the drainer thread becomes each writer's owner here
                }
            }
            var backoff = new Backoff(49, 10, IDLE_PARK_NANOS);
            while (true) {
                int work = 0;
                for (int core = 0; core < changelogs.length; core++) {
                    work += drain(core);
                }
                if (replicator != null && batchOpen) {
                    replicator.endBatch();
                    batchOpen = false;
                }
                publishDurable();
                if (work > 0) {
                    backoff.reset();
                    continue;
                }
                if (stopping) {
                    finishPending();
                    return;
                }
                if (!backoff.spinOrYield()) {
                    parked = true;
                    LockSupport.parkNanos(this, backoff.parkNanos());
                    parked = false;
                }
            }
        } catch (RuntimeException e) {
            failure = e;
            log.error("changelog drainer of {} failed; core threads can no longer make changes durable",
                    wal.directory(), e);
        } finally {
            var cause = failure != null ? failure
                    : new IllegalStateException("the changelog drainer of " + wal.directory() + " was closed");
            for (var changelog : changelogs) {
                changelog.failWaiters(cause);
            }
        }
    }

    /** Takes up to batchLimit changes of one core and appends them; returns how many. */
    private int drain(int core) {
        var writer = writers[core];
        if (!options.alignedBarriers()) {
            writer.pollEpoch();
        }
        var changelog = changelogs[core];
        int depth = changelog.queue.size();
        if (depth > statistics.highWater) {
            statistics.highWater = depth;
        }
        int drained = 0;
        long lastChange = 0;
        long lastSequence = -1;
        for (ChangeEntry entry; drained < options.batchLimit() && (entry = changelog.queue.relaxedPoll()) != null; ) {
            if (entry.op == ChangeEntry.MARKER) {
                writer.barrier(entry.changeNumber); // exactly after the core's last change before its snapshot
                changelog.free.offer(entry);
                drained++;
                continue;
            }
            int length = entry.encodedLength();
            if (scratch.capacity() < length) {
                scratch = ByteBuffer.allocate(Integer.highestOneBit(length - 1) << 1).order(ByteOrder.LITTLE_ENDIAN);
            }
            scratch.clear();
            entry.encodeTo(scratch);
            scratch.flip();
            lastSequence = writer.append(scratch);
            if (replicator != null) {
                replicator.append(core, writer.epoch(), lastSequence, scratch);
                batchOpen = true;
            }
            lastChange = entry.changeNumber;
            changelog.free.offer(entry); // if the pool is full the entry goes to the garbage collector
            drained++;
        }
        if (lastSequence >= 0) {
            remember(core, lastChange, lastSequence);
        }
        if (drained > 0) {
            statistics.drained += drained;
            statistics.batches++;
        }
        return drained;
    }

    private void remember(int core, long change, long sequence) {
        int count = pendingCount[core];
        if (count == PENDING_BATCHES) {
            // Full: fold this batch into the newest entry; durability is then published a bit later.
            int newest = (pendingHead[core] + count - 1) % PENDING_BATCHES;
            pendingChange[core][newest] = change;
            pendingSequence[core][newest] = sequence;
            return;
        }
        int slot = (pendingHead[core] + count) % PENDING_BATCHES;
        pendingChange[core][slot] = change;
        pendingSequence[core][slot] = sequence;
        pendingSince[core][slot] = System.nanoTime();
        pendingCount[core] = count + 1;
    }

    private void publishDurable() {
        if (replicator != null) {
            var replicationFailure = replicator.failure();
            if (replicationFailure.isPresent()) {
                // Fenced, or replication is impossible for good: nothing more may be acknowledged.
                throw replicationFailure.get();
            }
        }
        for (int core = 0; core < changelogs.length; core++) {
            if (pendingCount[core] == 0) {
                continue;
            }
            var walFailure = wal.failure(core);
            if (walFailure.isPresent()) {
                // Nothing appended after the failure will ever be durable: stop rather than let
                // core threads and durable futures wait forever.
                var cause = walFailure.get();
                throw new StorageException("the WAL of core " + core + " in " + wal.directory() + " failed (" + cause
                        + "); changes after number " + changelogs[core].durableChanges() + " of that core are not "
                        + "durable. Check the disk, then reopen the per-core WAL (restart the application) to "
                        + "recover what is durable", cause);
            }
            long durableSequence = wal.durableSequence(core);
            if (replicator != null) {
                durableSequence = Math.min(durableSequence, replicator.replicatedSequence(core));
            }
            long durableChange = -1;
            while (pendingCount[core] > 0 && pendingSequence[core][pendingHead[core]] <= durableSequence) {
                durableChange = pendingChange[core][pendingHead[core]];
                pendingHead[core] = (pendingHead[core] + 1) % PENDING_BATCHES;
                pendingCount[core]--;
            }
            if (durableChange >= 0) {
                changelogs[core].publishDurable(durableChange);
            }
            if (replicator != null) {
                failTimedOut(core);
            }
        }
    }

    /** Fails the futures of the batches of {@code core} that waited longer than the ack timeout. */
    private void failTimedOut(int core) {
        long now = System.nanoTime();
        long timedOutChange = -1;
        while (pendingCount[core] > 0 && now - pendingSince[core][pendingHead[core]] > ackTimeoutNanos) {
            timedOutChange = pendingChange[core][pendingHead[core]];
            pendingHead[core] = (pendingHead[core] + 1) % PENDING_BATCHES;
            pendingCount[core]--;
        }
        if (timedOutChange >= 0) {
            var problem = replicator.problem().map(p -> " (" + p + ")").orElse("");
            changelogs[core].failWaitersUpTo(timedOutChange, new ReplicationTimeoutException("the changes of core "
                    + core + " up to number " + timedOutChange + " were not acknowledged by the replicas within "
                    + replicator.ackTimeout() + problem + "; they are not acknowledged as durable. They are "
                    + "retried in order and may still become durable: check the replicas, then retry the task"));
        }
    }

    /** On close: wait a little for the last batches to become durable so their futures complete. */
    private void finishPending() {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            publishDurable();
            boolean done = true;
            for (int count : pendingCount) {
                done &= count == 0;
            }
            if (done) {
                return;
            }
            LockSupport.parkNanos(100_000);
        }
    }

    /** Counters written by the drainer thread, summed with the cores' on read. */
    private final class Statistics implements ChangelogStatistics {
        volatile long drained;
        volatile long batches;
        volatile long highWater;

        @Override
        public long entriesDrained() {
            return drained;
        }

        @Override
        public long batches() {
            return batches;
        }

        @Override
        public long queueDepth() {
            long depth = 0;
            for (var changelog : changelogs) {
                depth += changelog.queue.size();
            }
            return depth;
        }

        @Override
        public long queueDepthHighWaterMark() {
            return highWater;
        }

        @Override
        public long backpressureWaits() {
            long sum = 0;
            for (var changelog : changelogs) {
                sum += changelog.backpressureWaits;
            }
            return sum;
        }

        @Override
        public long backpressureWaitNanos() {
            long sum = 0;
            for (var changelog : changelogs) {
                sum += changelog.backpressureWaitNanos;
            }
            return sum;
        }

        @Override
        public long rejected() {
            long sum = 0;
            for (var changelog : changelogs) {
                sum += changelog.rejected;
            }
            return sum;
        }
    }
}

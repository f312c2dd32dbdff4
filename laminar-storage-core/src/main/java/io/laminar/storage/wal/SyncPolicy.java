package io.laminar.storage.wal;

import java.time.Duration;

/**
 * When the write-ahead log calls fdatasync ({@code FileChannel.force(false)}) for plain
 * {@link WriteAheadLog#append appends}.
 *
 * <p>Whatever the policy, {@link WriteAheadLog#appendDurable} and {@link WriteAheadLog#sync()} ask
 * for a prompt sync and return a future that completes once an fdatasync covers the record; the
 * policy governs the records appended without asking.
 *
 * <ul>
 *   <li>{@link EveryAppend}: {@code append} returns only once its record is durable. Concurrent
 *       appenders share one fdatasync (the first to arrive syncs for everyone waiting).</li>
 *   <li>{@link GroupCommit} (the default): a background syncer puts every record written since the
 *       last sync behind one fdatasync. It starts a sync as soon as records are pending, lingering
 *       while more records keep arriving, but at most {@code maxWait} and about as long as an
 *       fdatasync takes, and never beyond {@code maxBatchRecords} records. It does not linger while
 *       waking the threads of one sync's appends takes half of a batch's disk time or more (its
 *       fdatasync, and with O_DIRECT its write too): the CPUs bound the log then, and the next batch
 *       gathers during the fdatasync instead.</li>
 *   <li>{@link Interval}: the syncer syncs whatever was written every {@code period}.</li>
 *   <li>{@link None}: records reach the operating system promptly but are synced only on request,
 *       on segment rotation and on close. A machine crash can lose them.</li>
 * </ul>
 */
public sealed interface SyncPolicy {

    /** Sync before every {@code append} returns. */
    static SyncPolicy everyAppend() {
        return new EveryAppend();
    }

    /** Group commit with the given maximum linger and batch size. */
    static SyncPolicy groupCommit(Duration maxWait, int maxBatchRecords) {
        return new GroupCommit(maxWait, maxBatchRecords);
    }

    /** Group commit lingering at most 1 ms and at most 4096 records per sync. */
    static SyncPolicy groupCommit() {
        return new GroupCommit(Duration.ofMillis(1), 4096);
    }

    /** Sync every {@code period}. */
    static SyncPolicy interval(Duration period) {
        return new Interval(period);
    }

    /** Sync only on request. */
    static SyncPolicy none() {
        return new None();
    }

    /** See {@link SyncPolicy}. */
    record EveryAppend() implements SyncPolicy {
    }

    /** See {@link SyncPolicy}. */
    record GroupCommit(Duration maxWait, int maxBatchRecords) implements SyncPolicy {
        public GroupCommit {
            if (maxWait == null || maxWait.isNegative() || maxWait.compareTo(Duration.ofSeconds(10)) > 0) {
                throw new IllegalArgumentException(
                        "groupCommit maxWait must be between 0 and 10s, but was " + maxWait);
            }
            if (maxBatchRecords < 1) {
                throw new IllegalArgumentException(
                        "groupCommit maxBatchRecords must be at least 1, but was " + maxBatchRecords);
            }
        }
    }

    /** See {@link SyncPolicy}. */
    record Interval(Duration period) implements SyncPolicy {
        public Interval {
            if (period == null || period.isNegative() || period.isZero()) {
                throw new IllegalArgumentException("interval period must be positive, but was " + period);
            }
        }
    }

    /** See {@link SyncPolicy}. */
    record None() implements SyncPolicy {
    }
}

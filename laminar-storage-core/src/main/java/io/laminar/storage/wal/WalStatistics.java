package io.laminar.storage.wal;

/**
 * Counters of one {@link WriteAheadLog}, read by monitoring (the starter's Micrometer binder reads
 * them as functions, so the append path never calls a metrics library).
 *
 * <p>Every method is thread-safe and cheap; values only grow, except {@link #lastSyncNanos()} and
 * {@link #unsyncedBytes()}. Records and bytes are counted when the syncer writes them to the file.
 */
public interface WalStatistics {

    /** Records written to the log file since it was opened. */
    long appends();

    /** Payload bytes of those records. */
    long appendedBytes();

    /** fdatasync calls that completed. */
    long syncs();

    /** Records made durable by those syncs; divided by {@link #syncs()} it gives records per sync. */
    long syncedRecords();

    /** Total time spent in fdatasync, in nanoseconds. */
    long syncNanosTotal();

    /** Duration of the most recent fdatasync, in nanoseconds. */
    long lastSyncNanos();

    /** Longest fdatasync so far, in nanoseconds. */
    long maxSyncNanos();

    /** Bytes appended but not yet covered by a sync. */
    long unsyncedBytes();

    /** Torn tails repaired when the log was opened (0 or 1 per open). */
    long tornTailRepairs();

    /** Bytes cut off by those repairs (and by an opt-in truncation at corruption). */
    long truncatedBytes();

    /** Segments deleted by {@link WriteAheadLog#truncateBefore}. */
    long segmentsDeleted();

    /** Times an appender waited because the write buffer was full. */
    long bufferFullWaits();
}

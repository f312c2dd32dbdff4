package io.laminar.storage.changelog;

/**
 * Counters of a {@link ChangelogDrainer}, summed over its cores. Thread-safe, cheap, monotonic
 * except {@link #queueDepth()}.
 */
public interface ChangelogStatistics {

    /** Changes appended to the per-core WALs. */
    long entriesDrained();

    /** Non-empty batches taken from the queues. */
    long batches();

    /** Changes waiting in the queues now. */
    long queueDepth();

    /** The most changes ever seen waiting in one core's queue. */
    long queueDepthHighWaterMark();

    /** Times a core thread found its queue full and waited ({@link OverflowPolicy#BACKPRESSURE}). */
    long backpressureWaits();

    /** Total time core threads spent waiting, in nanoseconds. */
    long backpressureWaitNanos();

    /** Changes refused with {@link ChangelogFullException} ({@link OverflowPolicy#FAIL}). */
    long rejected();
}

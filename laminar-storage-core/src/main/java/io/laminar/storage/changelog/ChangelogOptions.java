package io.laminar.storage.changelog;

import java.util.Objects;

/**
 * Settings of a {@link ChangelogDrainer}. Immutable; validated on construction.
 *
 * @param queueCapacity  changes each core's queue holds (rounded up to a power of two by JCTools)
 * @param batchLimit     the most changes the drainer takes from one core before visiting the next
 * @param overflowPolicy what a core thread does when its queue is full
 * @param alignedBarriers whether epoch barriers are aligned with the core threads' state: if true
 *                       the drainer writes a core's barrier only when it dequeues the marker the core
 *                       thread published with {@link CoreChangelog#pollCheckpoint}, so the barrier's
 *                       WAL position is exactly the cut of the snapshot taken there (every core
 *                       thread must then call {@code pollCheckpoint} in its loop, idle or not); if
 *                       false the drainer writes a barrier whenever it notices the epoch moved
 */
public record ChangelogOptions(int queueCapacity, int batchLimit, OverflowPolicy overflowPolicy,
        boolean alignedBarriers) {

    /** Options without aligned barriers. */
    public ChangelogOptions(int queueCapacity, int batchLimit, OverflowPolicy overflowPolicy) {
        this(queueCapacity, batchLimit, overflowPolicy, false);
    }

    public ChangelogOptions {
        Objects.requireNonNull(overflowPolicy, "overflowPolicy");
        if (queueCapacity < 2 || queueCapacity > (1 << 24)) {
            throw new IllegalArgumentException(
                    "queueCapacity must be between 2 and 16777216, but was " + queueCapacity);
        }
        if (batchLimit < 1) {
            throw new IllegalArgumentException("batchLimit must be at least 1, but was " + batchLimit);
        }
    }

    /** 16384 changes per core, batches of 1024, backpressure, barriers not aligned. */
    public static ChangelogOptions defaults() {
        return new ChangelogOptions(16384, 1024, OverflowPolicy.BACKPRESSURE);
    }

    public ChangelogOptions withQueueCapacity(int capacity) {
        return new ChangelogOptions(capacity, batchLimit, overflowPolicy, alignedBarriers);
    }

    public ChangelogOptions withBatchLimit(int limit) {
        return new ChangelogOptions(queueCapacity, limit, overflowPolicy, alignedBarriers);
    }

    public ChangelogOptions withOverflowPolicy(OverflowPolicy policy) {
        return new ChangelogOptions(queueCapacity, batchLimit, policy, alignedBarriers);
    }

    /** These options with aligned barriers on or off; see {@link #alignedBarriers()}. */
    public ChangelogOptions withAlignedBarriers(boolean aligned) {
        return new ChangelogOptions(queueCapacity, batchLimit, overflowPolicy, aligned);
    }
}

package io.laminar.storage.changelog;

import java.util.Objects;

/**
 * Settings of a {@link ChangelogDrainer}. Immutable; validated on construction.
 *
 * @param queueCapacity  changes each core's queue holds (rounded up to a power of two by JCTools)
 * @param batchLimit     the most changes the drainer takes from one core before visiting the next
 * @param overflowPolicy what a core thread does when its queue is full
 */
public record ChangelogOptions(int queueCapacity, int batchLimit, OverflowPolicy overflowPolicy) {

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

    /** 16384 changes per core, batches of 1024, backpressure. */
    public static ChangelogOptions defaults() {
        return new ChangelogOptions(16384, 1024, OverflowPolicy.BACKPRESSURE);
    }

    public ChangelogOptions withQueueCapacity(int capacity) {
        return new ChangelogOptions(capacity, batchLimit, overflowPolicy);
    }

    public ChangelogOptions withBatchLimit(int limit) {
        return new ChangelogOptions(queueCapacity, limit, overflowPolicy);
    }

    public ChangelogOptions withOverflowPolicy(OverflowPolicy policy) {
        return new ChangelogOptions(queueCapacity, batchLimit, policy);
    }
}

package io.laminar.storage.changelog;

/**
 * What a core thread does when its changelog queue is full because the drainer (and behind it the
 * disk) cannot keep up. A change is never dropped silently (the Rust original dropped it).
 */
public enum OverflowPolicy {

    /**
     * The core thread waits, spinning, then yielding, then parking for a few microseconds at a time,
     * until the drainer frees a slot. Nothing is lost; the cost is Ring 0 latency while the disk is
     * behind. Each wait is counted ({@link ChangelogStatistics#backpressureWaits()}) with its
     * duration. The default.
     */
    BACKPRESSURE,

    /**
     * The change is refused with {@link ChangelogFullException}; the state store does not apply it,
     * so state and changelog still agree. For callers that would rather shed load than wait.
     */
    FAIL
}

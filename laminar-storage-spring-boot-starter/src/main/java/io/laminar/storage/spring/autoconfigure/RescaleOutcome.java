package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.checkpoint.RescaleReport;

/**
 * What the rescale that opened the per-core WAL bean did (null: none), handed to the runtime bean so
 * that its recovery report carries it. Written once while the WAL bean is created, read when the
 * runtime bean is; thread-safe.
 */
public final class RescaleOutcome {

    private volatile RescaleReport report;

    RescaleOutcome() {
    }

    void set(RescaleReport report) {
        this.report = report;
    }

    /** The rescale's report, or null if the WAL was opened without one. */
    public RescaleReport get() {
        return report;
    }
}

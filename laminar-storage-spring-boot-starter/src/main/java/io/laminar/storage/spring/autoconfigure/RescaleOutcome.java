package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.checkpoint.RecoveredState;

/**
 * The state the rescale that opened the per-core WAL bean moved (null: no rescale), handed to the
 * runtime bean, which starts from it (its recovery report carries the rescale). Written once while
 * the WAL bean is created, read when the runtime bean is; thread-safe.
 */
public final class RescaleOutcome {

    private volatile RecoveredState recovered;

    RescaleOutcome() {
    }

    void set(RecoveredState recovered) {
        this.recovered = recovered;
    }

    /** The rescaled state, or null if the WAL was opened without a rescale. */
    public RecoveredState get() {
        return recovered;
    }
}

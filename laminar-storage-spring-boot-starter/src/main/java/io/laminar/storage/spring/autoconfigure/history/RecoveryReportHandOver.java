package io.laminar.storage.spring.autoconfigure.history;

import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.autoconfigure.LaminarRuntimeLifecycle;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * Hands the {@link LaminarRuntime}'s recovery report to the {@link CheckpointHistory} once the
 * runtime has started: in the phase right after {@link LaminarRuntimeLifecycle#PHASE}, so before the
 * web server starts and before anything can read the history. From then on the history also
 * measures the age of "no checkpoint yet" from the end of the recovery, not from its own creation.
 *
 * <p>If the runtime was not started (its lifecycle is disabled or replaced by one that starts it
 * later), there is no report yet and nothing is handed over: the endpoint and the metrics then read
 * the report from the runtime itself once it exists. Thread-safe.
 */
final class RecoveryReportHandOver implements SmartLifecycle {

    /** The phase: right after the runtime's. */
    static final int PHASE = LaminarRuntimeLifecycle.PHASE + 1;

    private static final Logger log = LoggerFactory.getLogger(RecoveryReportHandOver.class);

    private final LaminarRuntime runtime;
    private final CheckpointHistory history;
    private volatile boolean running;

    RecoveryReportHandOver(LaminarRuntime runtime, CheckpointHistory history) {
        this.runtime = Objects.requireNonNull(runtime, "runtime");
        this.history = Objects.requireNonNull(history, "history");
    }

    @Override
    public void start() {
        var report = runtime.recoveryReport();
        if (report.isPresent()) {
            history.recovered(report.get());
        } else {
            log.debug("the laminar-storage runtime over {} has not started yet: no recovery report for the "
                    + "checkpoint history", runtime.wal().directory());
        }
        running = true;
    }

    @Override
    public void stop() {
        running = false;
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        return PHASE;
    }
}

package io.laminar.storage.spring.observation;

import io.laminar.storage.checkpoint.CheckpointListener;
import io.laminar.storage.checkpoint.CheckpointStep;
import io.laminar.storage.checkpoint.RecoveryListener;
import io.laminar.storage.checkpoint.RecoveryReport;
import io.laminar.storage.spring.observation.LaminarStorageObservationDocumentation.CheckpointKeys;
import io.laminar.storage.spring.observation.LaminarStorageObservationDocumentation.RecoveryKeys;
import io.laminar.storage.store.CheckpointManifest;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Turns the runtime's checkpoint and recovery events into Micrometer observations, so that
 * tracing and metrics come from one place (see {@link LaminarStorageObservationDocumentation} for
 * names and keys): a {@code laminar.storage.checkpoint} observation per checkpoint with a
 * {@code laminar.storage.checkpoint.step} child per step, and a {@code laminar.storage.recovery}
 * observation with a {@code laminar.storage.recovery.step} child per checkpoint downloaded and one
 * for the WAL replay.
 *
 * <p>A {@link CheckpointListener} and a {@link RecoveryListener}: the checkpoint events arrive on
 * the checkpoint thread, one checkpoint at a time, the recovery events on the thread that starts the
 * runtime. No scope is opened on those threads (the observations are started and stopped around
 * code the library runs, not around a callback of this class). Thread-safe.
 */
public final class LaminarStorageObservations implements CheckpointListener, RecoveryListener {

    private static final String BARRIER = "barrier";
    private static final String UPLOAD = "upload";
    private static final String PUBLISH = "publish";
    private static final String CLEANUP = "cleanup";
    /** Events of the cleanup step; with a meter registry, counters {@code laminar.storage.checkpoint.step.retention} and {@code .truncation}. */
    private static final Observation.Event RETENTION_EVENT = Observation.Event.of("retention");
    private static final Observation.Event TRUNCATION_EVENT = Observation.Event.of("truncation");

    private final ObservationRegistry registry;
    private final String store;
    private final Map<Long, Running> checkpoints = new ConcurrentHashMap<>();
    private volatile Observation recovery;
    private volatile Observation recoveryStep;

    /**
     * @param registry where the observations go
     * @param store    the low-cardinality name of the checkpoint store ({@code filesystem}, {@code s3})
     */
    public LaminarStorageObservations(ObservationRegistry registry, String store) {
        this.registry = Objects.requireNonNull(registry, "registry");
        this.store = Objects.requireNonNull(store, "store");
    }

    // ---- checkpoints -------------------------------------------------------------------------

    /** A checkpoint under way and its current step. */
    private static final class Running {
        final Observation checkpoint;
        Observation step;
        boolean cleanupFailed;

        Running(Observation checkpoint) {
            this.checkpoint = checkpoint;
        }
    }

    @Override
    public void started(long checkpointId) {
        var observation = LaminarStorageObservationDocumentation.CHECKPOINT.observation(registry)
                .lowCardinalityKeyValue(CheckpointKeys.STORE.withValue(store))
                .highCardinalityKeyValue(CheckpointKeys.CHECKPOINT_ID.withValue(Long.toString(checkpointId)))
                .start();
        var running = new Running(observation);
        running.step = step(observation, BARRIER);
        checkpoints.put(checkpointId, running);
    }

    @Override
    public void step(long checkpointId, CheckpointStep step) {
        var running = checkpoints.get(checkpointId);
        if (running == null) {
            return; // started before this listener was added
        }
        String next = switch (step) {
            case CUT -> UPLOAD;
            case STATE_FILES_WRITTEN -> PUBLISH;
            case MANIFEST_PUBLISHED -> CLEANUP;
            case RETENTION, TRUNCATION -> null; // parts of the cleanup step
        };
        if (next != null) {
            stopStep(running, null);
            running.step = step(running.checkpoint, next);
        } else if (running.step != null) {
            running.step.event(step == CheckpointStep.RETENTION ? RETENTION_EVENT : TRUNCATION_EVENT);
        }
    }

    @Override
    public void publishedButNotCleanedUp(CheckpointManifest manifest, CheckpointStep step, Throwable cause) {
        var running = checkpoints.get(manifest.checkpointId());
        if (running != null && running.step != null) {
            running.cleanupFailed = true;
            running.step.error(cause);
        }
    }

    @Override
    public void completed(CheckpointManifest manifest, Duration duration, long writtenBytes) {
        var running = checkpoints.remove(manifest.checkpointId());
        if (running == null) {
            return;
        }
        stopStep(running, null);
        running.checkpoint.lowCardinalityKeyValue(CheckpointKeys.OUTCOME.withValue("completed"))
                .highCardinalityKeyValue(CheckpointKeys.WRITTEN_BYTES.withValue(Long.toString(writtenBytes)))
                .stop();
    }

    @Override
    public void failed(long checkpointId, Throwable cause) {
        var running = checkpoints.remove(checkpointId);
        if (running == null) {
            return;
        }
        stopStep(running, cause);
        running.checkpoint.lowCardinalityKeyValue(CheckpointKeys.OUTCOME.withValue("failed")).error(cause).stop();
    }

    private Observation step(Observation parent, String step) {
        return LaminarStorageObservationDocumentation.CHECKPOINT_STEP.observation(registry)
                .parentObservation(parent)
                .contextualName("checkpoint " + step)
                .lowCardinalityKeyValue(CheckpointKeys.STEP.withValue(step))
                .start();
    }

    private static void stopStep(Running running, Throwable cause) {
        var step = running.step;
        if (step == null) {
            return;
        }
        running.step = null;
        if (cause != null) {
            step.error(cause);
        }
        boolean failed = cause != null || running.cleanupFailed;
        step.lowCardinalityKeyValue(CheckpointKeys.OUTCOME.withValue(failed ? "failed" : "completed")).stop();
    }

    // ---- recovery ----------------------------------------------------------------------------

    @Override
    public void started() {
        recovery = LaminarStorageObservationDocumentation.RECOVERY.observation(registry).start();
    }

    @Override
    public void restoreStarted(long checkpointId) {
        recoveryStep = recoveryStep("download")
                .highCardinalityKeyValue(RecoveryKeys.CHECKPOINT_ID.withValue(Long.toString(checkpointId)))
                .start();
    }

    @Override
    public void restoreEnded(long checkpointId, String skipReason) {
        var step = recoveryStep;
        recoveryStep = null;
        if (step == null) {
            return;
        }
        if (skipReason != null) {
            step.event(Observation.Event.of("skipped", skipReason));
        }
        step.lowCardinalityKeyValue(RecoveryKeys.OUTCOME.withValue(skipReason == null ? "restored" : "skipped"))
                .stop();
    }

    @Override
    public void replayStarted(Long checkpointId) {
        var step = recoveryStep("replay");
        if (checkpointId != null) {
            step.highCardinalityKeyValue(RecoveryKeys.CHECKPOINT_ID.withValue(checkpointId.toString()));
        }
        recoveryStep = step.start();
    }

    @Override
    public void replayEnded(long records, long bytes) {
        var step = recoveryStep;
        recoveryStep = null;
        if (step != null) {
            step.lowCardinalityKeyValue(RecoveryKeys.OUTCOME.withValue("completed"))
                    .highCardinalityKeyValue(RecoveryKeys.RECORDS_REPLAYED.withValue(Long.toString(records)))
                    .stop();
        }
    }

    @Override
    public void completed(RecoveryReport report) {
        var observation = recovery;
        recovery = null;
        if (observation == null) {
            return;
        }
        var source = report.checkpointId() == null ? "wal"
                : report.adoptedCheckpoint() ? "adopted-checkpoint" : "checkpoint";
        observation.lowCardinalityKeyValue(RecoveryKeys.OUTCOME.withValue("completed"))
                .lowCardinalityKeyValue(RecoveryKeys.SOURCE.withValue(source))
                .highCardinalityKeyValue(RecoveryKeys.RECORDS_REPLAYED.withValue(Long.toString(report.recordsReplayed())))
                .highCardinalityKeyValue(RecoveryKeys.SKIPPED.withValue(Integer.toString(report.skipped().size())));
        if (report.checkpointId() != null) {
            observation.highCardinalityKeyValue(RecoveryKeys.CHECKPOINT_ID.withValue(report.checkpointId().toString()));
        }
        observation.stop();
    }

    @Override
    public void failed(Throwable cause) {
        var step = recoveryStep;
        recoveryStep = null;
        if (step != null) {
            step.lowCardinalityKeyValue(RecoveryKeys.OUTCOME.withValue("failed")).error(cause).stop();
        }
        var observation = recovery;
        recovery = null;
        if (observation != null) {
            observation.lowCardinalityKeyValue(RecoveryKeys.OUTCOME.withValue("failed"))
                    .lowCardinalityKeyValue(RecoveryKeys.SOURCE.withValue("none"))
                    .error(cause).stop();
        }
    }

    private Observation recoveryStep(String step) {
        var parent = recovery;
        var observation = LaminarStorageObservationDocumentation.RECOVERY_STEP.observation(registry)
                .contextualName("recovery " + step)
                .lowCardinalityKeyValue(RecoveryKeys.STEP.withValue(step));
        return parent == null ? observation : observation.parentObservation(parent);
    }
}

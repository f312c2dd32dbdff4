package io.laminar.storage.spring.actuate;

import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.checkpoint.CheckpointHistory.CompletedCheckpoint;
import io.laminar.storage.checkpoint.CheckpointHistory.FailedCheckpoint;
import io.laminar.storage.checkpoint.RecoveryReport;
import io.laminar.storage.checkpoint.RescaleReport;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.StateFileRef;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.springframework.boot.actuate.endpoint.OperationResponseBody;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.Selector;
import org.springframework.boot.actuate.endpoint.annotation.WriteOperation;

/**
 * The {@code checkpoints} actuator endpoint: the checkpoints of a {@link LaminarRuntime} in the
 * manner of Flink's checkpoint view.
 *
 * <h2>Operations</h2>
 * <ul>
 *   <li>read ({@code GET /actuator/checkpoints}): counts of completed, failed and in-progress
 *       checkpoints, the latest completed one, the recent history (newest first), the last failure
 *       with its cause, and the report of the recovery at start ({@link CheckpointsDescriptor});</li>
 *   <li>read by id ({@code GET /actuator/checkpoints/{id}}): the summary of a checkpoint's manifest,
 *       read from the store ({@link ManifestDescriptor}); none (404 over HTTP) for an id the store
 *       does not hold (never published, or deleted by retention);</li>
 *   <li>write ({@code POST /actuator/checkpoints}): takes a checkpoint now and answers once it has
 *       completed ({@link TriggerDescriptor}, status {@code COMPLETED} with its manifest summary),
 *       failed (status {@code FAILED} with the cause) or is still running after the trigger timeout
 *       (status {@code IN_PROGRESS}: it goes on, and the read operation shows its outcome).</li>
 * </ul>
 * As every actuator endpoint, it is reachable over HTTP only once exposed
 * ({@code management.endpoints.web.exposure.include=checkpoints}); to expose the reads but not the
 * trigger, also set {@code management.endpoint.checkpoints.access=read-only}.
 *
 * <h2>Format</h2>
 * Times are ISO-8601 instants, durations whole milliseconds ({@code durationMillis}), sizes bytes.
 * Absent values (no checkpoint yet, no failure) are left out of the JSON.
 *
 * <p>Thread-safe.
 */
@Endpoint(id = "checkpoints")
public class CheckpointsEndpoint {

    /** How long the write operation waits for the checkpoint it triggered by default. */
    public static final Duration DEFAULT_TRIGGER_TIMEOUT = Duration.ofSeconds(60);

    private final LaminarRuntime runtime;
    private final CheckpointHistory history;
    private final Duration triggerTimeout;

    /** An endpoint over {@code runtime}, whose checkpoints {@code history} listens to. */
    public CheckpointsEndpoint(LaminarRuntime runtime, CheckpointHistory history) {
        this(runtime, history, DEFAULT_TRIGGER_TIMEOUT);
    }

    /** As {@link #CheckpointsEndpoint(LaminarRuntime, CheckpointHistory)}, waiting {@code triggerTimeout} on a trigger. */
    public CheckpointsEndpoint(LaminarRuntime runtime, CheckpointHistory history, Duration triggerTimeout) {
        this.runtime = Objects.requireNonNull(runtime, "runtime");
        this.history = Objects.requireNonNull(history, "history");
        this.triggerTimeout = Objects.requireNonNull(triggerTimeout, "triggerTimeout");
        if (triggerTimeout.isNegative() || triggerTimeout.isZero()) {
            throw new IllegalArgumentException("triggerTimeout must be positive, but was " + triggerTimeout);
        }
    }

    /** The statistics of the checkpoints and the recovery. */
    @ReadOperation
    public CheckpointsDescriptor checkpoints() {
        var s = history.snapshot();
        var recent = new ArrayList<CheckpointDescriptor>();
        for (var entry : s.recent()) {
            recent.add(entry instanceof CompletedCheckpoint c ? CompletedDescriptor.of(c)
                    : FailedDescriptor.of((FailedCheckpoint) entry));
        }
        // The runtime has the report from the end of its start, the history once it was handed over.
        var report = s.recoveryReport() != null ? s.recoveryReport() : runtime.recoveryReport().orElse(null);
        return new CheckpointsDescriptor(
                new CountsDescriptor(s.completed(), s.failed(), s.inProgress(), s.cleanupFailures()),
                s.latestCompleted() == null ? null : CompletedDescriptor.of(s.latestCompleted()),
                recent,
                s.lastFailure() == null ? null : FailedDescriptor.of(s.lastFailure()),
                report == null ? null : RecoveryDescriptor.of(report, s.recoveredAt()));
    }

    /**
     * The summary of checkpoint {@code id}'s manifest, or null (404 over HTTP) if the store holds
     * no manifest with that id.
     *
     * @throws UncheckedIOException if the store cannot be read (the message names the checkpoint)
     */
    @ReadOperation
    public ManifestDescriptor checkpoint(@Selector long id) {
        if (id < 0) {
            return null; // ids are never negative: no such checkpoint, as for any id the store lacks
        }
        try {
            return runtime.store().readManifest(id).map(ManifestDescriptor::of).orElse(null);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the manifest of checkpoint " + id + " from the checkpoint "
                    + "store: " + e.getMessage(), e);
        }
    }

    /** Takes a checkpoint now and waits (up to the trigger timeout) for its outcome. */
    @WriteOperation
    public TriggerDescriptor trigger() {
        var future = runtime.triggerCheckpoint();
        try {
            var manifest = future.get(triggerTimeout.toMillis(), TimeUnit.MILLISECONDS);
            return new TriggerDescriptor(TriggerStatus.COMPLETED, manifest.checkpointId(),
                    ManifestDescriptor.of(manifest), null, null);
        } catch (ExecutionException e) {
            var cause = unwrap(e);
            // The history heard the failure (with the id) before the future failed, with the same cause.
            var id = history.lastFailure().filter(f -> f.cause() == cause && f.checkpointId() >= 0)
                    .map(FailedCheckpoint::checkpointId).orElse(null);
            return new TriggerDescriptor(TriggerStatus.FAILED, id, null, CauseDescriptor.of(cause), null);
        } catch (TimeoutException e) {
            return new TriggerDescriptor(TriggerStatus.IN_PROGRESS, null, null, null,
                    "the checkpoint is still running after " + triggerTimeout.toMillis() + " ms; it goes on, and "
                            + "GET /actuator/checkpoints shows its outcome");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new TriggerDescriptor(TriggerStatus.IN_PROGRESS, null, null, null,
                    "interrupted while waiting for the checkpoint; it goes on, and GET /actuator/checkpoints shows "
                            + "its outcome");
        }
    }

    private static Throwable unwrap(Throwable e) {
        while ((e instanceof ExecutionException || e instanceof CompletionException) && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }

    private static Long millis(Duration duration) {
        return duration == null ? null : duration.toMillis();
    }

    // ---- descriptors -------------------------------------------------------------------------

    /**
     * The read operation's answer.
     *
     * @param counts         how many checkpoints completed, failed, are in progress
     * @param latest         the latest completed checkpoint, absent before the first
     * @param history        the recent checkpoints, completed and failed, newest first
     * @param lastFailure    the most recent failure, absent if none
     * @param recovery       the recovery at start, absent before it
     */
    public record CheckpointsDescriptor(CountsDescriptor counts, CompletedDescriptor latest,
            List<CheckpointDescriptor> history, FailedDescriptor lastFailure, RecoveryDescriptor recovery)
            implements OperationResponseBody {
    }

    /**
     * Checkpoint counts since the start.
     *
     * @param completed       published checkpoints
     * @param failed          checkpoints that failed before publication
     * @param inProgress      checkpoints under way
     * @param cleanupFailures completed checkpoints whose retention or WAL truncation failed
     */
    public record CountsDescriptor(long completed, long failed, int inProgress, long cleanupFailures) {
    }

    /** A checkpoint in the history: {@link CompletedDescriptor} or {@link FailedDescriptor}, told apart by {@code status}. */
    public sealed interface CheckpointDescriptor permits CompletedDescriptor, FailedDescriptor {

        /** {@code COMPLETED} or {@code FAILED}. */
        String status();

        /** The checkpoint's id (-1 for a failure before an id was assigned). */
        long id();
    }

    /**
     * A completed checkpoint.
     *
     * @param status           always {@code COMPLETED}
     * @param id               its id
     * @param epoch            the epoch of its cut
     * @param startedAt        when it started
     * @param completedAt      when it completed
     * @param durationMillis   start to publication
     * @param stateBytes       logical size of the state it holds (keys and values, all cores)
     * @param writtenBytes     bytes of state files it wrote: its incremental size
     * @param storedBytes      bytes of every state file it needs in the store, its own and inherited
     * @param files            how many state files it needs
     * @param incremental      whether it builds on an earlier checkpoint's files
     * @param parentId         the checkpoint it builds on, absent for a full checkpoint
     * @param walPositions     per core, the WAL position replay starts from after restoring it
     * @param cleanupFailure   the step after publication that failed, absent if none
     */
    public record CompletedDescriptor(String status, long id, long epoch, Instant startedAt, Instant completedAt,
            long durationMillis, long stateBytes, long writtenBytes, long storedBytes, int files, boolean incremental,
            Long parentId, List<Long> walPositions, CleanupFailureDescriptor cleanupFailure)
            implements CheckpointDescriptor {

        static CompletedDescriptor of(CompletedCheckpoint c) {
            var cleanup = c.cleanupFailure() == null ? null : new CleanupFailureDescriptor(
                    c.cleanupFailure().step().name(), CauseDescriptor.of(c.cleanupFailure().cause()));
            return new CompletedDescriptor("COMPLETED", c.checkpointId(), c.epoch(), c.startedAt(), c.completedAt(),
                    c.duration().toMillis(), c.stateBytes(), c.writtenBytes(), c.storedBytes(), c.files(),
                    c.incremental(), c.parentCheckpointId(), c.walPositions(), cleanup);
        }
    }

    /**
     * A failed checkpoint: it was not published, and the previous one is intact.
     *
     * @param status         always {@code FAILED}
     * @param id             its id, -1 if it failed before the coordinator assigned one
     * @param startedAt      when it started, absent if unknown
     * @param failedAt       when it failed
     * @param durationMillis start to failure, absent if the start is unknown
     * @param cause          why
     */
    public record FailedDescriptor(String status, long id, Instant startedAt, Instant failedAt, Long durationMillis,
            CauseDescriptor cause) implements CheckpointDescriptor {

        static FailedDescriptor of(FailedCheckpoint f) {
            return new FailedDescriptor("FAILED", f.checkpointId(), f.startedAt(), f.failedAt(), millis(f.duration()),
                    CauseDescriptor.of(f.cause()));
        }
    }

    /**
     * A step after publication that failed: the checkpoint is usable, but more old checkpoints or
     * WAL are kept than retention wants until a later checkpoint succeeds at it.
     *
     * @param step  {@code MANIFEST_PUBLISHED}, {@code RETENTION} or {@code TRUNCATION}
     * @param cause why
     */
    public record CleanupFailureDescriptor(String step, CauseDescriptor cause) {
    }

    /**
     * An exception and its causes.
     *
     * @param type     the exception's class name
     * @param message  its message, absent if none
     * @param causedBy its causes, outermost first, each as {@code type: message}
     */
    public record CauseDescriptor(String type, String message, List<String> causedBy) {

        static CauseDescriptor of(Throwable e) {
            var causes = new ArrayList<String>();
            var seen = new ArrayList<Throwable>();
            seen.add(e);
            for (var c = e.getCause(); c != null && !seen.contains(c) && causes.size() < 10; c = c.getCause()) {
                seen.add(c);
                causes.add(c.toString());
            }
            return new CauseDescriptor(e.getClass().getName(), e.getMessage(), causes);
        }
    }

    /**
     * What the recovery at start did.
     *
     * @param checkpointId           the checkpoint restored, absent if none was (WAL only)
     * @param adoptedCheckpoint      whether that checkpoint was another WAL's (typically another
     *                               machine's, restored into an empty data directory): with local
     *                               durability the state is exactly the checkpoint's and what that
     *                               machine changed after it is not restored; with replicated
     *                               durability those changes come from Kafka
     *                               ({@code recordsFromReplication}); sources resume from its offsets
     * @param durationMillis         how long it took
     * @param recordsReplayed        WAL records replayed onto it, all cores
     * @param bytesReplayed          WAL bytes replayed
     * @param recordsReplayedPerCore per core, the records replayed
     * @param recordsFromReplication changes restored from Kafka after the checkpoint (a takeover with
     *                               replicated durability), 0 otherwise
     * @param skipped                newer checkpoints that could not be used, newest first, with why
     * @param recoveredAt            when the report reached the checkpoint history, absent if not yet
     * @param rescale                what the rescale before the recovery did, absent if the number of
     *                               cores did not change
     */
    public record RecoveryDescriptor(Long checkpointId, boolean adoptedCheckpoint, long durationMillis,
            long recordsReplayed, long bytesReplayed, List<Long> recordsReplayedPerCore, long recordsFromReplication,
            List<SkippedDescriptor> skipped, Instant recoveredAt, RescaleDescriptor rescale) {

        static RecoveryDescriptor of(RecoveryReport r, Instant recoveredAt) {
            return new RecoveryDescriptor(r.checkpointId(), r.adoptedCheckpoint(), r.duration().toMillis(),
                    r.recordsReplayed(), r.bytesReplayed(), r.recordsReplayedPerCore(), r.recordsFromReplication(),
                    r.skipped().stream().map(s -> new SkippedDescriptor(s.checkpointId(), s.reason())).toList(),
                    recoveredAt, r.rescale() == null ? null : RescaleDescriptor.of(r.rescale()));
        }
    }

    /**
     * What a rescale did ({@link RescaleReport}).
     *
     * @param oldCores           the cores the state was written with
     * @param newCores           the cores it now has
     * @param keyGroups          the number of key groups
     * @param keyGroupsMoved     how many key groups changed core
     * @param legacyPlacement    whether the old state predated key groups (every key re-placed)
     * @param restoredCheckpoint the old layout's checkpoint restored, absent if none (WAL only)
     * @param rescaleCheckpoint  the checkpoint of the moved state the new layout starts from
     * @param bytesRead          state file and WAL bytes read from the old layout
     * @param durationMillis     how long the rescale took
     */
    public record RescaleDescriptor(int oldCores, int newCores, int keyGroups, int keyGroupsMoved,
            boolean legacyPlacement, Long restoredCheckpoint, long rescaleCheckpoint, long bytesRead,
            long durationMillis) {

        static RescaleDescriptor of(RescaleReport r) {
            return new RescaleDescriptor(r.oldCores(), r.newCores(), r.keyGroups(), r.keyGroupsMoved(),
                    r.legacyPlacement(), r.restoredCheckpoint(), r.rescaleCheckpoint(), r.bytesRead(),
                    r.duration().toMillis());
        }
    }

    /**
     * A checkpoint recovery could not use.
     *
     * @param id     its id
     * @param reason what is wrong with it
     */
    public record SkippedDescriptor(long id, String reason) {
    }

    /**
     * The summary of a checkpoint's manifest.
     *
     * @param id           the checkpoint's id
     * @param epoch        the epoch of its cut
     * @param createdAt    when its manifest was made
     * @param incremental  whether it builds on an earlier checkpoint's files
     * @param parentId     the checkpoint it builds on, absent for a full checkpoint
     * @param stateBytes   logical size of the state it holds
     * @param writtenBytes bytes of state files it wrote
     * @param storedBytes  bytes of every state file it needs
     * @param walPositions per core, the WAL position replay starts from
     * @param watermark    the event-time watermark at the cut, absent if none
     * @param sources      per connector, its offsets and metadata at the cut
     * @param operators    per operator, the size of its inline state and its state files
     * @param files        every state file it needs: path, size and CRC32C
     */
    public record ManifestDescriptor(long id, long epoch, Instant createdAt, boolean incremental, Long parentId,
            long stateBytes, long writtenBytes, long storedBytes, List<Long> walPositions, Long watermark,
            Map<String, SourceDescriptor> sources, Map<String, OperatorDescriptor> operators,
            List<StateFileRef> files) implements OperationResponseBody {

        static ManifestDescriptor of(CheckpointManifest m) {
            long stored = 0;
            for (var file : m.files()) {
                stored += file.size();
            }
            var sources = new LinkedHashMap<String, SourceDescriptor>();
            m.sources().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> sources.put(e.getKey(),
                    new SourceDescriptor(e.getValue().offsets(), e.getValue().metadata())));
            var operators = new LinkedHashMap<String, OperatorDescriptor>();
            m.operators().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> operators.put(
                    e.getKey(), new OperatorDescriptor(e.getValue().inline().length, e.getValue().stateFiles())));
            return new ManifestDescriptor(m.checkpointId(), m.epoch(), m.createdAt(), m.parentCheckpointId() != null,
                    m.parentCheckpointId(), m.stateBytes(), m.writtenBytes(), stored, m.walPositions(),
                    m.watermark() == Long.MIN_VALUE ? null : m.watermark(), sources, operators, m.files());
        }
    }

    /**
     * A source connector's position at a checkpoint.
     *
     * @param offsets  its offsets
     * @param metadata anything else it needs to resume
     */
    public record SourceDescriptor(Map<String, String> offsets, Map<String, String> metadata) {
    }

    /**
     * An operator's state at a checkpoint.
     *
     * @param inlineBytes the size of its state stored inline in the manifest
     * @param stateFiles  the state files holding the rest
     */
    public record OperatorDescriptor(int inlineBytes, List<String> stateFiles) {
    }

    /** The outcome of a triggered checkpoint. */
    public enum TriggerStatus {
        /** Published. */
        COMPLETED,
        /** Failed before publication; the previous checkpoint is intact. */
        FAILED,
        /** Still running when the write operation stopped waiting. */
        IN_PROGRESS
    }

    /**
     * The write operation's answer.
     *
     * @param status     the outcome
     * @param id         the checkpoint's id, absent if it is unknown (failed before an id, or still running)
     * @param checkpoint its manifest summary, when {@code COMPLETED}
     * @param cause      why it failed, when {@code FAILED}
     * @param message    what to do next, when {@code IN_PROGRESS}
     */
    public record TriggerDescriptor(TriggerStatus status, Long id, ManifestDescriptor checkpoint, CauseDescriptor cause,
            String message) implements OperationResponseBody {
    }
}

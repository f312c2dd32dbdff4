package io.laminar.storage.checkpoint;

import io.laminar.storage.store.CheckpointManifest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What monitoring shows of the checkpoints a {@link StateCheckpointCoordinator} runs, in the manner
 * of Flink's checkpoint view: how many completed, failed and are in progress; the latest completed
 * checkpoint; a bounded history of the recent ones, completed and failed; the last failure with its
 * cause; and the {@link RecoveryReport} of the recovery that preceded them, if whoever ran the
 * recovery {@linkplain #recovered handed it over}.
 *
 * <p>Register it as a {@link CheckpointListener} of the coordinator (or runtime) whose checkpoints it
 * should show. It keeps only what it heard: a history created or registered after some checkpoints
 * ran does not know about them.
 *
 * <h2>Times</h2>
 * Instants come from the {@link Clock} given to the constructor, read when a callback arrives;
 * the duration of a completed checkpoint is the one the coordinator measured. The duration of a
 * failed one runs from its {@link #started} callback to its {@link #failed} callback, and is unknown
 * (null) if its start was not heard. {@link #timeSinceLastCompleted()} measures from the latest
 * completion, or, before the first, from the {@linkplain #trackingSince() start of tracking}: the
 * recovery hand-over, or the creation of this object if there was none.
 *
 * <h2>Thread-safety</h2>
 * Thread-safe: the callbacks (on the checkpoint thread), {@link #recovered} (on whichever thread ran
 * the recovery) and every reader (monitoring threads) may run concurrently. Every method takes one
 * short lock; the callbacks only update fields and a small deque, so they return quickly as the
 * {@link CheckpointListener} contract asks. Values returned are immutable, and a {@link Snapshot}
 * is consistent: taken under the lock in one go.
 */
public final class CheckpointHistory implements CheckpointListener {

    /** How many recent checkpoints are kept by default (Flink's default history size is the same). */
    public static final int DEFAULT_CAPACITY = 10;

    private final int capacity;
    private final Clock clock;
    private final Object lock = new Object();

    // Everything below is guarded by lock.
    private final Map<Long, Instant> inProgress = new HashMap<>();
    private final Map<Long, CleanupFailure> cleanupFailures = new HashMap<>(); // until completed() arrives
    private final ArrayDeque<Entry> recent = new ArrayDeque<>();
    private long completedCount;
    private long failedCount;
    private long cleanupFailureCount;
    private long completedDurationNanos;
    private long writtenBytesTotal;
    private CompletedCheckpoint latestCompleted;
    private FailedCheckpoint lastFailure;
    private RecoveryReport recoveryReport;
    private Instant recoveredAt;
    private Instant trackingSince;

    /** A history of the {@value #DEFAULT_CAPACITY} most recent checkpoints, on the system clock. */
    public CheckpointHistory() {
        this(DEFAULT_CAPACITY, Clock.systemUTC());
    }

    /**
     * A history that keeps the {@code capacity} most recent checkpoints and reads times from
     * {@code clock}.
     *
     * @throws IllegalArgumentException if {@code capacity} is less than 1
     */
    public CheckpointHistory(int capacity, Clock clock) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be at least 1, but was " + capacity);
        }
        this.capacity = capacity;
        this.clock = Objects.requireNonNull(clock, "clock");
        this.trackingSince = clock.instant();
    }

    // ---- listener callbacks ------------------------------------------------------------------

    @Override
    public void started(long checkpointId) {
        synchronized (lock) {
            inProgress.put(checkpointId, clock.instant());
        }
    }

    @Override
    public void publishedButNotCleanedUp(CheckpointManifest manifest, CheckpointStep step, Throwable cause) {
        synchronized (lock) {
            cleanupFailureCount++;
            cleanupFailures.put(manifest.checkpointId(), new CleanupFailure(step, cause));
        }
    }

    @Override
    public void completed(CheckpointManifest manifest, Duration duration, long writtenBytes) {
        synchronized (lock) {
            var now = clock.instant();
            long id = manifest.checkpointId();
            inProgress.remove(id);
            long storedBytes = 0;
            for (var file : manifest.files()) {
                storedBytes += file.size();
            }
            var checkpoint = new CompletedCheckpoint(id, manifest.epoch(), now.minus(duration), now, duration,
                    manifest.stateBytes(), writtenBytes, storedBytes, manifest.files().size(),
                    manifest.parentCheckpointId(), manifest.walPositions(), cleanupFailures.remove(id));
            completedCount++;
            completedDurationNanos += duration.toNanos();
            writtenBytesTotal += writtenBytes;
            // Ids only grow, so the highest id is the latest; a stray older completion does not hide it.
            if (latestCompleted == null || id >= latestCompleted.checkpointId()) {
                latestCompleted = checkpoint;
            }
            remember(checkpoint);
        }
    }

    @Override
    public void failed(long checkpointId, Throwable cause) {
        synchronized (lock) {
            var now = clock.instant();
            var startedAt = inProgress.remove(checkpointId);
            var failure = new FailedCheckpoint(checkpointId, startedAt, now,
                    startedAt == null ? null : Duration.between(startedAt, now), cause);
            failedCount++;
            lastFailure = failure;
            remember(failure);
        }
    }

    /**
     * Hands over the report of the recovery that ran before the checkpoints this history hears of,
     * and restarts the clock of {@link #timeSinceLastCompleted()} if no checkpoint completed yet (the
     * runtime starts taking checkpoints only now). A later call replaces the report.
     */
    public void recovered(RecoveryReport report) {
        Objects.requireNonNull(report, "report");
        synchronized (lock) {
            recoveryReport = report;
            recoveredAt = clock.instant();
            trackingSince = recoveredAt;
        }
    }

    private void remember(Entry entry) {
        recent.addFirst(entry);
        if (recent.size() > capacity) {
            recent.removeLast();
        }
    }

    // ---- readers -----------------------------------------------------------------------------

    /** Checkpoints completed (published) so far. */
    public long completedCount() {
        synchronized (lock) {
            return completedCount;
        }
    }

    /** Checkpoints failed so far. */
    public long failedCount() {
        synchronized (lock) {
            return failedCount;
        }
    }

    /** Checkpoints started and neither completed nor failed yet. */
    public int inProgressCount() {
        synchronized (lock) {
            return inProgress.size();
        }
    }

    /**
     * Completed checkpoints whose retention or WAL truncation failed after they were published (they
     * are usable; more old checkpoints and WAL are kept than retention wants until a later one
     * succeeds at it).
     */
    public long cleanupFailureCount() {
        synchronized (lock) {
            return cleanupFailureCount;
        }
    }

    /** The sum of the durations of every completed checkpoint. */
    public Duration totalCompletedDuration() {
        synchronized (lock) {
            return Duration.ofNanos(completedDurationNanos);
        }
    }

    /** The bytes of state files every completed checkpoint wrote, summed. */
    public long totalWrittenBytes() {
        synchronized (lock) {
            return writtenBytesTotal;
        }
    }

    /** The completed checkpoint with the highest id, if any completed. */
    public Optional<CompletedCheckpoint> latestCompleted() {
        synchronized (lock) {
            return Optional.ofNullable(latestCompleted);
        }
    }

    /** The most recent failure, if any checkpoint failed. */
    public Optional<FailedCheckpoint> lastFailure() {
        synchronized (lock) {
            return Optional.ofNullable(lastFailure);
        }
    }

    /** The recent checkpoints, completed and failed, newest (most recently finished) first. */
    public List<Entry> recent() {
        synchronized (lock) {
            return List.copyOf(recent);
        }
    }

    /** The report {@link #recovered} was given, if any. */
    public Optional<RecoveryReport> recoveryReport() {
        synchronized (lock) {
            return Optional.ofNullable(recoveryReport);
        }
    }

    /** When the history was created, or when it was last given a recovery report. */
    public Instant trackingSince() {
        synchronized (lock) {
            return trackingSince;
        }
    }

    /**
     * How long ago the latest checkpoint completed; before the first, how long ago tracking started
     * (see {@link #trackingSince()}). Never negative.
     */
    public Duration timeSinceLastCompleted() {
        synchronized (lock) {
            var since = latestCompleted != null ? latestCompleted.completedAt() : trackingSince;
            var age = Duration.between(since, clock.instant());
            return age.isNegative() ? Duration.ZERO : age;
        }
    }

    /** Everything this history knows, consistent as of one moment. */
    public Snapshot snapshot() {
        synchronized (lock) {
            return new Snapshot(completedCount, failedCount, inProgress.size(), cleanupFailureCount,
                    latestCompleted, lastFailure, List.copyOf(recent), recoveryReport, recoveredAt, trackingSince);
        }
    }

    /** How many recent checkpoints this history keeps. */
    public int capacity() {
        return capacity;
    }

    @Override
    public String toString() {
        synchronized (lock) {
            return "CheckpointHistory[completed=" + completedCount + ", failed=" + failedCount + ", inProgress="
                    + inProgress.size() + ", latest=" + (latestCompleted == null ? "none"
                    : latestCompleted.checkpointId()) + "]";
        }
    }

    // ---- values ------------------------------------------------------------------------------

    /** A checkpoint in the recent history: a {@link CompletedCheckpoint} or a {@link FailedCheckpoint}. */
    public sealed interface Entry permits CompletedCheckpoint, FailedCheckpoint {

        /** The checkpoint's id; -1 for a failure before the coordinator assigned one. */
        long checkpointId();

        /** When it completed or failed. */
        Instant finishedAt();
    }

    /**
     * A completed checkpoint. Immutable.
     *
     * @param checkpointId       its id
     * @param epoch              the epoch of its cut
     * @param startedAt          when it started ({@code completedAt - duration})
     * @param completedAt        when the history heard it completed
     * @param duration           how long it took, start to completion, as the coordinator measured
     * @param stateBytes         the logical size of the whole state it holds (all keys and values)
     * @param writtenBytes       the bytes of state files it wrote: its cost, small for an incremental one
     * @param storedBytes        the bytes of every state file it needs in the store, its own and inherited
     * @param files              how many state files it needs
     * @param parentCheckpointId the checkpoint whose files it builds on, or null for a full checkpoint
     * @param walPositions       per core, the WAL position replay starts from after restoring it
     * @param cleanupFailure     the retention or truncation step that failed after it was published,
     *                           or null if none did
     */
    public record CompletedCheckpoint(long checkpointId, long epoch, Instant startedAt, Instant completedAt,
            Duration duration, long stateBytes, long writtenBytes, long storedBytes, int files,
            Long parentCheckpointId, List<Long> walPositions, CleanupFailure cleanupFailure) implements Entry {

        public CompletedCheckpoint {
            Objects.requireNonNull(startedAt, "startedAt");
            Objects.requireNonNull(completedAt, "completedAt");
            Objects.requireNonNull(duration, "duration");
            walPositions = List.copyOf(walPositions);
        }

        /** Whether it builds on an earlier checkpoint's files (it wrote only deltas for some cores). */
        public boolean incremental() {
            return parentCheckpointId != null;
        }

        @Override
        public Instant finishedAt() {
            return completedAt;
        }
    }

    /**
     * A failed checkpoint: it was never published, and the previous checkpoint is intact. Immutable.
     *
     * @param checkpointId its id, or -1 if it failed before the coordinator assigned one
     * @param startedAt    when it started, or null if the history did not hear its start
     * @param failedAt     when the history heard it failed
     * @param duration     from start to failure, or null if the start is unknown
     * @param cause        why it failed
     */
    public record FailedCheckpoint(long checkpointId, Instant startedAt, Instant failedAt, Duration duration,
            Throwable cause) implements Entry {

        public FailedCheckpoint {
            Objects.requireNonNull(failedAt, "failedAt");
            Objects.requireNonNull(cause, "cause");
        }

        @Override
        public Instant finishedAt() {
            return failedAt;
        }
    }

    /**
     * A step after publication that failed (see {@link CheckpointListener#publishedButNotCleanedUp}).
     *
     * @param step  {@link CheckpointStep#MANIFEST_PUBLISHED}, {@link CheckpointStep#RETENTION} or
     *              {@link CheckpointStep#TRUNCATION}
     * @param cause why
     */
    public record CleanupFailure(CheckpointStep step, Throwable cause) {

        public CleanupFailure {
            Objects.requireNonNull(step, "step");
            Objects.requireNonNull(cause, "cause");
        }
    }

    /**
     * Everything a {@link CheckpointHistory} knows at one moment. Immutable.
     *
     * @param completed       checkpoints completed
     * @param failed          checkpoints failed
     * @param inProgress      checkpoints started and not finished
     * @param cleanupFailures completed checkpoints whose retention or truncation failed
     * @param latestCompleted the completed checkpoint with the highest id, or null if none
     * @param lastFailure     the most recent failure, or null if none
     * @param recent          recent checkpoints, newest first, at most {@link CheckpointHistory#capacity()}
     * @param recoveryReport  the report of the recovery before them, or null if none was handed over
     * @param recoveredAt     when that report was handed over, or null
     * @param trackingSince   when tracking started (see {@link CheckpointHistory#trackingSince()})
     */
    public record Snapshot(long completed, long failed, int inProgress, long cleanupFailures,
            CompletedCheckpoint latestCompleted, FailedCheckpoint lastFailure, List<Entry> recent,
            RecoveryReport recoveryReport, Instant recoveredAt, Instant trackingSince) {

        public Snapshot {
            recent = List.copyOf(recent);
            Objects.requireNonNull(trackingSince, "trackingSince");
        }
    }
}

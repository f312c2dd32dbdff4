package io.laminar.storage.spring.actuate;

import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.runtime.LaminarRuntime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.Status;

/**
 * The health of a {@link LaminarRuntime}: whether its write-ahead logs can still make changes
 * durable and whether checkpoints keep completing.
 *
 * <h2>Status</h2>
 * <ol>
 *   <li>{@link Status#DOWN} if the write-ahead log of any core has failed (a write or an fdatasync
 *       threw): that core refuses every change, and only a restart recovers what is durable; also if
 *       a core thread died ({@link LaminarRuntime#failure()}): the runtime takes no more tasks.</li>
 *   <li>{@link Status#DOWN} with replicated durability while Kafka does not take the changes
 *       ({@link LaminarRuntime#replicationProblem()}: brokers unreachable, too few in-sync replicas):
 *       durable tasks wait and fail after the ack timeout. A runtime fenced by a new owner of its
 *       shard is DOWN through {@link LaminarRuntime#failure()} (a {@link io.laminar.storage.FencedException}).</li>
 *   <li>{@link Status#OUT_OF_SERVICE} if the runtime is not running (not started yet, or closing).</li>
 *   <li>The configured stale status ({@code DOWN} or {@code OUT_OF_SERVICE}) if the latest completed
 *       checkpoint is older than the maximum age; before the first checkpoint the age runs from the
 *       runtime's start (see {@link CheckpointHistory#timeSinceLastCompleted()}). A maximum age of
 *       zero turns this check off.</li>
 *   <li>{@link Status#UP} otherwise.</li>
 * </ol>
 *
 * <h2>Details</h2>
 * {@code runtime} ({@code running} or {@code not running}); {@code walIoBackend}: the I/O backend
 * the write-ahead logs write with ({@code file-channel} or {@code direct}; also {@code file-channel}
 * where {@code direct-or-fallback} fell back); {@code wal}: per core its {@code state}
 * ({@code ok} or {@code failed}), {@code ioBackend}, {@code durablePosition} and, if it failed, {@code cause} (what the
 * write or fdatasync threw, say "No space left on device"); {@code failedCores} if any;
 * {@code checkpoints}: counts of {@code completed}, {@code failed}, {@code inProgress};
 * {@code lastCheckpoint}: {@code id}, {@code completedAt}; {@code checkpointAge} and
 * {@code maxCheckpointAge} (ISO-8601 durations, the latter {@code unchecked} when off);
 * {@code lastFailure}: {@code id}, {@code failedAt}, {@code cause}; {@code replication} ({@code ok} or
 * the problem) with replicated durability; with a {@link RecoveryProgressTracker}, {@code recovery}
 * (see {@link RecoveryProgressTracker#details()}: while the recovery at start runs, its phase, bytes
 * and files done of the total, rate and time left; then its outcome); and {@code reason} when the
 * status is not UP. Times are ISO-8601 strings.
 *
 * <p>Thread-safe: every check reads the runtime and the history afresh.
 */
public final class LaminarStorageHealthIndicator extends AbstractHealthIndicator {

    private final LaminarRuntime runtime;
    private final CheckpointHistory history;
    private final Duration maxCheckpointAge;
    private final Status staleStatus;
    private final RecoveryProgressTracker recovery;

    /**
     * @param runtime          the runtime whose WAL is checked
     * @param history          the checkpoints the runtime ran (a listener of the runtime)
     * @param maxCheckpointAge the age beyond which the latest checkpoint is stale; zero: not checked
     * @param staleStatus      the status reported while it is stale ({@link Status#DOWN} or
     *                         {@link Status#OUT_OF_SERVICE})
     */
    public LaminarStorageHealthIndicator(LaminarRuntime runtime, CheckpointHistory history, Duration maxCheckpointAge,
                                         Status staleStatus) {
        this(runtime, history, maxCheckpointAge, staleStatus, null);
    }

    /**
     * As {@link #LaminarStorageHealthIndicator(LaminarRuntime, CheckpointHistory, Duration, Status)},
     * with the {@code recovery} details from {@code recovery} (null: without them).
     */
    public LaminarStorageHealthIndicator(LaminarRuntime runtime, CheckpointHistory history, Duration maxCheckpointAge,
                                         Status staleStatus, RecoveryProgressTracker recovery) {
        super("laminar-storage health check failed");
        this.recovery = recovery;
        this.runtime = Objects.requireNonNull(runtime, "runtime");
        this.history = Objects.requireNonNull(history, "history");
        this.maxCheckpointAge = Objects.requireNonNull(maxCheckpointAge, "maxCheckpointAge");
        this.staleStatus = Objects.requireNonNull(staleStatus, "staleStatus");
        if (maxCheckpointAge.isNegative()) {
            throw new IllegalArgumentException("maxCheckpointAge must not be negative, but was " + maxCheckpointAge);
        }
    }

    @Override
    protected void doHealthCheck(Health.Builder builder) {
        var wal = runtime.wal();
        boolean running = runtime.isRunning();
        var cores = new ArrayList<Map<String, Object>>();
        var failedCores = new ArrayList<Integer>();
        var causes = new ArrayList<String>();
        for (int core = 0; core < wal.cores(); core++) {
            var failure = wal.failure(core);
            var detail = new LinkedHashMap<String, Object>();
            detail.put("core", core);
            detail.put("state", failure.isPresent() ? "failed" : "ok");
            detail.put("ioBackend", wal.ioBackend(core).propertyValue());
            detail.put("durablePosition", wal.durablePosition(core));
            if (failure.isPresent()) {
                failedCores.add(core);
                causes.add(failure.get().toString());
                detail.put("cause", failure.get().toString());
            }
            cores.add(detail);
        }
        var snapshot = history.snapshot();
        var age = history.timeSinceLastCompleted();
        boolean stale = !maxCheckpointAge.isZero() && age.compareTo(maxCheckpointAge) > 0;

        var died = runtime.failure();
        builder.withDetail("runtime", running ? "running" : died.isPresent() ? "failed" : "not running");
        builder.withDetail("walIoBackend", wal.ioBackend(0).propertyValue());
        builder.withDetail("wal", cores);
        if (!failedCores.isEmpty()) {
            builder.withDetail("failedCores", failedCores);
        }
        builder.withDetail("checkpoints", Map.of("completed", snapshot.completed(), "failed", snapshot.failed(),
                "inProgress", snapshot.inProgress()));
        var latest = snapshot.latestCompleted();
        if (latest != null) {
            builder.withDetail("lastCheckpoint", Map.of("id", latest.checkpointId(),
                    "completedAt", latest.completedAt().toString()));
        }
        var replication = runtime.replicationProblem();
        if (runtime.isReplicated()) {
            builder.withDetail("replication", replication.orElse("ok"));
        }
        builder.withDetail("checkpointAge", age.toString());
        if (recovery != null) {
            builder.withDetail("recovery", recovery.details());
        }
        builder.withDetail("maxCheckpointAge", maxCheckpointAge.isZero() ? "unchecked" : maxCheckpointAge.toString());
        var failure = snapshot.lastFailure();
        if (failure != null) {
            builder.withDetail("lastFailure", Map.of("id", failure.checkpointId(),
                    "failedAt", failure.failedAt().toString(), "cause", String.valueOf(failure.cause())));
        }

        if (!failedCores.isEmpty()) {
            builder.down().withDetail("reason", "the write-ahead log of " + cores(failedCores) + " failed and refuses "
                    + "changes (" + String.join("; ", causes) + "); restart the application to recover what is "
                    + "durable, after checking the disk of " + wal.directory());
        } else if (died.isPresent()) {
            builder.down().withDetail("reason", died.get().getMessage());
        } else if (!running && recovery != null && recovery.active()) {
            builder.outOfService().withDetail("reason", "the runtime is recovering its state (see recovery)");
        } else if (replication.isPresent()) {
            builder.down().withDetail("reason", "replication: " + replication.get() + "; durable tasks wait for Kafka "
                    + "and fail after laminar.storage.replication.ack-timeout");
        } else if (!running) {
            builder.outOfService().withDetail("reason", "the runtime is not running (not started yet, or closing)");
        } else if (stale) {
            builder.status(staleStatus).withDetail("reason", (latest == null
                    ? "no checkpoint completed since the runtime started " + age + " ago"
                    : "the latest completed checkpoint, " + latest.checkpointId() + ", is " + age + " old")
                    + ", more than laminar.storage.health.max-checkpoint-age (" + maxCheckpointAge + ")"
                    + (failure != null ? "; the last failure: " + failure.cause() : ""));
        } else {
            builder.up();
        }
    }

    private static String cores(List<Integer> cores) {
        return cores.size() == 1 ? "core " + cores.get(0) : "cores " + cores;
    }
}

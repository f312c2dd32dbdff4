package io.laminar.storage.spring.actuate;

import io.laminar.storage.checkpoint.RecoveryListener;
import io.laminar.storage.checkpoint.RecoveryProgress;
import io.laminar.storage.checkpoint.RecoveryReport;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.core.Ordered;

/**
 * Keeps how far the recovery at start is, for the health details and the meters: a
 * {@link RecoveryListener} (the starter registers it as a bean, so the runtime's recovery reports to
 * it) whose latest {@link RecoveryProgress} and state anyone may read while the recovery runs.
 *
 * <p>Under Spring Boot the recovery runs while the application context is refreshed, before the web
 * server starts, so this is read over JMX (the {@code health} endpoint, when JMX and the endpoint are
 * exposed), by a meter registry that pushes (OTLP, StatsD, ...) or in the log, where the recovery
 * writes a progress line every {@code laminar.storage.recovery.progress-interval}. Once the port is
 * open, the {@code laminarStorage} health details keep the outcome.
 *
 * <p>It orders itself first among the {@code RecoveryListener} beans, so that another listener
 * reading it sees the event it is hearing.
 *
 * <p>Thread-safe: the recovery's thread writes one immutable snapshot at a time; readers read the
 * latest.
 */
public final class RecoveryProgressTracker implements RecoveryListener, Ordered {

    /** Where the recovery is. */
    public enum State {
        /** The runtime has not started its recovery yet. */
        NOT_STARTED,
        /** Restoring a checkpoint's state files. */
        RESTORING,
        /** Replaying the WAL. */
        REPLAYING,
        /** Recovered; the runtime starts taking tasks. */
        COMPLETED,
        /** The recovery failed (so did the application's start). */
        FAILED
    }

    /** One consistent view: the state, the latest progress report (or null) and the outcome. */
    public record Snapshot(State state, Long checkpointId, RecoveryProgress progress, long startedNanos,
                           Duration duration, String failure) {
    }

    private volatile Snapshot current = new Snapshot(State.NOT_STARTED, null, null, 0, null, null);

    @Override
    public int getOrder() {
        return Ordered.HIGHEST_PRECEDENCE;
    }

    /** The latest view of the recovery. */
    public Snapshot snapshot() {
        return current;
    }

    @Override
    public void started() {
        current = new Snapshot(State.RESTORING, null, null, System.nanoTime(), null, null);
    }

    @Override
    public void restoreStarted(long checkpointId) {
        var c = current;
        current = new Snapshot(State.RESTORING, checkpointId, null, c.startedNanos(), null, null);
    }

    @Override
    public void replayStarted(Long checkpointId) {
        var c = current;
        current = new Snapshot(State.REPLAYING, checkpointId, null, c.startedNanos(), null, null);
    }

    @Override
    public void progress(RecoveryProgress progress) {
        var c = current;
        current = new Snapshot(c.state(), progress.checkpointId(), progress, c.startedNanos(), null, null);
    }

    @Override
    public void completed(RecoveryReport report) {
        var c = current;
        current = new Snapshot(State.COMPLETED, report.checkpointId(), c.progress(), c.startedNanos(),
                report.duration(), null);
    }

    @Override
    public void failed(Throwable cause) {
        var c = current;
        current = new Snapshot(State.FAILED, c.checkpointId(), c.progress(), c.startedNanos(),
                Duration.ofNanos(System.nanoTime() - c.startedNanos()), String.valueOf(cause.getMessage()));
    }

    /** Whether a recovery is under way. */
    public boolean active() {
        var state = current.state();
        return state == State.RESTORING || state == State.REPLAYING;
    }

    /**
     * The health details: {@code state}; {@code checkpointId}; while running {@code elapsed}; of the
     * latest report {@code phase}, {@code bytesDone}, {@code bytesTotal}, {@code filesDone},
     * {@code filesTotal}, {@code bytesPerSecond}, {@code eta}; at the end {@code duration} (and
     * {@code failure}). Durations are ISO-8601.
     */
    public Map<String, Object> details() {
        var c = current;
        var details = new LinkedHashMap<String, Object>();
        details.put("state", c.state().name().toLowerCase(java.util.Locale.ROOT).replace('_', ' '));
        if (c.checkpointId() != null) {
            details.put("checkpointId", c.checkpointId());
        }
        if (c.duration() != null) {
            details.put("duration", c.duration().toString());
        } else if (c.state() != State.NOT_STARTED) {
            details.put("elapsed", Duration.ofNanos(System.nanoTime() - c.startedNanos()).toString());
        }
        var p = c.progress();
        if (p != null) {
            details.put("phase", p.phase().name().toLowerCase(java.util.Locale.ROOT));
            details.put("bytesDone", p.bytesDone());
            details.put("bytesTotal", p.bytesTotal());
            if (p.filesTotal() > 0) {
                details.put("filesDone", p.filesDone());
                details.put("filesTotal", p.filesTotal());
            }
            details.put("bytesPerSecond", Math.round(p.bytesPerSecond()));
            if (p.eta() != null) {
                details.put("eta", p.eta().toString());
            }
        }
        if (c.failure() != null) {
            details.put("failure", c.failure());
        }
        return details;
    }
}

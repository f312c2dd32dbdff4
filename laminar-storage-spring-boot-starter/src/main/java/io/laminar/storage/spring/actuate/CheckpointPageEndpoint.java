package io.laminar.storage.spring.actuate;

import static io.laminar.storage.report.CheckpointCharts.escape;

import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.checkpoint.CheckpointHistory.CompletedCheckpoint;
import io.laminar.storage.checkpoint.CheckpointHistory.FailedCheckpoint;
import io.laminar.storage.checkpoint.RecoveryReport;
import io.laminar.storage.report.CheckpointCharts;
import io.laminar.storage.report.CheckpointCharts.Point;
import io.laminar.storage.report.CheckpointCharts.Unit;
import io.laminar.storage.runtime.LaminarRuntime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Objects;
import java.util.function.Supplier;
import org.springframework.boot.actuate.endpoint.Access;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.web.annotation.WebEndpoint;

/**
 * The checkpoint page: a read-only HTML view of a {@link LaminarRuntime}'s checkpoints for a
 * person, in the manner of Flink's checkpoint view, at {@code GET <management base path>/laminar}
 * ({@code /actuator/laminar}).
 *
 * <p>Rendered on the server, self-contained: inline CSS and inline SVG charts from
 * {@link CheckpointCharts} (the same renderer as {@code laminar checkpoint history --html}), no
 * script, no style sheet, font or image to fetch. It shows the health (the {@code laminarStorage}
 * indicator's status and reason, when that indicator exists), the counts, charts of the duration,
 * state size and incremental bytes of the recent completed checkpoints (those the
 * {@link CheckpointHistory} keeps), the latest checkpoint, each core's WAL (state, durable position,
 * the latest checkpoint's position, appends, fsyncs, unsynced bytes, records replayed at start), the
 * recent checkpoints with failures and their causes, and the recovery report. Every string taken
 * from the runtime (paths, exception messages, skip reasons) is escaped.
 *
 * <p>It has a read operation only: nothing on the page, and no operation of this endpoint, takes a
 * checkpoint (that is {@code POST /actuator/checkpoints}, see {@link CheckpointsEndpoint}). Web only,
 * since HTML means nothing over JMX. Thread-safe: each request reads the runtime and the history afresh.
 */
@WebEndpoint(id = "laminar", defaultAccess = Access.READ_ONLY)
public class CheckpointPageEndpoint {

    /** The media type of the page. */
    public static final String TEXT_HTML = "text/html;charset=UTF-8";

    /**
     * The health shown on the page.
     *
     * @param status the status code, e.g. {@code UP}
     * @param reason why it is not UP, or null
     */
    public record HealthSummary(String status, String reason) {

        public HealthSummary {
            Objects.requireNonNull(status, "status");
        }
    }

    private final LaminarRuntime runtime;
    private final CheckpointHistory history;
    private final Supplier<HealthSummary> health;
    private final Clock clock;

    /**
     * A page over {@code runtime}, whose checkpoints {@code history} listens to.
     *
     * @param health the health to show, read on every request; it may return null (no health
     *               indicator: the page then shows the WAL's state alone)
     */
    public CheckpointPageEndpoint(LaminarRuntime runtime, CheckpointHistory history, Supplier<HealthSummary> health) {
        this(runtime, history, health, Clock.systemUTC());
    }

    CheckpointPageEndpoint(LaminarRuntime runtime, CheckpointHistory history, Supplier<HealthSummary> health,
                           Clock clock) {
        this.runtime = Objects.requireNonNull(runtime, "runtime");
        this.history = Objects.requireNonNull(history, "history");
        this.health = Objects.requireNonNull(health, "health");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** The page. */
    @ReadOperation(produces = TEXT_HTML)
    public String page() {
        var s = history.snapshot();
        var report = s.recoveryReport() != null ? s.recoveryReport() : runtime.recoveryReport().orElse(null);
        var completed = new ArrayList<CompletedCheckpoint>();
        for (var entry : s.recent()) {
            if (entry instanceof CompletedCheckpoint c) {
                completed.add(c);
            }
        }
        completed.sort(Comparator.comparingLong(CompletedCheckpoint::checkpointId));
        var h = health.get();

        var html = new StringBuilder(32 * 1024);
        html.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta name=\"viewport\" content=\"width=device-width\">")
                .append("<title>laminar-storage checkpoints</title><style>")
                .append("body{font-family:sans-serif;margin:24px;color:#222}h2{margin-top:28px}")
                .append(".charts{display:flex;flex-wrap:wrap;gap:16px}")
                .append("table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}")
                .append("th{background:#f3f3f3}td.text,th.key{text-align:left}tr.failed,.failed{color:#b00}")
                .append(".status{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-weight:bold}")
                .append(".UP{background:#2a7d2e}.DOWN{background:#b00}.OUT_OF_SERVICE{background:#c77700}")
                .append(".UNKNOWN,.none{background:#777}.muted{color:#777}")
                .append("</style></head><body>\n<h1>laminar-storage checkpoints</h1>\n<p class=\"muted\">")
                .append(runtime.cores()).append(" cores, WAL <code>").append(escape(runtime.wal().directory().toString()))
                .append("</code>, page rendered ").append(escape(clock.instant().toString()))
                .append(". Read-only; reload for fresh data.</p>\n");

        // Health and counts.
        var died = runtime.failure();
        String runtimeState = runtime.isRunning() ? "running" : died.isPresent() ? "failed" : "not running";
        html.append("<section id=\"health\"><h2>Health</h2><p>");
        if (h != null) {
            String code = h.status().matches("[A-Z_]+") ? h.status() : "UNKNOWN";
            html.append("<span class=\"status ").append(code).append("\" id=\"health-status\">").append(escape(h.status()))
                    .append("</span>");
            if (h.reason() != null) {
                html.append(" <span id=\"health-reason\">").append(escape(h.reason())).append("</span>");
            }
        } else {
            html.append("<span class=\"status none\" id=\"health-status\">no health indicator</span>");
        }
        html.append("</p><p>Runtime ").append(runtimeState);
        died.ifPresent(e -> html.append(": <span class=\"failed\">").append(escape(e.toString())).append("</span>"));
        html.append(". Checkpoints: <span id=\"count-completed\">").append(s.completed()).append("</span> completed, ")
                .append("<span id=\"count-failed\">").append(s.failed()).append("</span> failed, ")
                .append(s.inProgress()).append(" in progress, ").append(s.cleanupFailures())
                .append(" with failed clean-up; the latest completed ").append(s.latestCompleted() == null
                        ? "none yet, tracking since " + escape(s.trackingSince().toString())
                        : escape(age(history.timeSinceLastCompleted())) + " ago")
                .append(".</p></section>\n");

        // Charts.
        var durations = new ArrayList<Point>();
        var states = new ArrayList<Point>();
        var written = new ArrayList<Point>();
        for (var c : completed) {
            durations.add(new Point(c.checkpointId(), c.duration().toMillis()));
            states.add(new Point(c.checkpointId(), c.stateBytes()));
            written.add(new Point(c.checkpointId(), c.writtenBytes()));
        }
        html.append("<section id=\"charts\"><h2>Recent checkpoints</h2><p class=\"muted\">The ").append(completed.size())
                .append(" most recent completed checkpoints this application took (the history keeps ")
                .append(history.capacity()).append(", completed and failed).</p><div class=\"charts\">\n")
                .append(CheckpointCharts.lineChart("duration", "Duration", Unit.MILLIS, "#1f77b4", durations)).append('\n')
                .append(CheckpointCharts.lineChart("state-bytes", "State size (stateBytes)", Unit.BYTES, "#2ca02c", states))
                .append('\n')
                .append(CheckpointCharts.lineChart("written-bytes", "Incremental bytes written (writtenBytes)", Unit.BYTES,
                        "#ff7f0e", written))
                .append("\n</div></section>\n");

        // The latest checkpoint.
        var latest = s.latestCompleted();
        html.append("<section id=\"latest\"><h2>Latest checkpoint</h2>");
        if (latest == null) {
            html.append("<p class=\"muted\">No checkpoint completed since the start.</p>");
        } else {
            html.append("<table><tbody>");
            row(html, "id", "<span id=\"latest-id\">" + latest.checkpointId() + "</span>");
            row(html, "epoch", Long.toString(latest.epoch()));
            row(html, "started", escape(latest.startedAt().toString()));
            row(html, "completed", escape(latest.completedAt().toString()));
            row(html, "duration", escape(CheckpointCharts.label(latest.duration().toMillis(), Unit.MILLIS)));
            row(html, "state size", bytes(latest.stateBytes()));
            row(html, "written (incremental)", bytes(latest.writtenBytes()));
            row(html, "stored (files it needs)", bytes(latest.storedBytes()));
            row(html, "state files", Integer.toString(latest.files()));
            row(html, "parent", latest.parentCheckpointId() == null ? "none (full checkpoint)"
                    : latest.parentCheckpointId().toString());
            row(html, "WAL positions", escape(latest.walPositions().toString()));
            if (latest.cleanupFailure() != null) {
                row(html, "clean-up failed", "<span class=\"failed\">" + escape(latest.cleanupFailure().step() + ": "
                        + latest.cleanupFailure().cause()) + "</span>");
            }
            html.append("</tbody></table>");
        }
        html.append("</section>\n");

        // Per-core WAL.
        var wal = runtime.wal();
        html.append("<section id=\"cores\"><h2>Write-ahead log per core</h2><table><thead><tr><th>core</th>")
                .append("<th>state</th><th>durable position</th><th>latest checkpoint's position</th><th>appends</th>")
                .append("<th>fsyncs</th><th>unsynced</th><th>replayed at start</th><th class=\"key\">cause</th>")
                .append("</tr></thead><tbody>\n");
        for (int core = 0; core < wal.cores(); core++) {
            var failure = wal.failure(core);
            var stats = wal.statistics(core);
            html.append("<tr class=\"core").append(failure.isPresent() ? " failed" : "").append("\" data-core=\"")
                    .append(core).append("\"><td>").append(core).append("</td><td class=\"text\">")
                    .append(failure.isPresent() ? "failed" : "ok").append("</td><td class=\"position\">")
                    .append(wal.durablePosition(core)).append("</td><td>")
                    .append(latest != null && core < latest.walPositions().size() ? latest.walPositions().get(core) : "-")
                    .append("</td><td>").append(stats.appends()).append("</td><td>").append(stats.syncs())
                    .append("</td><td>").append(bytes(stats.unsyncedBytes())).append("</td><td>")
                    .append(report != null && core < report.recordsReplayedPerCore().size()
                            ? report.recordsReplayedPerCore().get(core) : "-")
                    .append("</td><td class=\"text\">").append(failure.map(e -> escape(e.toString())).orElse(""))
                    .append("</td></tr>\n");
        }
        html.append("</tbody></table></section>\n");

        // History, newest first.
        html.append("<section id=\"history\"><h2>History</h2><table><thead><tr><th>id</th><th class=\"key\">status</th>")
                .append("<th class=\"key\">finished</th><th>duration</th><th>state</th><th>written</th><th>stored</th>")
                .append("<th>files</th><th>parent</th><th class=\"key\">cause</th></tr></thead><tbody>\n");
        for (var entry : s.recent()) {
            if (entry instanceof CompletedCheckpoint c) {
                html.append("<tr class=\"checkpoint\" data-id=\"").append(c.checkpointId()).append("\"><td>")
                        .append(c.checkpointId()).append("</td><td class=\"text\">COMPLETED</td><td class=\"text\">")
                        .append(escape(c.completedAt().toString())).append("</td><td>")
                        .append(escape(CheckpointCharts.label(c.duration().toMillis(), Unit.MILLIS))).append("</td><td>")
                        .append(bytes(c.stateBytes())).append("</td><td>").append(bytes(c.writtenBytes()))
                        .append("</td><td>").append(bytes(c.storedBytes())).append("</td><td>").append(c.files())
                        .append("</td><td>").append(c.parentCheckpointId() == null ? "-" : c.parentCheckpointId())
                        .append("</td><td class=\"text\">").append(c.cleanupFailure() == null ? ""
                                : escape("clean-up " + c.cleanupFailure().step() + " failed: " + c.cleanupFailure().cause()))
                        .append("</td></tr>\n");
            } else {
                var f = (FailedCheckpoint) entry;
                html.append("<tr class=\"checkpoint failed\" data-id=\"").append(f.checkpointId()).append("\"><td>")
                        .append(f.checkpointId() < 0 ? "-" : Long.toString(f.checkpointId()))
                        .append("</td><td class=\"text\">FAILED</td><td class=\"text\">")
                        .append(escape(f.failedAt().toString())).append("</td><td>")
                        .append(f.duration() == null ? "-" : escape(CheckpointCharts.label(f.duration().toMillis(),
                                Unit.MILLIS)))
                        .append("</td><td></td><td></td><td></td><td></td><td></td><td class=\"text\">")
                        .append(escape(String.valueOf(f.cause()))).append("</td></tr>\n");
            }
        }
        if (s.recent().isEmpty()) {
            html.append("<tr><td class=\"text muted\" colspan=\"10\">no checkpoint yet</td></tr>\n");
        }
        html.append("</tbody></table></section>\n");

        recovery(html, report, s.recoveredAt());
        return html.append("</body></html>\n").toString();
    }

    private static void recovery(StringBuilder html, RecoveryReport report, Instant recoveredAt) {
        html.append("<section id=\"recovery\"><h2>Recovery at start</h2>");
        if (report == null) {
            html.append("<p class=\"muted\">The runtime has not recovered yet.</p></section>\n");
            return;
        }
        html.append("<table><tbody>");
        row(html, "restored checkpoint", "<span id=\"recovery-checkpoint\">" + (report.checkpointId() == null
                ? "none (WAL only)" : report.checkpointId().toString()) + "</span>");
        row(html, "adopted from another WAL", report.adoptedCheckpoint() ? "yes" : "no");
        row(html, "duration", escape(CheckpointCharts.label(report.duration().toMillis(), Unit.MILLIS)));
        row(html, "records replayed", "<span id=\"recovery-records\">" + report.recordsReplayed() + "</span>");
        row(html, "bytes replayed", bytes(report.bytesReplayed()));
        row(html, "records replayed per core", escape(report.recordsReplayedPerCore().toString()));
        if (recoveredAt != null) {
            row(html, "reported at", escape(recoveredAt.toString()));
        }
        html.append("</tbody></table>");
        if (!report.skipped().isEmpty()) {
            html.append("<h3>Skipped checkpoints</h3><table><thead><tr><th>id</th><th class=\"key\">reason</th></tr>")
                    .append("</thead><tbody>");
            for (var skipped : report.skipped()) {
                html.append("<tr class=\"skipped failed\"><td>").append(skipped.checkpointId())
                        .append("</td><td class=\"text\">").append(escape(skipped.reason())).append("</td></tr>");
            }
            html.append("</tbody></table>");
        }
        html.append("</section>\n");
    }

    /** A key/value row; {@code valueHtml} must be escaped already. */
    private static void row(StringBuilder html, String key, String valueHtml) {
        html.append("<tr><th class=\"key\">").append(escape(key)).append("</th><td class=\"text\">").append(valueHtml)
                .append("</td></tr>");
    }

    private static String bytes(long n) {
        return escape(CheckpointCharts.label(n, Unit.BYTES));
    }

    private static String age(Duration age) {
        long seconds = age.toSeconds();
        return seconds < 1 ? age.toMillis() + " ms" : seconds < 120 ? seconds + " s"
                : seconds < 7200 ? seconds / 60 + " min" : seconds / 3600 + " h";
    }
}

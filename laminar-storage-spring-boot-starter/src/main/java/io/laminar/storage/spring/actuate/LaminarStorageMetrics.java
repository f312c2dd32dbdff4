package io.laminar.storage.spring.actuate;

import io.laminar.storage.changelog.ChangelogStatistics;
import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.checkpoint.CheckpointListener;
import io.laminar.storage.checkpoint.RecoveryReport;
import io.laminar.storage.percore.PerCoreWalListener;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalStatistics;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.BaseUnits;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * Binds the meters of a {@link LaminarRuntime} to a {@link MeterRegistry}: the per-core write-ahead
 * logs, the checkpoints, the recovery and the changelog. Every meter is a function over an object
 * the library already keeps up to date ({@link WalStatistics}, {@link CheckpointHistory},
 * {@link RecoveryReport}, {@link ChangelogStatistics}), read when the registry is scraped, except
 * two real {@link Timer}s, so that their latency distribution can be published
 * ({@code management.metrics.distribution.percentiles-histogram.laminar.storage.wal.fsync=true}
 * and the other {@code management.metrics.distribution.*} settings apply to them):
 * {@code laminar.storage.wal.fsync} records each fdatasync on the thread that made it (a
 * {@link PerCoreWalListener}; one timer update per fsync, not per record), and
 * {@code laminar.storage.checkpoint.duration} each completed checkpoint (a
 * {@link CheckpointListener}). Both count from when the binder was bound, before the runtime
 * starts under Spring Boot. The append path and the core threads never call Micrometer.
 *
 * <p>Names start with {@code laminar.storage.}; every meter has a description and a base unit
 * (timers and time gauges in the registry's base time unit). Per-core meters carry the tag
 * {@code core} (0, 1, ...). With the Prometheus naming convention the unit is appended:
 * {@code laminar.storage.wal.fsync} becomes {@code laminar_storage_wal_fsync_seconds_count} and
 * {@code _sum}, {@code laminar.storage.changelog.queue.depth} (changes) becomes
 * {@code laminar_storage_changelog_queue_depth_changes}.
 *
 * <h2>Meters</h2>
 * <table>
 *   <caption>Meters, their type and base unit</caption>
 *   <tr><th>name</th><th>type</th><th>unit</th><th>what</th></tr>
 *   <tr><td>laminar.storage.wal.records</td><td>counter</td><td>records</td><td>records appended (per core)</td></tr>
 *   <tr><td>laminar.storage.wal.bytes</td><td>counter</td><td>bytes</td><td>payload bytes appended (per core)</td></tr>
 *   <tr><td>laminar.storage.wal.fsync</td><td>timer</td><td>seconds</td><td>each fdatasync (per core)</td></tr>
 *   <tr><td>laminar.storage.wal.fsync.max</td><td>time gauge</td><td>seconds</td><td>longest fdatasync (per core)</td></tr>
 *   <tr><td>laminar.storage.wal.fsync.last</td><td>time gauge</td><td>seconds</td><td>latest fdatasync (per core)</td></tr>
 *   <tr><td>laminar.storage.wal.fsync.records</td><td>counter</td><td>records</td><td>records made durable by fdatasync (per core)</td></tr>
 *   <tr><td>laminar.storage.wal.fsync.batch</td><td>gauge</td><td>records</td><td>average records per fdatasync (per core)</td></tr>
 *   <tr><td>laminar.storage.wal.unsynced</td><td>gauge</td><td>bytes</td><td>bytes appended, not yet fsynced (per core)</td></tr>
 *   <tr><td>laminar.storage.wal.torn.tail.repairs</td><td>counter</td><td>repairs</td><td>torn tails repaired at open (per core)</td></tr>
 *   <tr><td>laminar.storage.wal.truncated</td><td>counter</td><td>bytes</td><td>bytes cut off by those repairs (per core)</td></tr>
 *   <tr><td>laminar.storage.wal.deleted.segments</td><td>counter</td><td>segments</td><td>segments deleted by truncation (per core)</td></tr>
 *   <tr><td>laminar.storage.wal.buffer.full</td><td>counter</td><td>waits</td><td>appends that waited for buffer room (per core)</td></tr>
 *   <tr><td>laminar.storage.wal.failed</td><td>gauge</td><td>logs</td><td>1 if the core's log failed, else 0 (per core)</td></tr>
 *   <tr><td>laminar.storage.wal.io.backend</td><td>gauge</td><td>logs</td><td>1 for the I/O backend the core's log writes with, 0 for the others; tag {@code backend}: file-channel, direct (per core)</td></tr>
 *   <tr><td>laminar.storage.checkpoints</td><td>counter</td><td>checkpoints</td><td>finished checkpoints, tag {@code outcome}: completed, failed</td></tr>
 *   <tr><td>laminar.storage.checkpoints.in.progress</td><td>gauge</td><td>checkpoints</td><td>checkpoints under way</td></tr>
 *   <tr><td>laminar.storage.checkpoint.cleanup.failures</td><td>counter</td><td>failures</td><td>completed checkpoints whose retention or WAL truncation failed</td></tr>
 *   <tr><td>laminar.storage.checkpoint.duration</td><td>timer</td><td>seconds</td><td>each completed checkpoint</td></tr>
 *   <tr><td>laminar.storage.checkpoint.last.duration</td><td>time gauge</td><td>seconds</td><td>duration of the latest completed</td></tr>
 *   <tr><td>laminar.storage.checkpoint.size</td><td>gauge</td><td>bytes</td><td>logical state size of the latest completed</td></tr>
 *   <tr><td>laminar.storage.checkpoint.incremental</td><td>gauge</td><td>bytes</td><td>bytes the latest completed wrote</td></tr>
 *   <tr><td>laminar.storage.checkpoint.stored</td><td>gauge</td><td>bytes</td><td>bytes of every file the latest completed needs</td></tr>
 *   <tr><td>laminar.storage.checkpoint.written</td><td>counter</td><td>bytes</td><td>bytes every completed checkpoint wrote</td></tr>
 *   <tr><td>laminar.storage.checkpoint.age</td><td>time gauge</td><td>seconds</td><td>time since the latest completed (since start before the first)</td></tr>
 *   <tr><td>laminar.storage.recovery.duration</td><td>time gauge</td><td>seconds</td><td>how long the recovery at start took</td></tr>
 *   <tr><td>laminar.storage.recovery.replayed</td><td>gauge</td><td>records</td><td>WAL records it replayed</td></tr>
 *   <tr><td>laminar.storage.recovery.replayed.bytes</td><td>gauge</td><td>bytes</td><td>WAL bytes it replayed</td></tr>
 *   <tr><td>laminar.storage.recovery.skipped</td><td>gauge</td><td>checkpoints</td><td>newer checkpoints it could not use</td></tr>
 *   <tr><td>laminar.storage.recovery.active</td><td>gauge</td><td>recoveries</td><td>1 while the recovery at start runs, else 0 (with a {@link RecoveryProgressTracker})</td></tr>
 *   <tr><td>laminar.storage.recovery.progress.bytes</td><td>gauge</td><td>bytes</td><td>bytes done of the phase in progress (state files read, or WAL replayed); tag {@code of}: done, total</td></tr>
 *   <tr><td>laminar.storage.recovery.progress.files</td><td>gauge</td><td>files</td><td>state files of the checkpoint being restored read and verified; tag {@code of}: done, total</td></tr>
 *   <tr><td>laminar.storage.recovery.progress.rate</td><td>gauge</td><td>bytes</td><td>bytes per second of the phase in progress</td></tr>
 *   <tr><td>laminar.storage.recovery.progress.eta</td><td>time gauge</td><td>seconds</td><td>time left at that rate (NaN while unknown)</td></tr>
 *   <tr><td>laminar.storage.changelog.queue.depth</td><td>gauge</td><td>changes</td><td>changes waiting for the drainer, all cores</td></tr>
 *   <tr><td>laminar.storage.changelog.queue.depth.max</td><td>gauge</td><td>changes</td><td>most changes ever waiting in one core's queue</td></tr>
 *   <tr><td>laminar.storage.changelog.backpressure</td><td>function timer</td><td>seconds</td><td>times core threads waited for queue room, and how long</td></tr>
 *   <tr><td>laminar.storage.changelog.drained</td><td>counter</td><td>changes</td><td>changes appended to the WALs</td></tr>
 *   <tr><td>laminar.storage.changelog.rejected</td><td>counter</td><td>changes</td><td>changes refused by a full queue (policy FAIL)</td></tr>
 * </table>
 * Gauges of something that has not happened yet (the latest checkpoint before the first, the
 * recovery before start) read NaN; the changelog meters read 0 until the runtime has started.
 *
 * <p>Micrometer holds an observed object weakly. These meters observe objects that live as long as
 * the runtime and the history do: the WAL manager, the history, the runtime (which also gives the
 * changelog statistics and the recovery report once started). The WAL meters never hold a log's
 * {@link WalStatistics}: they ask the manager for the core's current log at each read, because
 * recovery replaces the logs when it adopts a checkpoint taken on another machine, and the
 * statistics of a closed log would freeze (and read NaN once collected). A log's counters start at
 * zero when it is opened, so the per-core counters restart at zero if a log is replaced; adoption
 * replaces only logs that hold no record, before the runtime takes any task. Thread-safe.
 */
public final class LaminarStorageMetrics implements MeterBinder {

    private static final String PREFIX = "laminar.storage.";
    private static final String RECORDS = "records";

    private final LaminarRuntime runtime;
    private final CheckpointHistory history;
    private final Tags tags;
    private final RecoveryProgressTracker progress;
    private volatile ChangelogStatistics changelog;

    /** Meters of {@code runtime}, with checkpoints and recovery as {@code history} saw them. */
    public LaminarStorageMetrics(LaminarRuntime runtime, CheckpointHistory history) {
        this(runtime, history, Tags.empty());
    }

    /** As {@link #LaminarStorageMetrics(LaminarRuntime, CheckpointHistory)}, with {@code tags} on every meter. */
    public LaminarStorageMetrics(LaminarRuntime runtime, CheckpointHistory history, Iterable<Tag> tags) {
        this(runtime, history, tags, null);
    }

    /**
     * As {@link #LaminarStorageMetrics(LaminarRuntime, CheckpointHistory, Iterable)}, with the
     * {@code laminar.storage.recovery.active} and {@code .progress.*} meters over {@code progress}
     * (null: without them).
     */
    public LaminarStorageMetrics(LaminarRuntime runtime, CheckpointHistory history, Iterable<Tag> tags,
                                 RecoveryProgressTracker progress) {
        this.runtime = Objects.requireNonNull(runtime, "runtime");
        this.history = Objects.requireNonNull(history, "history");
        this.tags = Tags.of(tags);
        this.progress = progress;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        bindWal(registry, runtime.wal());
        bindCheckpoints(registry);
        bindRecovery(registry);
        bindChangelog(registry);
    }

    // ---- WAL ---------------------------------------------------------------------------------

    private void bindWal(MeterRegistry registry, PerCoreWalManager wal) {
        var fsync = new Timer[wal.cores()];
        for (int core = 0; core < wal.cores(); core++) {
            int c = core;
            var coreTags = tags.and("core", Integer.toString(core));
            // Every meter observes the manager and asks it for the core's statistics at each read: a
            // log's statistics belong to that log, and recovery may replace the log (adopting a
            // checkpoint of another machine closes each core's log and opens a new one).
            counter(registry, "wal.records", coreTags, RECORDS, "Records appended to the core's write-ahead log",
                    wal, stat(c, WalStatistics::appends));
            counter(registry, "wal.bytes", coreTags, BaseUnits.BYTES,
                    "Payload bytes appended to the core's write-ahead log", wal, stat(c, WalStatistics::appendedBytes));
            fsync[core] = Timer.builder(PREFIX + "wal.fsync")
                    .tags(coreTags)
                    .description("fdatasync calls on the core's write-ahead log and the time spent in them")
                    .minimumExpectedValue(Duration.ofNanos(10_000))
                    .maximumExpectedValue(Duration.ofSeconds(10))
                    .register(registry);
            TimeGauge.builder(PREFIX + "wal.fsync.max", wal, TimeUnit.NANOSECONDS, stat(c, WalStatistics::maxSyncNanos))
                    .tags(coreTags)
                    .description("Longest fdatasync of the core's write-ahead log since it was opened")
                    .register(registry);
            TimeGauge.builder(PREFIX + "wal.fsync.last", wal, TimeUnit.NANOSECONDS,
                            stat(c, WalStatistics::lastSyncNanos))
                    .tags(coreTags)
                    .description("Duration of the latest fdatasync of the core's write-ahead log")
                    .register(registry);
            counter(registry, "wal.fsync.records", coreTags, RECORDS,
                    "Records made durable by fdatasync; divided by the fdatasync count, records per fsync", wal,
                    stat(c, WalStatistics::syncedRecords));
            gauge(registry, "wal.fsync.batch", coreTags, RECORDS,
                    "Average records made durable by one fdatasync since the log was opened", wal, w -> {
                        var s = w.statistics(c);
                        return s.syncs() == 0 ? 0 : (double) s.syncedRecords() / s.syncs();
                    });
            gauge(registry, "wal.unsynced", coreTags, BaseUnits.BYTES,
                    "Bytes appended to the core's write-ahead log and not yet fsynced", wal,
                    stat(c, WalStatistics::unsyncedBytes));
            counter(registry, "wal.torn.tail.repairs", coreTags, "repairs",
                    "Torn tails (records cut short by a crash) repaired when the core's log was opened", wal,
                    stat(c, WalStatistics::tornTailRepairs));
            counter(registry, "wal.truncated", coreTags, BaseUnits.BYTES,
                    "Bytes cut off the end of the core's log when it was opened: torn tails, and corruption "
                            + "if truncation at corruption was chosen", wal, stat(c, WalStatistics::truncatedBytes));
            counter(registry, "wal.deleted.segments", coreTags, "segments",
                    "Segments of the core's log deleted because a checkpoint made them unnecessary", wal,
                    stat(c, WalStatistics::segmentsDeleted));
            counter(registry, "wal.buffer.full", coreTags, "waits",
                    "Appends to the core's log that waited because its write buffer was full", wal,
                    stat(c, WalStatistics::bufferFullWaits));
            gauge(registry, "wal.failed", coreTags, "logs",
                    "1 if the core's write-ahead log failed (a write or fdatasync threw) and refuses appends, "
                            + "else 0", wal, w -> w.isFailed(c) ? 1 : 0);
            for (var backend : WalIoBackend.values()) {
                if (backend.fallsBack()) {
                    continue; // a choice, never what a log writes with
                }
                gauge(registry, "wal.io.backend", coreTags.and("backend", backend.propertyValue()), "logs",
                        "1 if the core's write-ahead log writes with this I/O backend "
                                + "(laminar.storage.wal.io-backend), else 0", wal, w -> w.ioBackend(c) == backend ? 1 : 0);
            }
        }
        // Each fdatasync is timed where it happens (a real timer, so that a percentile histogram can
        // be switched on); the manager's listeners outlive the logs recovery may replace.
        wal.addListener(new PerCoreWalListener() {
            @Override
            public void onSync(int core, int records, long bytes, long nanos) {
                fsync[core].record(nanos, TimeUnit.NANOSECONDS);
            }
        });
    }

    /** A statistic of the log {@code core} has now (looked up at each read, see {@link #bindWal}). */
    private static ToDoubleFunction<PerCoreWalManager> stat(int core, ToLongFunction<WalStatistics> value) {
        return wal -> value.applyAsLong(wal.statistics(core));
    }

    // ---- checkpoints -------------------------------------------------------------------------

    private void bindCheckpoints(MeterRegistry registry) {
        counter(registry, "checkpoints", tags.and("outcome", "completed"), "checkpoints",
                "Checkpoints finished, by outcome: completed (published) or failed", history,
                x -> history.completedCount());
        counter(registry, "checkpoints", tags.and("outcome", "failed"), "checkpoints",
                "Checkpoints finished, by outcome: completed (published) or failed", history,
                x -> history.failedCount());
        gauge(registry, "checkpoints.in.progress", tags, "checkpoints", "Checkpoints started and not yet finished",
                history, x -> history.inProgressCount());
        counter(registry, "checkpoint.cleanup.failures", tags, "failures",
                "Completed checkpoints whose retention or WAL truncation failed after publication (retried by "
                        + "the next checkpoint)", history, x -> history.cleanupFailureCount());
        var duration = Timer.builder(PREFIX + "checkpoint.duration")
                .tags(tags)
                .description("Completed checkpoints and the time they took, from start to publication")
                .minimumExpectedValue(Duration.ofMillis(1))
                .maximumExpectedValue(Duration.ofMinutes(10))
                .register(registry);
        runtime.addCheckpointListener(new CheckpointListener() {
            @Override
            public void completed(CheckpointManifest manifest, Duration took, long writtenBytes) {
                duration.record(took);
            }
        });
        TimeGauge.builder(PREFIX + "checkpoint.last.duration", history, TimeUnit.NANOSECONDS,
                        x -> latest(c -> c.duration().toNanos()))
                .tags(tags)
                .description("Duration of the latest completed checkpoint")
                .register(registry);
        gauge(registry, "checkpoint.size", tags, BaseUnits.BYTES,
                "Logical size of the state in the latest completed checkpoint (keys and values, all cores)", history,
                x -> latest(CheckpointHistory.CompletedCheckpoint::stateBytes));
        gauge(registry, "checkpoint.incremental", tags, BaseUnits.BYTES,
                "Bytes of state files the latest completed checkpoint wrote (its deltas, or full files)", history,
                x -> latest(CheckpointHistory.CompletedCheckpoint::writtenBytes));
        gauge(registry, "checkpoint.stored", tags, BaseUnits.BYTES,
                "Bytes of every state file the latest completed checkpoint needs in the store, its own and "
                        + "inherited", history, x -> latest(CheckpointHistory.CompletedCheckpoint::storedBytes));
        counter(registry, "checkpoint.written", tags, BaseUnits.BYTES,
                "Bytes of state files written by every completed checkpoint", history,
                x -> history.totalWrittenBytes());
        TimeGauge.builder(PREFIX + "checkpoint.age", history, TimeUnit.NANOSECONDS,
                        x -> history.timeSinceLastCompleted().toNanos())
                .tags(tags)
                .description("Time since the latest checkpoint completed; before the first, since the runtime "
                        + "started")
                .register(registry);
    }

    private double latest(ToLongFunction<CheckpointHistory.CompletedCheckpoint> value) {
        var latest = history.latestCompleted();
        return latest.isPresent() ? value.applyAsLong(latest.get()) : Double.NaN;
    }

    // ---- recovery ----------------------------------------------------------------------------

    private void bindRecovery(MeterRegistry registry) {
        if (progress != null) {
            bindRecoveryProgress(registry, progress);
        }
        TimeGauge.builder(PREFIX + "recovery.duration", runtime, TimeUnit.NANOSECONDS,
                        r -> recovery(report -> report.duration().toNanos()))
                .tags(tags)
                .description("How long the recovery at start took: restoring the checkpoint and replaying the WAL")
                .register(registry);
        gauge(registry, "recovery.replayed", tags, RECORDS,
                "WAL records replayed onto the restored checkpoint at start, all cores", runtime,
                r -> recovery(RecoveryReport::recordsReplayed));
        gauge(registry, "recovery.replayed.bytes", tags, BaseUnits.BYTES,
                "WAL bytes replayed at start, all cores", runtime, r -> recovery(RecoveryReport::bytesReplayed));
        gauge(registry, "recovery.skipped", tags, "checkpoints",
                "Checkpoints newer than the restored one that recovery could not use (damaged or incomplete)",
                runtime, r -> recovery(report -> report.skipped().size()));
    }

    private double recovery(ToLongFunction<RecoveryReport> value) {
        // The history has the report once the starter's lifecycle handed it over; the runtime has it
        // from the end of start(), a moment earlier.
        var report = history.recoveryReport().or(runtime::recoveryReport);
        return report.isPresent() ? value.applyAsLong(report.get()) : Double.NaN;
    }

    // ---- changelog ---------------------------------------------------------------------------

    private void bindChangelog(MeterRegistry registry) {
        gauge(registry, "changelog.queue.depth", tags, "changes",
                "Changes waiting in the changelog queues for the drainer to append them to the WALs, all cores",
                runtime, r -> changelog(ChangelogStatistics::queueDepth));
        gauge(registry, "changelog.queue.depth.max", tags, "changes",
                "The most changes ever waiting in one core's changelog queue", runtime,
                r -> changelog(ChangelogStatistics::queueDepthHighWaterMark));
        FunctionTimer.builder(PREFIX + "changelog.backpressure", runtime,
                        r -> changelog(ChangelogStatistics::backpressureWaits),
                        r -> changelog(ChangelogStatistics::backpressureWaitNanos), TimeUnit.NANOSECONDS)
                .tags(tags)
                .description("Backpressure waits: times a core thread found its changelog queue full and waited, "
                        + "and the time it waited")
                .register(registry);
        counter(registry, "changelog.drained", tags, "changes", "Changes the drainer appended to the WALs", runtime,
                r -> changelog(ChangelogStatistics::entriesDrained));
        counter(registry, "changelog.rejected", tags, "changes",
                "Changes refused because a changelog queue was full (overflow policy FAIL)", runtime,
                r -> changelog(ChangelogStatistics::rejected));
    }

    private long changelog(ToLongFunction<ChangelogStatistics> value) {
        var statistics = changelog;
        if (statistics == null) {
            try {
                statistics = runtime.drainer().statistics(); // the same object for the runtime's life
                changelog = statistics;
            } catch (IllegalStateException notStarted) {
                return 0; // nothing was drained, queued or refused yet
            }
        }
        return value.applyAsLong(statistics);
    }

    // ---- helpers -----------------------------------------------------------------------------

    /** Meters over the tracker, read while the recovery runs (e.g. by a registry that pushes). */
    private void bindRecoveryProgress(MeterRegistry registry, RecoveryProgressTracker tracker) {
        gauge(registry, "recovery.active", tags, "recoveries", "1 while the recovery at start runs, else 0",
                tracker, t -> t.active() ? 1 : 0);
        gauge(registry, "recovery.progress.bytes", tags.and("of", "done"), BaseUnits.BYTES,
                "Bytes done of the recovery phase in progress: state file bytes read and checksummed, or WAL bytes"
                        + " replayed", tracker, t -> progressOf(t, p -> p.bytesDone()));
        gauge(registry, "recovery.progress.bytes", tags.and("of", "total"), BaseUnits.BYTES,
                "Bytes the recovery phase in progress reads in all", tracker, t -> progressOf(t, p -> p.bytesTotal()));
        gauge(registry, "recovery.progress.files", tags.and("of", "done"), BaseUnits.FILES,
                "State files of the checkpoint being restored that were read to their end and verified", tracker,
                t -> progressOf(t, p -> p.filesDone()));
        gauge(registry, "recovery.progress.files", tags.and("of", "total"), BaseUnits.FILES,
                "State files of the checkpoint being restored", tracker, t -> progressOf(t, p -> p.filesTotal()));
        gauge(registry, "recovery.progress.rate", tags, BaseUnits.BYTES,
                "Bytes per second of the recovery phase in progress", tracker, t -> progressOf(t, p -> p.bytesPerSecond()));
        TimeGauge.builder(PREFIX + "recovery.progress.eta", tracker, TimeUnit.MILLISECONDS,
                        t -> progressOf(t, p -> p.eta() == null ? Double.NaN : p.eta().toMillis()))
                .tags(tags)
                .description("Time left in the recovery phase in progress at its rate so far (NaN while unknown)")
                .register(registry);
    }

    private static double progressOf(RecoveryProgressTracker tracker,
                                     ToDoubleFunction<io.laminar.storage.checkpoint.RecoveryProgress> value) {
        var p = tracker.snapshot().progress();
        return p == null ? Double.NaN : value.applyAsDouble(p);
    }

    private static <T> void counter(MeterRegistry registry, String name, Tags tags, String unit, String description,
                                    T observed, ToDoubleFunction<T> value) {
        FunctionCounter.builder(PREFIX + name, observed, value)
                .tags(tags)
                .baseUnit(unit)
                .description(description)
                .register(registry);
    }

    private static <T> void gauge(MeterRegistry registry, String name, Tags tags, String unit, String description,
                                  T observed, ToDoubleFunction<T> value) {
        Gauge.builder(PREFIX + name, observed, value)
                .tags(tags)
                .baseUnit(unit)
                .description(description)
                .register(registry);
    }
}

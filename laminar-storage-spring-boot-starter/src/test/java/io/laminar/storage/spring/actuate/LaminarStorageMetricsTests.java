package io.laminar.storage.spring.actuate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.laminar.storage.changelog.ChangelogOptions;
import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.checkpoint.MutableClock;
import io.laminar.storage.io.FaultyFileIO;
import io.laminar.storage.store.CheckpointManifest;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LaminarStorageMetricsTests {

    /** Every meter the binder registers, with its base unit (timers: the registry's, seconds). */
    private static final Map<String, String> UNITS = new TreeMap<>(Map.ofEntries(
            Map.entry("laminar.storage.wal.records", "records"),
            Map.entry("laminar.storage.wal.bytes", "bytes"),
            Map.entry("laminar.storage.wal.fsync", "seconds"),
            Map.entry("laminar.storage.wal.fsync.max", "seconds"),
            Map.entry("laminar.storage.wal.fsync.last", "seconds"),
            Map.entry("laminar.storage.wal.fsync.records", "records"),
            Map.entry("laminar.storage.wal.fsync.batch", "records"),
            Map.entry("laminar.storage.wal.unsynced", "bytes"),
            Map.entry("laminar.storage.wal.torn.tail.repairs", "repairs"),
            Map.entry("laminar.storage.wal.truncated", "bytes"),
            Map.entry("laminar.storage.wal.deleted.segments", "segments"),
            Map.entry("laminar.storage.wal.buffer.full", "waits"),
            Map.entry("laminar.storage.wal.failed", "logs"),
            Map.entry("laminar.storage.wal.io.backend", "logs"),
            Map.entry("laminar.storage.checkpoints", "checkpoints"),
            Map.entry("laminar.storage.checkpoints.in.progress", "checkpoints"),
            Map.entry("laminar.storage.checkpoint.cleanup.failures", "failures"),
            Map.entry("laminar.storage.checkpoint.duration", "seconds"),
            Map.entry("laminar.storage.checkpoint.last.duration", "seconds"),
            Map.entry("laminar.storage.checkpoint.size", "bytes"),
            Map.entry("laminar.storage.checkpoint.incremental", "bytes"),
            Map.entry("laminar.storage.checkpoint.stored", "bytes"),
            Map.entry("laminar.storage.checkpoint.written", "bytes"),
            Map.entry("laminar.storage.checkpoint.age", "seconds"),
            Map.entry("laminar.storage.recovery.duration", "seconds"),
            Map.entry("laminar.storage.recovery.replayed", "records"),
            Map.entry("laminar.storage.recovery.replayed.bytes", "bytes"),
            Map.entry("laminar.storage.recovery.skipped", "checkpoints"),
            Map.entry("laminar.storage.changelog.queue.depth", "changes"),
            Map.entry("laminar.storage.changelog.queue.depth.max", "changes"),
            Map.entry("laminar.storage.changelog.backpressure", "seconds"),
            Map.entry("laminar.storage.changelog.drained", "changes"),
            Map.entry("laminar.storage.changelog.rejected", "changes")));

    private static final Instant T0 = Instant.parse("2025-06-01T08:00:00Z");

    @TempDir
    Path dir;

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private TestRuntime test;

    @AfterEach
    void close() {
        if (test != null) {
            test.close();
        }
    }

    /** Per core, the fdatasyncs and their nanoseconds before the meters were bound: the fsync timer counts from then. */
    private long[] syncsAtBind;
    private long[] syncNanosAtBind;

    private TestRuntime bind(TestRuntime runtime) {
        test = runtime;
        syncsAtBind = new long[runtime.wal.cores()];
        syncNanosAtBind = new long[runtime.wal.cores()];
        for (int core = 0; core < syncsAtBind.length; core++) {
            syncsAtBind[core] = runtime.wal.statistics(core).syncs();
            syncNanosAtBind[core] = runtime.wal.statistics(core).syncNanosTotal();
        }
        new LaminarStorageMetrics(runtime.runtime, runtime.history).bindTo(registry);
        return runtime;
    }

    private double counter(String name, String... tags) {
        return registry.get(name).tags(tags).functionCounter().count();
    }

    private double gauge(String name, String... tags) {
        return registry.get(name).tags(tags).gauge().value();
    }

    private double seconds(String name, String... tags) {
        return registry.get(name).tags(tags).timeGauge().value(TimeUnit.SECONDS);
    }

    private FunctionTimer functionTimer(String name, String... tags) {
        return registry.get(name).tags(tags).functionTimer();
    }

    private Timer timer(String name, String... tags) {
        return registry.get(name).tags(tags).timer();
    }

    @Test
    void everyMeterIsUnderLaminarStorageWithABaseUnitAndADescription() {
        bind(TestRuntime.started(dir, 2, new CheckpointHistory()));

        var units = new HashMap<String, String>();
        for (Meter meter : registry.getMeters()) {
            var id = meter.getId();
            assertThat(id.getName()).startsWith("laminar.storage.");
            assertThat(id.getDescription()).as("description of %s", id).isNotBlank();
            assertThat(id.getBaseUnit()).as("base unit of %s", id).isNotBlank();
            var previous = units.put(id.getName(), id.getBaseUnit());
            assertThat(previous).as("unit of %s", id).isIn(null, id.getBaseUnit());
        }
        assertThat(new TreeMap<>(units)).isEqualTo(UNITS);
        // Per-core meters carry the core (the backend gauge also its backend); checkpoint counts the outcome.
        assertThat(registry.find("laminar.storage.wal.io.backend").meters())
                .extracting(m -> m.getId().getTag("core") + "/" + m.getId().getTag("backend"))
                .containsExactlyInAnyOrder("0/file-channel", "0/direct", "0/io-uring", "1/file-channel", "1/direct",
                        "1/io-uring");
        for (var name : UNITS.keySet()) {
            if (name.startsWith("laminar.storage.wal.") && !name.equals("laminar.storage.wal.io.backend")) {
                assertThat(registry.find(name).meters()).extracting(m -> m.getId().getTag("core"))
                        .containsExactlyInAnyOrder("0", "1");
            }
        }
        assertThat(registry.find("laminar.storage.checkpoints").meters()).extracting(m -> m.getId().getTag("outcome"))
                .containsExactlyInAnyOrder("completed", "failed");
        // Real timers, so that percentile histograms can be published (see the histogram test).
        assertThat(registry.get("laminar.storage.wal.fsync").meter()).isInstanceOf(Timer.class);
        assertThat(registry.get("laminar.storage.checkpoint.duration").meter()).isInstanceOf(Timer.class);
        assertThat(registry.get("laminar.storage.checkpoint.age").meter()).isInstanceOf(TimeGauge.class);
        assertThat(registry.get("laminar.storage.wal.records").meter()).isInstanceOf(FunctionCounter.class);
        assertThat(registry.get("laminar.storage.changelog.queue.depth").meter()).isInstanceOf(Gauge.class);
    }

    @Test
    void walMetersReadEachCoresStatisticsAfterRealAppends() throws Exception {
        bind(TestRuntime.started(dir, 2, new CheckpointHistory()));
        for (int i = 0; i < 20; i++) {
            test.put(test.keyOn(0, "a" + i), 100);
        }
        for (int i = 0; i < 7; i++) {
            test.put(test.keyOn(1, "b" + i), 100);
        }

        for (int core = 0; core < 2; core++) {
            var c = Integer.toString(core);
            var s = test.wal.statistics(core);
            assertThat(counter("laminar.storage.wal.records", "core", c)).isEqualTo(s.appends());
            assertThat(counter("laminar.storage.wal.bytes", "core", c)).isEqualTo(s.appendedBytes());
            int core0 = core;
            assertThat(timer("laminar.storage.wal.fsync", "core", c).count()).isEqualTo(s.syncs() - syncsAtBind[core0]);
            assertThat(timer("laminar.storage.wal.fsync", "core", c).totalTime(TimeUnit.NANOSECONDS))
                    .isCloseTo(s.syncNanosTotal() - syncNanosAtBind[core0], within(1.0));
            assertThat(timer("laminar.storage.wal.fsync", "core", c).max(TimeUnit.NANOSECONDS))
                    .isLessThanOrEqualTo(s.maxSyncNanos());
            assertThat(seconds("laminar.storage.wal.fsync.max", "core", c)).isCloseTo(s.maxSyncNanos() / 1e9, within(1e-9));
            assertThat(seconds("laminar.storage.wal.fsync.last", "core", c)).isCloseTo(s.lastSyncNanos() / 1e9, within(1e-9));
            assertThat(counter("laminar.storage.wal.fsync.records", "core", c)).isEqualTo(s.syncedRecords());
            assertThat(gauge("laminar.storage.wal.fsync.batch", "core", c))
                    .isCloseTo((double) s.syncedRecords() / s.syncs(), within(1e-9));
            assertThat(gauge("laminar.storage.wal.unsynced", "core", c)).isEqualTo(s.unsyncedBytes());
            assertThat(gauge("laminar.storage.wal.failed", "core", c)).isZero();
            assertThat(gauge("laminar.storage.wal.io.backend", "core", c, "backend", "file-channel")).isEqualTo(1);
            assertThat(gauge("laminar.storage.wal.io.backend", "core", c, "backend", "direct")).isZero();
        }
        // Every put is a record of at least its key and 100 value bytes, fsynced before put() returned.
        assertThat(counter("laminar.storage.wal.records", "core", "0")).isGreaterThanOrEqualTo(20);
        assertThat(counter("laminar.storage.wal.records", "core", "1")).isGreaterThanOrEqualTo(7);
        assertThat(counter("laminar.storage.wal.bytes", "core", "0")).isGreaterThan(20 * 100);
        assertThat(counter("laminar.storage.wal.fsync.records", "core", "0")).isGreaterThanOrEqualTo(20);
        assertThat(timer("laminar.storage.wal.fsync", "core", "0").count()).isPositive();
        assertThat(timer("laminar.storage.wal.fsync", "core", "0").totalTime(TimeUnit.NANOSECONDS)).isPositive();
        assertThat(gauge("laminar.storage.wal.fsync.batch", "core", "0")).isGreaterThanOrEqualTo(1);
        assertThat(counter("laminar.storage.wal.torn.tail.repairs", "core", "0")).isZero();

        test.walIo.forces().on(path -> path.getFileName().toString().matches("core-0001-\\d{20}\\.wal")).failNow();
        var key = test.keyOn(1, "c");
        assertThatThrownBy(() -> test.put(key, 10)).isInstanceOf(ExecutionException.class);
        assertThat(gauge("laminar.storage.wal.failed", "core", "1")).isEqualTo(1);
        assertThat(gauge("laminar.storage.wal.failed", "core", "0")).isZero();
    }

    @Test
    void walMetersFollowTheLogsThatRecoveryOpensWhenItAdoptsACheckpointOfAnotherMachine() throws Exception {
        var machineA = dir.resolve("machine-a");
        var machineB = dir.resolve("machine-b");
        CheckpointManifest taken;
        try (var first = TestRuntime.started(machineA, 2, new CheckpointHistory())) {
            for (int i = 0; i < 10; i++) {
                first.put("key-" + i, 100);
            }
            taken = first.checkpoint();
        }
        // Machine B: the same checkpoints (a shared store), an empty WAL directory of its own.
        copyTree(machineA.resolve("checkpoints"), machineB.resolve("checkpoints"));
        bind(TestRuntime.open(machineB, 2, new CheckpointHistory()));
        test.start();
        // Recovery adopted the checkpoint: each core's log was closed and opened anew at its position.
        assertThat(test.wal.startPositions().toArray())
                .containsExactly(taken.walPositions().stream().mapToLong(Long::longValue).toArray());

        for (int i = 0; i < 6; i++) {
            test.put(test.keyOn(0, "a" + i), 100);
        }
        for (int i = 0; i < 4; i++) {
            test.put(test.keyOn(1, "b" + i), 100);
        }
        System.gc(); // the logs closed by the adoption must not be what the meters read (nor NaN once collected)

        for (int core = 0; core < 2; core++) {
            var c = Integer.toString(core);
            var s = test.wal.statistics(core);
            assertThat(counter("laminar.storage.wal.records", "core", c)).isEqualTo(s.appends());
            assertThat(counter("laminar.storage.wal.bytes", "core", c)).isEqualTo(s.appendedBytes());
            // Bound before the start: the timer counts the syncs of the logs the adoption closed, too.
            assertThat(timer("laminar.storage.wal.fsync", "core", c).count()).isGreaterThanOrEqualTo(s.syncs());
            assertThat(counter("laminar.storage.wal.fsync.records", "core", c)).isEqualTo(s.syncedRecords());
            assertThat(gauge("laminar.storage.wal.unsynced", "core", c)).isEqualTo(s.unsyncedBytes());
            assertThat(gauge("laminar.storage.wal.failed", "core", c)).isZero();
        }
        assertThat(counter("laminar.storage.wal.records", "core", "0")).isGreaterThanOrEqualTo(6);
        assertThat(counter("laminar.storage.wal.records", "core", "1")).isGreaterThanOrEqualTo(4);
        assertThat(counter("laminar.storage.wal.bytes", "core", "0")).isGreaterThan(6 * 100);
        assertThat(timer("laminar.storage.wal.fsync", "core", "0").count()).isPositive();
    }

    /** Copies the directory {@code from} to {@code to}, as a shared checkpoint store shows it to another machine. */
    static void copyTree(Path from, Path to) throws IOException {
        try (var paths = Files.walk(from)) {
            for (var path : (Iterable<Path>) paths::iterator) {
                var target = to.resolve(from.relativize(path).toString());
                if (Files.isDirectory(path)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(path, target);
                }
            }
        }
    }

    @Test
    void tornTailRepairsCountWhatOpeningCutOffAfterACrash() throws Exception {
        long end;
        try (var first = TestRuntime.started(dir, 2, new CheckpointHistory())) {
            first.put(first.keyOn(0, "a"), 100);
            end = first.wal.durablePosition(0);
        }
        // A crash left the length of core 0's next record on disk and nothing else of it. Format
        // (WalFormat): a 64-byte segment header, then frames whose first 4 bytes (little endian)
        // are the frame length, 24 + the payload length.
        var segment = newestSegment(dir.resolve("wal"), "core-0000", end);
        long base = Long.parseLong(segment.getFileName().toString().substring("core-0000-".length(), 30));
        try (var file = new RandomAccessFile(segment.toFile(), "rw")) {
            file.seek(64 + end - base);
            file.write(new byte[] {124, 0, 0, 0});
        }

        bind(TestRuntime.started(dir, 2, new CheckpointHistory()));

        assertThat(counter("laminar.storage.wal.torn.tail.repairs", "core", "0")).isEqualTo(1);
        assertThat(counter("laminar.storage.wal.torn.tail.repairs", "core", "1")).isZero();
        assertThat(counter("laminar.storage.wal.truncated", "core", "0"))
                .isEqualTo(test.wal.statistics(0).truncatedBytes()).isPositive();
        assertThat(counter("laminar.storage.wal.truncated", "core", "1")).isZero();
    }

    private static Path newestSegment(Path walDir, String core, long position) throws IOException {
        try (var files = Files.list(walDir)) {
            return files.filter(p -> p.getFileName().toString().matches(core + "-\\d{20}\\.wal"))
                    .filter(p -> Long.parseLong(p.getFileName().toString().substring(core.length() + 1,
                            core.length() + 21)) <= position)
                    .max(Comparator.comparing(p -> p.getFileName().toString()))
                    .orElseThrow();
        }
    }

    @Test
    void checkpointAndRecoveryMetersFollowRealCheckpointsAndTheRecoveryAtStart() throws Exception {
        try (var first = TestRuntime.started(dir, 2, new CheckpointHistory())) {
            for (int i = 0; i < 30; i++) {
                first.put("key-" + i, 50);
            }
            first.checkpoint();
            for (int i = 30; i < 35; i++) {
                first.put("key-" + i, 50);
            }
        }
        var clock = new MutableClock(T0);
        var history = new CheckpointHistory(10, clock);
        bind(TestRuntime.open(dir, 2, history));
        // Before the start there is no recovery yet: NaN, not a made-up zero.
        assertThat(seconds("laminar.storage.recovery.duration")).isNaN();
        assertThat(gauge("laminar.storage.recovery.replayed")).isNaN();
        var report = test.start();

        assertThat(gauge("laminar.storage.recovery.replayed")).isEqualTo(5);
        assertThat(gauge("laminar.storage.recovery.replayed.bytes")).isEqualTo(report.bytesReplayed()).isPositive();
        assertThat(seconds("laminar.storage.recovery.duration"))
                .isCloseTo(report.duration().toNanos() / 1e9, within(1e-9));
        assertThat(gauge("laminar.storage.recovery.skipped")).isZero();
        // No checkpoint since the start: the latest-checkpoint gauges are NaN, the age runs from the start.
        assertThat(gauge("laminar.storage.checkpoint.size")).isNaN();
        assertThat(seconds("laminar.storage.checkpoint.last.duration")).isNaN();
        clock.advance(Duration.ofSeconds(4));
        assertThat(seconds("laminar.storage.checkpoint.age")).isEqualTo(4);

        var second = test.checkpoint();
        test.put("key-0", 500);
        var third = test.checkpoint();
        test.storeIo.forces().failNow();
        test.put("key-1", 500);
        assertThatThrownBy(test::checkpoint).isInstanceOf(ExecutionException.class);
        test.storeIo.forces().stopFailing();
        clock.advance(Duration.ofSeconds(3));

        var latest = history.latestCompleted().orElseThrow();
        assertThat(latest.checkpointId()).isEqualTo(third.checkpointId());
        assertThat(counter("laminar.storage.checkpoints", "outcome", "completed")).isEqualTo(2);
        assertThat(counter("laminar.storage.checkpoints", "outcome", "failed")).isEqualTo(1);
        assertThat(gauge("laminar.storage.checkpoints.in.progress")).isZero();
        assertThat(counter("laminar.storage.checkpoint.cleanup.failures")).isZero();
        assertThat(timer("laminar.storage.checkpoint.duration").count()).isEqualTo(2);
        assertThat(timer("laminar.storage.checkpoint.duration").totalTime(TimeUnit.NANOSECONDS))
                .isCloseTo(history.totalCompletedDuration().toNanos(), within(1.0)).isPositive();
        assertThat(seconds("laminar.storage.checkpoint.last.duration"))
                .isCloseTo(latest.duration().toNanos() / 1e9, within(1e-9));
        assertThat(gauge("laminar.storage.checkpoint.size")).isEqualTo(third.stateBytes()).isPositive();
        assertThat(gauge("laminar.storage.checkpoint.incremental")).isEqualTo(third.writtenBytes()).isPositive();
        assertThat(gauge("laminar.storage.checkpoint.stored"))
                .isEqualTo(third.files().stream().mapToLong(f -> f.size()).sum());
        assertThat(counter("laminar.storage.checkpoint.written"))
                .isEqualTo(second.writtenBytes() + third.writtenBytes());
        assertThat(seconds("laminar.storage.checkpoint.age")).isEqualTo(3);
    }

    @Test
    void changelogMetersReadZeroBeforeTheStartThenTheDrainersStatistics() throws Exception {
        bind(TestRuntime.open(dir, 2, new CheckpointHistory()));
        assertThat(gauge("laminar.storage.changelog.queue.depth")).isZero();
        assertThat(counter("laminar.storage.changelog.drained")).isZero();
        assertThat(functionTimer("laminar.storage.changelog.backpressure").count()).isZero();

        test.start();
        for (int i = 0; i < 12; i++) {
            test.put("key-" + i, 10);
        }
        var s = test.runtime.drainer().statistics();
        assertThat(counter("laminar.storage.changelog.drained")).isEqualTo(s.entriesDrained())
                .isGreaterThanOrEqualTo(12);
        assertThat(gauge("laminar.storage.changelog.queue.depth")).isEqualTo(s.queueDepth());
        assertThat(gauge("laminar.storage.changelog.queue.depth.max")).isEqualTo(s.queueDepthHighWaterMark())
                .isGreaterThanOrEqualTo(1);
        assertThat(counter("laminar.storage.changelog.rejected")).isZero();
    }

    @Test
    void backpressureWaitsCountWhenASlowDiskFillsTheChangelogQueue() throws Exception {
        // A small write buffer on a slow disk: the drainer waits for the WAL, the queue of 8 changes
        // fills, and the core thread waits for room.
        bind(TestRuntime.open(dir, 1, new CheckpointHistory(), options -> options.wal(w -> w.writeBufferSize(4096)),
                ChangelogOptions.defaults().withQueueCapacity(8).withBatchLimit(4)));
        test.start();
        test.walIo.slowWrites(Duration.ofMillis(2), FaultyFileIO.ANY);
        test.runtime.submitDurable(0, context -> {
            for (int i = 0; i < 300; i++) {
                context.store().put(("k" + (i % 50)).getBytes(), new byte[400]);
            }
            return null;
        }).get(60, TimeUnit.SECONDS);

        var s = test.runtime.drainer().statistics();
        var backpressure = functionTimer("laminar.storage.changelog.backpressure");
        assertThat(backpressure.count()).isEqualTo(s.backpressureWaits()).isPositive();
        assertThat(backpressure.totalTime(TimeUnit.NANOSECONDS)).isCloseTo(s.backpressureWaitNanos(), within(1.0))
                .isPositive();
        assertThat(counter("laminar.storage.wal.buffer.full", "core", "0"))
                .isEqualTo(test.wal.statistics(0).bufferFullWaits());
        assertThat(gauge("laminar.storage.changelog.queue.depth.max")).isGreaterThanOrEqualTo(4);
    }

    @Test
    void extraTagsGoOnEveryMeter() {
        test = TestRuntime.started(dir, 1, new CheckpointHistory());
        new LaminarStorageMetrics(test.runtime, test.history, io.micrometer.core.instrument.Tags.of("app", "orders"))
                .bindTo(registry);
        assertThat(registry.getMeters()).isNotEmpty()
                .allSatisfy(meter -> assertThat(meter.getId().getTag("app")).isEqualTo("orders"));
    }
}

package io.laminar.storage.spring.actuate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.checkpoint.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.Status;

class LaminarStorageHealthIndicatorTests {

    private static final Instant T0 = Instant.parse("2025-06-01T08:00:00Z");
    private static final Duration MAX_AGE = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(T0);
    private TestRuntime test;

    @AfterEach
    void close() {
        if (test != null) {
            test.close();
        }
    }

    private TestRuntime start() {
        test = TestRuntime.started(dir, 2, new CheckpointHistory(10, clock));
        return test;
    }

    private Health health(Duration maxAge, Status stale) {
        return new LaminarStorageHealthIndicator(test.runtime, test.history, maxAge, stale).health();
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> wal(Health health) {
        return (List<Map<String, Object>>) health.getDetails().get("wal");
    }

    @Test
    void upWithEveryCoresPositionWhileTheLogsWorkAndTheLatestCheckpointIsFresh() throws Exception {
        start();
        test.put(test.keyOn(0, "a"), 100);
        test.put(test.keyOn(1, "b"), 100);
        var manifest = test.checkpoint();
        clock.advance(Duration.ofSeconds(5));

        var health = health(MAX_AGE, Status.OUT_OF_SERVICE);

        assertThat(health.getStatus()).isEqualTo(Status.UP);
        assertThat(health.getDetails()).containsEntry("runtime", "running")
                .containsEntry("walIoBackend", "file-channel")
                .containsEntry("checkpointAge", "PT5S")
                .containsEntry("maxCheckpointAge", "PT30S")
                .containsEntry("checkpoints", Map.of("completed", 1L, "failed", 0L, "inProgress", 0))
                .containsEntry("lastCheckpoint", Map.of("id", manifest.checkpointId(), "completedAt",
                        T0.toString()))
                .doesNotContainKeys("failedCores", "lastFailure", "reason");
        assertThat(wal(health)).hasSize(2).allSatisfy(core -> assertThat(core).containsEntry("state", "ok"));
        for (int core = 0; core < 2; core++) {
            assertThat(wal(health).get(core)).containsEntry("core", core)
                    .containsEntry("ioBackend", "file-channel")
                    .containsEntry("durablePosition", test.wal.durablePosition(core));
            assertThat((Long) wal(health).get(core).get("durablePosition")).isPositive();
        }
    }

    @Test
    void downWhenTheWalOfACoreFailedAnFsync() throws Exception {
        start();
        test.put(test.keyOn(0, "a"), 100);
        // Core 1's log cannot fdatasync any more: the change is never durable, and the log fails.
        test.walIo.forces().on(path -> path.getFileName().toString().matches("core-0001-\\d{20}\\.wal"))
                .withMessage("No space left on device").failNow();
        var key = test.keyOn(1, "b");
        assertThatThrownBy(() -> test.put(key, 100)).isInstanceOf(ExecutionException.class);
        assertThat(test.wal.isFailed(1)).isTrue();

        var health = health(MAX_AGE, Status.OUT_OF_SERVICE);

        assertThat(health.getStatus()).isEqualTo(Status.DOWN);
        assertThat(health.getDetails()).containsEntry("failedCores", List.of(1));
        var cause = "io.laminar.storage.io.FaultyFileIO$InjectedIOException: No space left on device (fdatasync of "
                + test.wal.directory().toAbsolutePath() + "/core-0001-00000000000000000000.wal)";
        assertThat(wal(health).get(0)).containsEntry("state", "ok").doesNotContainKey("cause");
        assertThat(wal(health).get(1)).containsEntry("state", "failed").containsEntry("cause", cause);
        assertThat((String) health.getDetails().get("reason"))
                .startsWith("the write-ahead log of core 1 failed and refuses changes (" + cause + ")")
                .contains(test.wal.directory().toString());
    }

    @Test
    void followsTheLogsThatRecoveryOpensWhenItAdoptsACheckpointOfAnotherMachine() throws Exception {
        var machineA = dir.resolve("machine-a");
        var machineB = dir.resolve("machine-b");
        try (var first = TestRuntime.started(machineA, 2, new CheckpointHistory())) {
            first.put("k", 100);
            first.checkpoint();
        }
        LaminarStorageMetricsTests.copyTree(machineA.resolve("checkpoints"), machineB.resolve("checkpoints"));
        // The indicator exists before the runtime starts, as the bean does; recovery then replaces every log.
        test = TestRuntime.open(machineB, 2, new CheckpointHistory(10, clock));
        var indicator = new LaminarStorageHealthIndicator(test.runtime, test.history, MAX_AGE, Status.OUT_OF_SERVICE);
        test.start();
        var adopted = test.wal.startPositions();
        test.put(test.keyOn(0, "a"), 100);

        var up = indicator.health();
        assertThat(up.getStatus()).isEqualTo(Status.UP);
        assertThat((Long) wal(up).get(0).get("durablePosition")).isEqualTo(test.wal.durablePosition(0))
                .isGreaterThan(adopted.position(0));

        test.walIo.forces().on(path -> path.getFileName().toString().matches("core-0001-\\d{20}\\.wal")).failNow();
        var key = test.keyOn(1, "b");
        assertThatThrownBy(() -> test.put(key, 100)).isInstanceOf(ExecutionException.class);
        var down = indicator.health();
        assertThat(down.getStatus()).isEqualTo(Status.DOWN);
        assertThat(down.getDetails()).containsEntry("failedCores", List.of(1));
    }

    @Test
    void staleWithTheConfiguredStatusOnceTheLatestCheckpointIsOlderThanTheMaximumAge() throws Exception {
        start();
        test.put("k", 10);
        var manifest = test.checkpoint();
        clock.advance(MAX_AGE);
        assertThat(health(MAX_AGE, Status.OUT_OF_SERVICE).getStatus()).isEqualTo(Status.UP); // not older yet

        clock.advance(Duration.ofSeconds(1));
        var outOfService = health(MAX_AGE, Status.OUT_OF_SERVICE);
        assertThat(outOfService.getStatus()).isEqualTo(Status.OUT_OF_SERVICE);
        assertThat(outOfService.getDetails()).containsEntry("checkpointAge", "PT31S")
                .containsEntry("reason", "the latest completed checkpoint, " + manifest.checkpointId()
                        + ", is PT31S old, more than laminar.storage.health.max-checkpoint-age (PT30S)");
        assertThat(health(MAX_AGE, Status.DOWN).getStatus()).isEqualTo(Status.DOWN);

        test.checkpoint(); // a new checkpoint makes it fresh again
        assertThat(health(MAX_AGE, Status.DOWN).getStatus()).isEqualTo(Status.UP);
    }

    @Test
    void beforeTheFirstCheckpointTheAgeRunsFromTheEndOfTheRecovery() {
        var history = new CheckpointHistory(10, clock);
        test = TestRuntime.open(dir, 2, history);
        clock.advance(Duration.ofMinutes(5)); // a long recovery: the history was created before it
        test.start();

        assertThat(health(MAX_AGE, Status.DOWN).getStatus()).isEqualTo(Status.UP);
        clock.advance(Duration.ofSeconds(45));
        var stale = health(MAX_AGE, Status.DOWN);
        assertThat(stale.getStatus()).isEqualTo(Status.DOWN);
        assertThat(stale.getDetails()).doesNotContainKey("lastCheckpoint")
                .containsEntry("reason", "no checkpoint completed since the runtime started PT45S ago, more than "
                        + "laminar.storage.health.max-checkpoint-age (PT30S)");
    }

    @Test
    void theStaleReasonAndTheDetailsNameTheLastFailure() throws Exception {
        start();
        test.storeIo.forces().failNow(); // no state file can be made durable
        test.put("k", 10);
        assertThatThrownBy(test::checkpoint).isInstanceOf(ExecutionException.class);
        clock.advance(Duration.ofMinutes(1));

        var health = health(MAX_AGE, Status.OUT_OF_SERVICE);

        assertThat(health.getStatus()).isEqualTo(Status.OUT_OF_SERVICE);
        @SuppressWarnings("unchecked")
        var failure = (Map<String, Object>) health.getDetails().get("lastFailure");
        assertThat(failure).containsEntry("id", 0L).containsEntry("failedAt", T0.toString());
        assertThat((String) failure.get("cause")).contains("injected fdatasync failure");
        assertThat((String) health.getDetails().get("reason")).contains("; the last failure: ")
                .contains("injected fdatasync failure");
        assertThat(health.getDetails()).containsEntry("checkpoints",
                Map.of("completed", 0L, "failed", 1L, "inProgress", 0));
    }

    @Test
    void aZeroMaximumAgeNeverReportsStaleness() {
        start();
        clock.advance(Duration.ofDays(3));
        var health = health(Duration.ZERO, Status.DOWN);
        assertThat(health.getStatus()).isEqualTo(Status.UP);
        assertThat(health.getDetails()).containsEntry("maxCheckpointAge", "unchecked");
    }

    @Test
    void outOfServiceOnceTheRuntimeIsClosed() {
        start();
        test.runtime.close();
        var health = health(MAX_AGE, Status.DOWN);
        assertThat(health.getStatus()).isEqualTo(Status.OUT_OF_SERVICE);
        assertThat(health.getDetails()).containsEntry("runtime", "not running")
                .containsEntry("reason", "the runtime is not running (not started yet, or closing)");
    }

    @Test
    void aFailedLogOutweighsAStoppedRuntimeAndAStaleCheckpoint() throws Exception {
        start();
        test.walIo.forces().on(path -> path.getFileName().toString().matches("core-0000-\\d{20}\\.wal")).failNow();
        var key = test.keyOn(0, "a");
        assertThatThrownBy(() -> test.put(key, 100)).isInstanceOf(ExecutionException.class);
        clock.advance(Duration.ofHours(1));
        assertThat(health(MAX_AGE, Status.OUT_OF_SERVICE).getStatus()).isEqualTo(Status.DOWN);
    }

    @Test
    void downOnceACoreThreadOfTheRuntimeDied() throws Exception {
        var options = io.laminar.storage.percore.PerCoreWalOptions.builder().cores(2).maxEntrySize(64 * 1024)
                .wal(w -> w.segmentSize(1 << 20)).build();
        try (var wal = io.laminar.storage.percore.PerCoreWalManager.open(dir.resolve("wal"), options);
                var store = io.laminar.storage.store.FileSystemCheckpointStore.open(dir.resolve("checkpoints"))) {
            var runtime = io.laminar.storage.runtime.LaminarRuntime.builder(wal, store)
                    .checkpoints(c -> c.barrierTimeout(Duration.ofSeconds(1)))
                    .cutContext((core, state) -> {
                        throw new OutOfMemoryError("while reporting the cut of core " + core);
                    }).build();
            try {
                runtime.start();
                var history = new CheckpointHistory(10, clock);
                assertThat(new LaminarStorageHealthIndicator(runtime, history, MAX_AGE, Status.OUT_OF_SERVICE).health()
                        .getStatus()).isEqualTo(Status.UP);
                assertThat(runtime.triggerCheckpoint()).failsWithin(Duration.ofSeconds(20));
                var health = new LaminarStorageHealthIndicator(runtime, history, MAX_AGE, Status.OUT_OF_SERVICE).health();
                assertThat(health.getStatus()).isEqualTo(Status.DOWN);
                assertThat(health.getDetails()).containsEntry("runtime", "failed");
                assertThat((String) health.getDetails().get("reason")).contains("thread").contains("died")
                        .contains("OutOfMemoryError");
            } finally {
                runtime.close();
            }
        }
    }

    @Test
    void refusesANegativeMaximumAge() {
        start();
        assertThatThrownBy(() -> new LaminarStorageHealthIndicator(test.runtime, test.history, Duration.ofSeconds(-1),
                Status.DOWN)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxCheckpointAge must not be negative, but was PT-1S");
    }
}

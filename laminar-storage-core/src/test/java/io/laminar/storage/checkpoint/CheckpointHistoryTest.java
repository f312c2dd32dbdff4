package io.laminar.storage.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.checkpoint.CheckpointHistory.CompletedCheckpoint;
import io.laminar.storage.checkpoint.CheckpointHistory.Entry;
import io.laminar.storage.checkpoint.CheckpointHistory.FailedCheckpoint;
import io.laminar.storage.io.FaultyFileIO;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.laminar.storage.store.StateFileRef;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointHistoryTest {

    private static final Instant T0 = Instant.parse("2025-03-01T10:00:00Z");

    @TempDir
    Path tmp;

    static CheckpointManifest manifest(long id, Long parent, long stateBytes, long writtenBytes, long... positions) {
        var files = List.of(new StateFileRef("state/" + id + "-0.full", 700, "0badf00d"),
                new StateFileRef("state/" + id + "-1.delta", 300, "deadbeef"));
        var walPositions = new ArrayList<Long>();
        for (long p : positions) {
            walPositions.add(p);
        }
        return new CheckpointManifest(id, id + 1, T0, walPositions, Map.of(), Map.of(), files, parent, stateBytes,
                writtenBytes, Long.MIN_VALUE);
    }

    @Test
    void countsTheOutcomesAndKeepsTheLatestCompletedWithItsSizesAndPositions() {
        var clock = new MutableClock(T0);
        var history = new CheckpointHistory(10, clock);
        assertThat(history.snapshot().latestCompleted()).isNull();
        assertThat(history.latestCompleted()).isEmpty();

        history.started(0);
        assertThat(history.inProgressCount()).isEqualTo(1);
        clock.advance(Duration.ofSeconds(2));
        history.completed(manifest(0, null, 5000, 1000, 10, 20), Duration.ofMillis(1500), 1000);
        history.started(1);
        clock.advance(Duration.ofSeconds(1));
        history.completed(manifest(1, 0L, 5200, 300, 110, 220), Duration.ofMillis(800), 300);
        history.started(2);

        var snapshot = history.snapshot();
        assertThat(snapshot.completed()).isEqualTo(2);
        assertThat(snapshot.failed()).isZero();
        assertThat(snapshot.inProgress()).isEqualTo(1);
        var latest = snapshot.latestCompleted();
        assertThat(latest.checkpointId()).isEqualTo(1);
        assertThat(latest.epoch()).isEqualTo(2);
        assertThat(latest.completedAt()).isEqualTo(T0.plusSeconds(3));
        assertThat(latest.startedAt()).isEqualTo(T0.plusSeconds(3).minusMillis(800));
        assertThat(latest.duration()).isEqualTo(Duration.ofMillis(800));
        assertThat(latest.stateBytes()).isEqualTo(5200);
        assertThat(latest.writtenBytes()).isEqualTo(300);
        assertThat(latest.storedBytes()).isEqualTo(1000);
        assertThat(latest.files()).isEqualTo(2);
        assertThat(latest.incremental()).isTrue();
        assertThat(latest.parentCheckpointId()).isZero();
        assertThat(latest.walPositions()).containsExactly(110L, 220L);
        assertThat(latest.cleanupFailure()).isNull();
        assertThat(history.totalCompletedDuration()).isEqualTo(Duration.ofMillis(2300));
        assertThat(history.totalWrittenBytes()).isEqualTo(1300);
        assertThat(snapshot.recent()).extracting(Entry::checkpointId).containsExactly(1L, 0L);
        assertThat(((CompletedCheckpoint) snapshot.recent().get(1)).incremental()).isFalse();
    }

    @Test
    void aFailureKeepsItsCauseAndTheTimeFromItsStartAndBecomesTheLastFailure() {
        var clock = new MutableClock(T0);
        var history = new CheckpointHistory(10, clock);
        var timeout = new IllegalStateException("core 1 did not reach its barrier");
        history.started(4);
        clock.advance(Duration.ofSeconds(10));
        history.failed(4, timeout);
        // A failure before the coordinator assigned an id (it could not list the store).
        var listing = new IOException("cannot list /data/checkpoints");
        clock.advance(Duration.ofSeconds(1));
        history.failed(-1, listing);

        assertThat(history.failedCount()).isEqualTo(2);
        assertThat(history.inProgressCount()).isZero();
        var last = history.lastFailure().orElseThrow();
        assertThat(last.checkpointId()).isEqualTo(-1);
        assertThat(last.cause()).isSameAs(listing);
        assertThat(last.startedAt()).isNull();
        assertThat(last.duration()).isNull();
        var first = (FailedCheckpoint) history.recent().get(1);
        assertThat(first.checkpointId()).isEqualTo(4);
        assertThat(first.cause()).isSameAs(timeout);
        assertThat(first.startedAt()).isEqualTo(T0);
        assertThat(first.failedAt()).isEqualTo(T0.plusSeconds(10));
        assertThat(first.duration()).isEqualTo(Duration.ofSeconds(10));
        assertThat(history.latestCompleted()).isEmpty();
    }

    @Test
    void theHistoryKeepsOnlyTheMostRecentCheckpointsNewestFirst() {
        var history = new CheckpointHistory(3, new MutableClock(T0));
        for (long id = 0; id < 7; id++) {
            history.started(id);
            if (id % 3 == 2) {
                history.failed(id, new IOException("disk full"));
            } else {
                history.completed(manifest(id, null, 1, 1, 0), Duration.ofMillis(5), 1);
            }
        }
        assertThat(history.recent()).extracting(Entry::checkpointId).containsExactly(6L, 5L, 4L);
        assertThat(history.recent().get(1)).isInstanceOf(FailedCheckpoint.class);
        assertThat(history.completedCount()).isEqualTo(5);
        assertThat(history.failedCount()).isEqualTo(2);
        assertThat(history.latestCompleted().orElseThrow().checkpointId()).isEqualTo(6);
        assertThat(history.lastFailure().orElseThrow().checkpointId()).isEqualTo(5);
    }

    @Test
    void aCleanupFailureIsCountedAndAttachedToTheCheckpointThatStillCompleted() {
        var history = new CheckpointHistory(10, new MutableClock(T0));
        var manifest = manifest(3, 2L, 10, 2, 7);
        var cause = new IOException("cannot delete core-0000-00000000000000000000.wal");
        history.started(3);
        history.publishedButNotCleanedUp(manifest, CheckpointStep.TRUNCATION, cause);
        history.completed(manifest, Duration.ofMillis(12), 2);
        history.started(4);
        history.completed(manifest(4, 3L, 10, 2, 9), Duration.ofMillis(12), 2);

        assertThat(history.cleanupFailureCount()).isEqualTo(1);
        assertThat(history.failedCount()).isZero();
        var third = (CompletedCheckpoint) history.recent().get(1);
        assertThat(third.cleanupFailure().step()).isEqualTo(CheckpointStep.TRUNCATION);
        assertThat(third.cleanupFailure().cause()).isSameAs(cause);
        assertThat(history.latestCompleted().orElseThrow().cleanupFailure()).isNull();
    }

    @Test
    void timeSinceLastCompletedRunsFromTheRecoveryUntilTheFirstCheckpointThenFromTheLatest() {
        var clock = new MutableClock(T0);
        var history = new CheckpointHistory(10, clock);
        clock.advance(Duration.ofSeconds(30)); // recovery took 30 s
        assertThat(history.timeSinceLastCompleted()).isEqualTo(Duration.ofSeconds(30));
        var report = new RecoveryReport(7L, false, List.of(new SkippedCheckpoint(8, "manifest unreadable")), 42, 4200,
                List.of(40L, 2L), Duration.ofSeconds(30));
        history.recovered(report);
        assertThat(history.trackingSince()).isEqualTo(T0.plusSeconds(30));
        assertThat(history.timeSinceLastCompleted()).isZero();
        clock.advance(Duration.ofSeconds(5));
        assertThat(history.timeSinceLastCompleted()).isEqualTo(Duration.ofSeconds(5));

        history.completed(manifest(9, 7L, 1, 1, 0), Duration.ofMillis(100), 1);
        clock.advance(Duration.ofSeconds(2));
        assertThat(history.timeSinceLastCompleted()).isEqualTo(Duration.ofSeconds(2));
        var snapshot = history.snapshot();
        assertThat(snapshot.recoveryReport()).isEqualTo(report);
        assertThat(snapshot.recoveredAt()).isEqualTo(T0.plusSeconds(30));
        assertThat(history.recoveryReport()).contains(report);
    }

    @Test
    void rejectsAnEmptyCapacity() {
        assertThatThrownBy(() -> new CheckpointHistory(0, Clock.systemUTC()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("capacity must be at least 1, but was 0");
    }

    @Test
    void concurrentCallbacksAndReadersSeeConsistentCountsAndLoseNothing() throws Exception {
        var history = new CheckpointHistory(16, Clock.systemUTC());
        int writers = 4;
        int perWriter = 5_000;
        var start = new CountDownLatch(1);
        var done = new AtomicBoolean();
        var problems = new ConcurrentLinkedQueue<String>();
        var failuresExpected = new AtomicLong();
        var threads = new ArrayList<Thread>();
        for (int w = 0; w < writers; w++) {
            long seed = 1000 + w;
            int writer = w;
            threads.add(new Thread(() -> {
                var random = new Random(seed);
                await(start);
                for (int i = 0; i < perWriter; i++) {
                    long id = (long) i * writers + writer; // distinct across writers
                    history.started(id);
                    if (random.nextInt(5) == 0) {
                        failuresExpected.incrementAndGet();
                        history.failed(id, new IOException("injected " + id));
                    } else {
                        if (random.nextInt(10) == 0) {
                            history.publishedButNotCleanedUp(manifest(id, null, 1, 1, 0), CheckpointStep.RETENTION,
                                    new IOException("retention " + id));
                        }
                        history.completed(manifest(id, null, id, 1, 0), Duration.ofNanos(1000), 1);
                    }
                }
            }, "history-writer-" + w));
        }
        var readers = new ArrayList<Thread>();
        for (int r = 0; r < 2; r++) {
            readers.add(new Thread(() -> {
                await(start);
                long lastFinished = 0;
                while (!done.get()) {
                    var s = history.snapshot();
                    long finished = s.completed() + s.failed();
                    if (finished < lastFinished) {
                        problems.add("finished checkpoints went from " + lastFinished + " to " + finished);
                    }
                    lastFinished = finished;
                    if (s.inProgress() > writers) {
                        problems.add(s.inProgress() + " in progress with " + writers + " writers");
                    }
                    if (s.recent().size() > 16 || s.recent().size() != Math.min(16, finished)) {
                        problems.add(s.recent().size() + " recent entries after " + finished + " checkpoints");
                    }
                    for (int i = 1; i < s.recent().size(); i++) {
                        if (s.recent().get(i).finishedAt().isAfter(s.recent().get(i - 1).finishedAt())) {
                            problems.add("recent entries are not newest first: " + s.recent());
                        }
                    }
                    var latest = s.latestCompleted();
                    if (latest != null && latest.stateBytes() != latest.checkpointId()) {
                        problems.add("latest completed mixes two checkpoints: " + latest);
                    }
                }
            }, "history-reader-" + r));
        }
        threads.forEach(Thread::start);
        readers.forEach(Thread::start);
        start.countDown();
        for (var t : threads) {
            t.join();
        }
        done.set(true);
        for (var t : readers) {
            t.join();
        }

        assertThat(problems).isEmpty();
        var s = history.snapshot();
        long total = (long) writers * perWriter;
        assertThat(s.failed()).isEqualTo(failuresExpected.get());
        assertThat(s.completed()).isEqualTo(total - failuresExpected.get());
        assertThat(s.inProgress()).isZero();
        assertThat(s.recent()).hasSize(16);
        // The highest id that completed is the latest, whichever writer finished last.
        long highestCompleted = -1;
        for (var e : s.recent()) {
            if (e instanceof CompletedCheckpoint c) {
                highestCompleted = Math.max(highestCompleted, c.checkpointId());
            }
        }
        assertThat(s.latestCompleted().checkpointId()).isGreaterThanOrEqualTo(highestCompleted);
        assertThat(history.totalWrittenBytes()).isEqualTo(s.completed());
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Test
    void followsARealCoordinatorThroughFullIncrementalAndFailedCheckpoints() throws Exception {
        var io = FaultyFileIO.overSystem();
        var store = FileSystemCheckpointStore.open(tmp.resolve("checkpoints"), io);
        var history = new CheckpointHistory();
        CheckpointManifest first;
        CheckpointManifest second;
        try (var cores = new CoreThreads(tmp.resolve("wal"), 2, null, null);
             var coordinator = StateCheckpointCoordinator.builder(cores.wal, cores.drainer, store)
                     .listener(history).build()) {
            for (int i = 0; i < 20; i++) {
                cores.putDurably(i % 2, "key-" + i, new byte[100]);
            }
            first = coordinator.triggerCheckpoint().join();
            cores.putDurably(0, "key-0", new byte[50]);
            second = coordinator.triggerCheckpoint().join();

            cores.putDurably(1, "key-1", new byte[60]);
            io.forces().failNow(); // the store cannot make the next state file durable
            var failure = coordinator.triggerCheckpoint();
            assertThatThrownBy(failure::join).isInstanceOf(CompletionException.class);
            io.forces().stopFailing();
        }

        var s = history.snapshot();
        assertThat(s.completed()).isEqualTo(2);
        assertThat(s.failed()).isEqualTo(1);
        assertThat(s.inProgress()).isZero();
        var latest = s.latestCompleted();
        assertThat(latest.checkpointId()).isEqualTo(second.checkpointId());
        assertThat(latest.epoch()).isEqualTo(second.epoch());
        assertThat(latest.walPositions()).isEqualTo(second.walPositions());
        assertThat(latest.stateBytes()).isEqualTo(second.stateBytes());
        assertThat(latest.writtenBytes()).isEqualTo(second.writtenBytes()).isPositive();
        assertThat(latest.incremental()).isTrue();
        assertThat(latest.parentCheckpointId()).isEqualTo(first.checkpointId());
        assertThat(latest.duration()).isPositive();
        assertThat(s.lastFailure().checkpointId()).isEqualTo(second.checkpointId() + 1);
        assertThat(s.lastFailure().cause()).hasStackTraceContaining("injected fdatasync failure");
        assertThat(s.lastFailure().duration()).isNotNull();
        assertThat(s.recent()).extracting(Entry::checkpointId)
                .containsExactly(second.checkpointId() + 1, second.checkpointId(), first.checkpointId());
    }
}

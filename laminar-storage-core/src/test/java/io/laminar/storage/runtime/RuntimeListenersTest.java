package io.laminar.storage.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.checkpoint.CheckpointListener;
import io.laminar.storage.checkpoint.CheckpointStep;
import io.laminar.storage.checkpoint.RecoveryListener;
import io.laminar.storage.checkpoint.RecoveryReport;
import io.laminar.storage.io.FaultyFileIO;
import io.laminar.storage.percore.PerCoreWalListener;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plain-Java hooks adapters (metrics, tracing, health) build on: the steps of a checkpoint, the
 * phases of a recovery, and each core's fdatasyncs and failures.
 */
@Timeout(60)
class RuntimeListenersTest {

    @TempDir
    Path dir;

    private PerCoreWalManager wal(FaultyFileIO io) {
        return PerCoreWalManager.open(dir.resolve("wal"), PerCoreWalOptions.builder().cores(2)
                .maxEntrySize(64 * 1024).wal(w -> w.segmentSize(1 << 20).fileIO(io)).build());
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void checkpointListenersHearEveryStepBetweenStartedAndCompleted() throws Exception {
        var events = new CopyOnWriteArrayList<String>();
        try (var wal = wal(FaultyFileIO.overSystem());
             var store = FileSystemCheckpointStore.open(dir.resolve("checkpoints"));
             var runtime = LaminarRuntime.builder(wal, store).listener(new CheckpointListener() {
                 @Override
                 public void started(long checkpointId) {
                     events.add("started " + checkpointId);
                 }

                 @Override
                 public void step(long checkpointId, CheckpointStep step) {
                     events.add(step + " " + checkpointId);
                 }

                 @Override
                 public void completed(CheckpointManifest manifest, Duration duration, long writtenBytes) {
                     events.add("completed " + manifest.checkpointId());
                 }
             }).build()) {
            runtime.start();
            runtime.submitDurable(0, c -> {
                c.store().put(bytes("a"), bytes("1"));
                return null;
            }).join();
            runtime.triggerCheckpoint().join();
            runtime.triggerCheckpoint().join();
        }
        // RETENTION only when retention has something to delete (3 checkpoints are kept).
        assertThat(events).containsExactly("started 0", "CUT 0", "STATE_FILES_WRITTEN 0", "MANIFEST_PUBLISHED 0",
                "TRUNCATION 0", "completed 0", "started 1", "CUT 1", "STATE_FILES_WRITTEN 1", "MANIFEST_PUBLISHED 1",
                "TRUNCATION 1", "completed 1");
    }

    @Test
    void recoveryListenersHearTheRestoreOfEachCheckpointTriedAndTheReplay() throws Exception {
        try (var wal = wal(FaultyFileIO.overSystem());
             var store = FileSystemCheckpointStore.open(dir.resolve("checkpoints"));
             var runtime = LaminarRuntime.builder(wal, store).build()) {
            runtime.start();
            runtime.submitDurable(0, c -> {
                c.store().put(bytes("a"), bytes("1"));
                return null;
            }).join();
            runtime.triggerCheckpoint().join();
            runtime.submitDurable(1, c -> {
                c.store().put(bytes("b"), bytes("2"));
                return null;
            }).join();
        }
        var events = new CopyOnWriteArrayList<String>();
        var listener = new RecoveryListener() {
            @Override
            public void started() {
                events.add("started");
            }

            @Override
            public void restoreStarted(long checkpointId) {
                events.add("restore " + checkpointId);
            }

            @Override
            public void restoreEnded(long checkpointId, String skipReason) {
                events.add("restored " + checkpointId + " " + skipReason);
            }

            @Override
            public void replayStarted(Long checkpointId) {
                events.add("replay onto " + checkpointId);
            }

            @Override
            public void replayEnded(long records, long bytes) {
                events.add("replayed " + records);
            }

            @Override
            public void completed(RecoveryReport report) {
                events.add("completed " + report.checkpointId());
            }
        };
        try (var wal = wal(FaultyFileIO.overSystem());
             var store = FileSystemCheckpointStore.open(dir.resolve("checkpoints"));
             var runtime = LaminarRuntime.builder(wal, store).recoveryListener(listener).build()) {
            runtime.start();
        }
        assertThat(events).containsExactly("started", "restore 0", "restored 0 null", "replay onto 0", "replayed 1",
                "completed 0");
    }

    @Test
    void walListenersHearEachFsyncOnItsCoreAndAFailureOnTheAcknowledgerThread() throws Exception {
        var io = FaultyFileIO.overSystem();
        var syncs = new AtomicLong();
        var syncedCores = new CopyOnWriteArrayList<Integer>();
        var failures = new CopyOnWriteArrayList<String>();
        try (var wal = wal(io);
             var store = FileSystemCheckpointStore.open(dir.resolve("checkpoints"))) {
            var runtime = LaminarRuntime.builder(wal, store).build();
            wal.addListener(new PerCoreWalListener() {
                @Override
                public void onSync(int core, int records, long bytes, long nanos) {
                    syncs.incrementAndGet();
                    if (records > 0 && !syncedCores.contains(core)) {
                        syncedCores.add(core);
                    }
                }

                @Override
                public void onFailure(int core, Throwable cause) {
                    failures.add(core + " " + cause.getMessage() + " on " + Thread.currentThread().getName());
                }
            });
            runtime.start();
            runtime.submitDurable(1, c -> {
                c.store().put(bytes("a"), bytes("1"));
                return null;
            }).join();
            assertThat(syncs).hasPositiveValue();
            assertThat(syncedCores).contains(1);

            io.forces().on(path -> path.getFileName().toString().startsWith("core-0001-"))
                    .withMessage("No space left on device").failNow();
            var lost = runtime.submitDurable(1, c -> {
                c.store().put(bytes("b"), bytes("2"));
                return null;
            });
            assertThat(lost).failsWithin(Duration.ofSeconds(10));
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (failures.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(failures).singleElement().asString().startsWith("1 No space left on device")
                    .endsWith("on laminar-percore-acks");
            io.forces().stopFailing();
            try {
                runtime.close();
            } catch (RuntimeException expected) {
                // the failed core's changes could not be made durable
            }
        }
        assertThat(List.copyOf(failures)).hasSize(1);
    }
}

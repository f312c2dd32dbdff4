package io.laminar.storage.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.KeyGroups;
import io.laminar.storage.StorageException;
import io.laminar.storage.changelog.CutContext;
import io.laminar.storage.checkpoint.CheckpointListener;
import io.laminar.storage.checkpoint.CoreChains;
import io.laminar.storage.checkpoint.RecoveryManager;
import io.laminar.storage.checkpoint.StateCheckpointCoordinator;
import io.laminar.storage.io.FaultyFileIO;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.state.StateChangeFormat;
import io.laminar.storage.state.StateCorruptionException;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class LaminarRuntimeTest {

    private static final int CORES = 2;

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private PerCoreWalManager wal() {
        var wal = PerCoreWalManager.open(dir.resolve("wal"),
                PerCoreWalOptions.builder().cores(CORES).maxEntrySize(64 * 1024)
                        .wal(w -> w.segmentSize(1 << 20)).build());
        open.add(wal);
        return wal;
    }

    private CheckpointStore store() {
        FileSystemCheckpointStore store;
        try {
            store = FileSystemCheckpointStore.open(dir.resolve("checkpoints"));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        open.add(store);
        return store;
    }

    /** A running runtime whose cores count their tasks as source offset "tasks" at each cut. */
    private LaminarRuntime start(Consumer<LaminarRuntime.Builder> settings) {
        var builder = LaminarRuntime.builder(wal(), store());
        settings.accept(builder);
        var runtime = builder.build();
        open.add(runtime);
        runtime.start();
        return runtime;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String text(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    private void restart() throws Exception {
        closeAll();
        open.clear();
    }

    @Test
    void durableChangesSurviveARestartWithoutACheckpoint() throws Exception {
        var runtime = start(b -> { });
        assertThat(runtime.recoveryReport()).get().satisfies(r -> assertThat(r.checkpointId()).isNull());
        for (int i = 0; i < 100; i++) {
            var key = bytes("key-" + i);
            int i0 = i;
            runtime.submitDurable(runtime.coreOf(key), c -> {
                c.store().put(key, bytes("value-" + i0));
                return null;
            }).join();
        }
        restart();

        var again = start(b -> { });
        assertThat(again.recoveryReport().orElseThrow().recordsReplayed()).isEqualTo(100);
        for (int i = 0; i < 100; i++) {
            var key = bytes("key-" + i);
            assertThat(text(again.submit(again.coreOf(key), c -> c.store().get(key)).join())).isEqualTo("value-" + i);
        }
    }

    @Test
    void finalCheckpointOnCloseHoldsEverySourceOffsetAndLeavesNothingToReplay() throws Exception {
        var tasks = new AtomicLong[] {new AtomicLong(), new AtomicLong()};
        Consumer<LaminarRuntime.Builder> settings = b -> b.finalCheckpointOnClose(true)
                .cutContext((core, store) -> CutContext.ofSourceOffsets(Map.of("tasks", Long.toString(tasks[core].get()))));
        var runtime = start(settings);
        for (int i = 0; i < 50; i++) {
            int core = i % CORES;
            runtime.submitDurable(core, c -> {
                c.store().put(bytes("k" + tasks[core].get()), bytes("v"));
                tasks[core].incrementAndGet(); // on the core thread, like a source consumer
                return null;
            }).join();
        }
        restart();

        var again = start(b -> { });
        var report = again.recoveryReport().orElseThrow();
        assertThat(report.checkpointId()).isNotNull();
        assertThat(report.recordsReplayed()).isZero();
        assertThat(again.recoveredSources()).containsOnlyKeys(CoreChains.name(0),
                CoreChains.name(1));
        assertThat(again.recoveredSources().get(CoreChains.name(0)).offsets())
                .containsEntry("tasks", "25");
        assertThat(again.submit(1, c -> c.store().size()).join()).isEqualTo(25);
    }

    @Test
    void periodicCheckpointsRunAndListenersHearThem() throws Exception {
        var completed = new CopyOnWriteArrayList<CheckpointManifest>();
        var later = new CountDownLatch(1);
        var runtime = start(b -> b.checkpoints(c -> c.interval(Duration.ofMillis(20))).listener(new CheckpointListener() {
            @Override
            public void completed(CheckpointManifest manifest, Duration duration, long writtenBytes) {
                completed.add(manifest);
            }
        }));
        runtime.addCheckpointListener(new CheckpointListener() {
            @Override
            public void completed(CheckpointManifest manifest, Duration duration, long writtenBytes) {
                later.countDown();
            }
        });
        runtime.submitDurable(0, c -> {
            c.store().put(bytes("a"), bytes("1"));
            return null;
        }).join();
        assertThat(later.await(20, TimeUnit.SECONDS)).isTrue();
        var manifest = runtime.triggerCheckpoint().get(20, TimeUnit.SECONDS);
        assertThat(completed).isNotEmpty();
        assertThat(runtime.store().readManifest(manifest.checkpointId())).contains(manifest);
    }

    @Test
    void initializerRunsOnEachCoreWithTheRecoveredStateBeforeAnyTask() throws Exception {
        var runtime = start(b -> { });
        runtime.submitDurable(0, c -> {
            c.store().put(bytes("pending"), bytes("x"));
            return null;
        }).join();
        restart();

        var seen = new CopyOnWriteArrayList<String>();
        var again = start(b -> b.onRecovered(context -> {
            seen.add(context.core() + ":" + Thread.currentThread().getName() + ":" + text(context.store().get(bytes("pending"))));
            context.store().delete(bytes("pending")); // finish what the crash interrupted
        }));
        assertThat(seen).containsExactlyInAnyOrder("0:laminar-core-0:x", "1:laminar-core-1:null");
        assertThat(again.submit(0, c -> c.store().containsKey(bytes("pending"))).join()).isFalse();
    }

    @Test
    void aFailingInitializerFailsStartAndLeavesNothingRunning() {
        var runtime = LaminarRuntime.builder(wal(), store()).onRecovered(context -> {
            if (context.core() == 1) {
                throw new IllegalStateException("cannot finish batch 7");
            }
        }).build();
        open.add(runtime);
        assertThatThrownBy(runtime::start).isInstanceOf(StorageException.class)
                .hasMessageContaining("initializer of core 1").hasMessageContaining("cannot finish batch 7");
        assertThat(runtime.isRunning()).isFalse();
        assertThat(runtime.submit(0, c -> 1)).isCompletedExceptionally();
        assertThatThrownBy(runtime::start).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aFailingTaskFailsOnlyItsFuture() {
        var runtime = start(b -> { });
        var failed = runtime.submitDurable(0, c -> {
            throw new IllegalArgumentException("bad event");
        });
        assertThatThrownBy(failed::join).hasCauseInstanceOf(IllegalArgumentException.class);
        assertThat(runtime.submit(0, c -> "still running").join()).isEqualTo("still running");
    }

    @Test
    void tasksOfOneCoreRunInOrderOnItsThreadAndFullQueuesMakeSubmittersWait() throws Exception {
        var runtime = start(b -> b.taskQueueCapacity(2));
        var order = new ArrayList<Integer>(); // core 0's thread only
        var submitters = new ArrayList<Thread>();
        var last = new CompletableFuture[4];
        for (int s = 0; s < 4; s++) {
            int submitter = s;
            submitters.add(new Thread(() -> {
                for (int i = 0; i < 500; i++) {
                    int n = submitter * 1000 + i;
                    last[submitter] = runtime.submit(0, c -> {
                        assertThat(Thread.currentThread().getName()).isEqualTo("laminar-core-0");
                        order.add(n);
                        return null;
                    });
                }
            }));
        }
        submitters.forEach(Thread::start);
        for (var t : submitters) {
            t.join();
        }
        CompletableFuture.allOf(last).join();
        var all = runtime.submit(0, c -> List.copyOf(order)).join();
        assertThat(all).hasSize(2000);
        for (int s = 0; s < 4; s++) {
            int submitter = s;
            assertThat(all.stream().filter(n -> n / 1000 == submitter).toList()).isSorted();
        }
    }

    @Test
    void aCoreThreadSubmittingToItsOwnFullQueueIsRefusedInsteadOfWaitingForItself() {
        var runtime = start(b -> b.taskQueueCapacity(2));
        var outcome = runtime.submit(0, c -> {
            for (int i = 0; i < 10; i++) {
                runtime.submit(0, inner -> null);
            }
            return "never";
        });
        assertThatThrownBy(outcome::join).isInstanceOf(CompletionException.class)
                .hasCauseInstanceOf(RejectedExecutionException.class).hasMessageContaining("core 0");
    }

    @Test
    void closeRunsEveryAcceptedTaskAndRefusesTheRest() throws Exception {
        var runtime = start(b -> { });
        var futures = new CopyOnWriteArrayList<CompletableFuture<Object>>();
        var submitters = new ArrayList<Thread>();
        for (int s = 0; s < 3; s++) {
            submitters.add(new Thread(() -> {
                for (int i = 0; i < 2000; i++) {
                    futures.add(runtime.submitDurable(i % CORES, c -> {
                        c.store().put(bytes("k"), bytes("v"));
                        return null;
                    }));
                }
            }));
        }
        submitters.forEach(Thread::start);
        // Some tasks are submitted before the close, however slowly the submitters get a CPU.
        while (futures.size() < 30) {
            Thread.onSpinWait();
        }
        runtime.close();
        for (var t : submitters) {
            t.join();
        }
        long refused = 0;
        for (var future : futures) {
            // every future settles: accepted tasks ran and became durable, later ones were refused
            var failure = future.handle((v, e) -> e).get(10, TimeUnit.SECONDS);
            if (failure != null) {
                assertThat(failure).isInstanceOf(IllegalStateException.class).hasMessageContaining("takes tasks only while running");
                refused++;
            }
        }
        assertThat(refused).isLessThan(futures.size());
        assertThat(runtime.isRunning()).isFalse();
        runtime.close(); // idempotent
    }

    @Test
    void anErrorOutsideATaskStopsTheRuntimeAndFailsEveryTaskInsteadOfHanging() {
        var runtime = start(b -> b.checkpoints(c -> c.barrierTimeout(Duration.ofSeconds(1)))
                .cutContext((core, store) -> {
                    throw new AssertionError("bug in the cut context of core " + core);
                }));
        assertThat(runtime.submit(0, c -> 1).join()).isEqualTo(1);
        assertThat(runtime.triggerCheckpoint()).failsWithin(Duration.ofSeconds(20));
        assertThat(runtime.isRunning()).isFalse();
        assertThat(runtime.failure()).get().satisfies(e -> assertThat(e).hasMessageContaining("thread")
                .hasMessageContaining("died").hasRootCauseInstanceOf(AssertionError.class));
        var refused = runtime.submitDurable(1, c -> 2);
        assertThat(refused).failsWithin(Duration.ofSeconds(1));
        long started = System.nanoTime();
        runtime.close();
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(20));
    }

    @Test
    void aFailedWalReachesDurableTasksAndCloseWithItsCause() throws Exception {
        var io = FaultyFileIO.overSystem();
        var wal = PerCoreWalManager.open(dir.resolve("wal"), PerCoreWalOptions.builder().cores(CORES)
                .maxEntrySize(64 * 1024).wal(w -> w.segmentSize(1 << 20).fileIO(io)).build());
        open.add(wal);
        var runtime = LaminarRuntime.builder(wal, store()).build();
        runtime.start();
        runtime.submitDurable(1, c -> {
            c.store().put(bytes("a"), bytes("1"));
            return null;
        }).join();
        io.forces().on(path -> path.getFileName().toString().startsWith("core-0001-"))
                .withMessage("No space left on device").failNow();

        var lost = runtime.submitDurable(1, c -> {
            c.store().put(bytes("b"), bytes("2"));
            return null;
        });

        assertThatThrownBy(lost::join).isInstanceOf(CompletionException.class)
                .hasCauseInstanceOf(StorageException.class)
                .satisfies(e -> assertThat(e.getCause()).hasMessageContaining("the WAL of core 1")
                        .hasMessageContaining("No space left on device")
                        .hasMessageContaining("changes after number 1 of that core are not durable"))
                .hasRootCauseInstanceOf(FaultyFileIO.InjectedIOException.class)
                .hasRootCauseMessage("No space left on device (fdatasync of " + wal.directory().toAbsolutePath()
                        + "/core-0001-00000000000000000000.wal)");
        assertThat(wal.failure(0)).isEmpty();
        assertThat(wal.failure(1)).get().isInstanceOf(FaultyFileIO.InjectedIOException.class);
        assertThatThrownBy(runtime::close).isInstanceOf(StorageException.class)
                .hasMessageContaining("the changes of core 1 up to number 2 could not be made durable")
                .hasRootCauseInstanceOf(FaultyFileIO.InjectedIOException.class)
                .hasRootCauseMessage("No space left on device (fdatasync of " + wal.directory().toAbsolutePath()
                        + "/core-0001-00000000000000000000.wal)");
        io.forces().stopFailing(); // so that the WAL closes after the test
    }

    @Test
    void aChangeThatDoesNotParseFailsRecoveryNamingTheCoreTheSegmentFileAndThePosition() throws Exception {
        long badSequence;
        try (var wal = PerCoreWalManager.open(dir.resolve("wal"),
                PerCoreWalOptions.builder().cores(CORES).maxEntrySize(64 * 1024)
                        .wal(w -> w.segmentSize(1 << 20)).build())) {
            var writer = wal.writer(1);
            var put = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
            StateChangeFormat.encode(put, StateChangeFormat.PUT, bytes("k"), 1, bytes("v"), 1);
            wal.whenDurable(1, writer.append(put.flip())).join();
            // Its checksum is valid, its body is no change: what a writer bug or a newer format leaves.
            badSequence = writer.append(new byte[0]);
            wal.whenDurable(1, badSequence).join();
        }
        // Where the damaged record is, as the reopened log says (a replay reads up to the durable
        // position, which the syncer publishes just after it completes the future above).
        long badPosition;
        try (var reopened = PerCoreWalManager.open(dir.resolve("wal"),
                PerCoreWalOptions.builder().cores(CORES).maxEntrySize(64 * 1024)
                        .wal(w -> w.segmentSize(1 << 20)).build())) {
            var positions = new ArrayList<Long>();
            reopened.replay(reopened.startPositions(), r -> {
                if (r.core() == 1 && r.sequence() == badSequence) {
                    positions.add(r.position());
                }
            });
            assertThat(positions).as("the damaged record in the reopened log").hasSize(1);
            badPosition = positions.get(0);
        }
        var wal = wal();
        var store = store();
        var segment = wal.directory().resolve("core-0001-00000000000000000000.wal");
        Consumer<Throwable> namesCoreFileAndPosition = e -> assertThat(e)
                .isInstanceOf(StateCorruptionException.class)
                .hasMessageContaining("position " + badPosition + " of the log of core 1 in " + wal.directory())
                .hasMessageContaining("segment file " + segment)
                .hasMessageContaining("is not a valid state record: it is empty")
                .hasMessageContaining("restore")
                .satisfies(c -> assertThat(((StateCorruptionException) c).position()).isEqualTo(badPosition))
                .satisfies(c -> assertThat(((StateCorruptionException) c).file()).isEqualTo(segment));

        assertThatThrownBy(() -> new RecoveryManager(wal, store).recover()).satisfies(namesCoreFileAndPosition);
        var runtime = LaminarRuntime.builder(wal, store).build();
        open.add(runtime);
        assertThatThrownBy(runtime::start).satisfies(namesCoreFileAndPosition);
    }

    @Test
    void closeFromAThreadOfTheRuntimeIsRefusedInsteadOfWaitingForItself() {
        var runtime = start(b -> { });
        var fromCore = runtime.submit(0, c -> {
            runtime.close();
            return null;
        });
        assertThatThrownBy(fromCore::join).hasCauseInstanceOf(IllegalStateException.class)
                .hasMessageContaining("laminar-core-0");
        var attached = new CountDownLatch(1);
        var fromAcknowledger = runtime.submitDurable(1, c -> {
            attached.await(); // so that the continuation below runs where the future completes
            return null;
        }).thenApply(x -> {
            runtime.close();
            return x;
        });
        attached.countDown();
        assertThatThrownBy(fromAcknowledger::join).hasCauseInstanceOf(IllegalStateException.class)
                .hasMessageContaining("laminar-durable-ack");
        assertThat(runtime.isRunning()).isTrue();
    }

    @Test
    void coreOfIsAFixedFunctionOfTheKeyBytes() {
        var runtime = start(b -> { });
        // pinned: keys must land on the same core in every version, or restarts would move state
        assertThat(runtime.coreOf(bytes("alice"))).isEqualTo(runtime.coreOf(bytes("alice")));
        int[] perCore = new int[CORES];
        for (int i = 0; i < 10_000; i++) {
            perCore[runtime.coreOf(bytes("key-" + i))]++;
        }
        assertThat(perCore[0]).isBetween(4500, 5500);
        int[] pinned = new int[6];
        var keys = List.of("alice", "bob", "carol", "", "key-1", "key-2");
        for (int i = 0; i < keys.size(); i++) {
            pinned[i] = LaminarRuntime.coreOf(bytes(keys.get(i)), 256, 16);
        }
        assertThat(pinned).containsExactly(PINNED);
        assertThat(runtime.keyGroups()).isEqualTo(KeyGroups.DEFAULT_KEY_GROUPS);
    }

    // the key groups of these keys among 256 are 201, 167, 213, 183, 191, 231 (KeyGroupsTest pins the hash)
    private static final int[] PINNED = {12, 10, 13, 11, 11, 14};

    @Test
    void accessorsBeforeStartSayTheRuntimeIsNotStarted() {
        var runtime = LaminarRuntime.builder(wal(), store()).build();
        open.add(runtime);
        assertThatThrownBy(runtime::drainer).isInstanceOf(IllegalStateException.class).hasMessageContaining("not started");
        assertThatThrownBy(runtime::coordinator).isInstanceOf(IllegalStateException.class);
        assertThat(runtime.recoveryReport()).isEmpty();
        assertThat(runtime.triggerCheckpoint()).isCompletedExceptionally();
        assertThatThrownBy(() -> runtime.submit(CORES, c -> 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("between 0 and 1");
    }
}

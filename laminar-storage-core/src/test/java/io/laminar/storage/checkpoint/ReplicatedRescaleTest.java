package io.laminar.storage.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.KeyGroups;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.replication.ChangeReplicator;
import io.laminar.storage.replication.MemoryReplicator;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rescale of a replicated shard inside {@code LaminarRuntime.start()} ({@link
 * Rescaler#openReplicated}, {@link Rescaler#rescaleReplicated}) over the in-memory replicated log
 * ({@link MemoryReplicator}); the same against real Kafka brokers is {@code KafkaRescaleTest}. Every
 * state is checked against a model: each acknowledged change exactly once, each key on the core
 * that owns its key group.
 */
@Timeout(120)
class ReplicatedRescaleTest {

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();
    private final MemoryReplicator.Log log = new MemoryReplicator.Log();
    private final TreeMap<String, String> expected = new TreeMap<>();

    @AfterEach
    void closeAll() {
        for (int i = open.size() - 1; i >= 0; i--) {
            try {
                open.get(i).close();
            } catch (Exception e) {
                // a runtime whose start failed, or a fenced one, does not close cleanly
            }
        }
        open.clear();
    }

    private static PerCoreWalOptions options(int cores) {
        return PerCoreWalOptions.builder().cores(cores).maxEntrySize(64 * 1024).wal(w -> w.segmentSize(1 << 20))
                .build();
    }

    private FileSystemCheckpointStore store() throws IOException {
        var store = FileSystemCheckpointStore.open(dir.resolve("checkpoints"));
        open.add(store);
        return store;
    }

    /** A runtime over {@code walName} with {@code cores} cores, its WAL opened as the starter opens a replicated one. */
    private LaminarRuntime start(String walName, int cores) throws IOException {
        var wal = Rescaler.openReplicated(dir.resolve(walName), options(cores));
        open.add(wal);
        var runtime = LaminarRuntime.builder(wal, store()).replicator(new MemoryReplicator(log, Duration.ofSeconds(30)))
                .build();
        open.add(runtime);
        runtime.start();
        return runtime;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private void put(LaminarRuntime runtime, String key, String value) throws Exception {
        var k = bytes(key);
        runtime.submitDurable(runtime.coreOf(k), c -> {
            c.store().put(k, bytes(value));
            return null;
        }).get(10, TimeUnit.SECONDS);
        expected.put(key, value);
    }

    private void delete(LaminarRuntime runtime, String key) throws Exception {
        var k = bytes(key);
        runtime.submitDurable(runtime.coreOf(k), c -> c.store().delete(k)).get(10, TimeUnit.SECONDS);
        expected.remove(key);
    }

    private void clear(LaminarRuntime runtime, int core) throws Exception {
        runtime.submitDurable(core, c -> {
            c.store().clear();
            return null;
        }).get(10, TimeUnit.SECONDS);
        expected.keySet().removeIf(key -> runtime.coreOf(bytes(key)) == core);
    }

    /** Random puts and deletes of {@code count} keys of {@code prefix}. */
    private void write(LaminarRuntime runtime, Random random, String prefix, int count) throws Exception {
        for (int i = 0; i < count; i++) {
            var key = prefix + random.nextInt(count);
            if (random.nextInt(5) == 0) {
                delete(runtime, key);
            } else {
                put(runtime, key, prefix + "-" + i + "-" + random.nextInt(1000));
            }
        }
    }

    /** Every key is where the runtime routes it, and the whole state equals the model. */
    private void assertExact(LaminarRuntime runtime) {
        var all = new TreeMap<String, String>();
        for (int core = 0; core < runtime.cores(); core++) {
            int owner = core;
            runtime.submit(core, c -> {
                c.store().forEach((k, v) -> {
                    assertThat(runtime.coreOf(k)).as("the core of %s", new String(k, StandardCharsets.UTF_8))
                            .isEqualTo(owner);
                    var previous = all.put(new String(k, StandardCharsets.UTF_8), new String(v, StandardCharsets.UTF_8));
                    assertThat(previous).isNull();
                });
                return null;
            }).join();
        }
        assertThat(all).isEqualTo(expected);
    }

    /**
     * A 2-core owner with two checkpoints and a tail after them: puts, deletes and a clear of core 1.
     * Returns how many replicated records the tail holds.
     */
    private int writeWithTwoCores(String walName, long seed) throws Exception {
        var random = new Random(seed);
        var a = start(walName, 2);
        write(a, random, "first-", 200);
        a.triggerCheckpoint().get(10, TimeUnit.SECONDS);
        write(a, random, "second-", 200);
        a.triggerCheckpoint().get(10, TimeUnit.SECONDS);
        int checkpointed = log.records().size();
        write(a, random, "tail-", 100);
        clear(a, 1);
        write(a, random, "after-clear-", 50);
        assertExact(a);
        closeAll();
        return log.records().size() - checkpointed;
    }

    @Test
    void takeoversWithOneThreeAndTwoCoresRestoreEveryReplicatedChangeIntoTheOldCoresThenRegroupThem()
            throws Exception {
        long seed = System.nanoTime();
        System.out.println("seed " + seed);
        int tail = writeWithTwoCores("wal-a", seed);
        var random = new Random(seed + 1);
        int previousCores = 2;
        String[] owners = {"wal-b", "wal-c", "wal-d"};
        int[] cores = {1, 3, 2};
        for (int i = 0; i < owners.length; i++) {
            var owner = start(owners[i], cores[i]); // a new machine, an empty directory
            var report = owner.recoveryReport().orElseThrow();
            var rescale = report.rescale();
            if (cores[i] == previousCores) {
                assertThat(rescale).isNull();
            } else {
                assertThat(rescale.oldCores()).isEqualTo(previousCores);
                assertThat(rescale.newCores()).isEqualTo(cores[i]);
                assertThat(rescale.keyGroupsMoved()).isEqualTo(Rescaler.movedKeyGroups(KeyGroups.DEFAULT_KEY_GROUPS,
                        previousCores, cores[i]));
                assertThat(rescale.entries()).isEqualTo(expected.size());
                assertThat(report.checkpointId()).isEqualTo(rescale.rescaleCheckpoint());
            }
            // The replicated tail after the newest checkpoint, each change once.
            assertThat(report.recordsFromReplication()).isEqualTo(tail);
            assertExact(owner);
            // The rescale's checkpoint starts a new replicated history: the tail is not read again.
            var store = store();
            long newestId = store.listCheckpoints().stream().mapToLong(Long::longValue).max().orElseThrow();
            var newest = store.readManifest(newestId).orElseThrow();
            assertThat(newest.walPositions()).hasSize(cores[i]);
            assertThat(newest.sources()).containsKey(ChangeReplicator.SOURCE_NAME);
            assertThat(dir.resolve(owners[i]).resolve(LaminarRuntime.TAKEOVER_MARKER)).doesNotExist();
            // It serves on; a tail after its checkpoint, with a clear, for the next owner.
            write(owner, random, "served-" + i + "-", 60);
            owner.triggerCheckpoint().get(10, TimeUnit.SECONDS);
            int checkpointed = log.records().size();
            write(owner, random, "tail-" + i + "-", 40);
            clear(owner, cores[i] - 1);
            write(owner, random, "end-" + i + "-", 20);
            assertExact(owner);
            tail = log.records().size() - checkpointed;
            closeAll(); // the machine is lost
            previousCores = cores[i];
        }
    }

    @Test
    void aRestartOnItsOwnDirectoryWithOtherCoresRescalesFromItsOwnWalAfterItOwnsTheShard() throws Exception {
        long seed = System.nanoTime();
        System.out.println("seed " + seed);
        writeWithTwoCores("wal", seed);
        var random = new Random(seed + 1);
        int previous = 2;
        for (int cores : new int[] {3, 1, 4}) {
            var runtime = start("wal", cores);
            var rescale = runtime.recoveryReport().orElseThrow().rescale();
            assertThat(rescale.oldCores()).isEqualTo(previous);
            assertThat(rescale.newCores()).isEqualTo(cores);
            assertThat(rescale.walBytesRead()).isPositive(); // its own WAL tail, not the replicated log
            assertThat(runtime.recoveryReport().orElseThrow().recordsFromReplication()).isZero();
            assertThat(dir.resolve("wal" + Rescaler.REPLICATED_SUFFIX)).doesNotExist();
            assertExact(runtime);
            write(runtime, random, "own-" + cores + "-", 80);
            closeAll();
            previous = cores;
        }
        // And a takeover of what the last one wrote, with yet another number of cores.
        var other = start("wal-other", 2);
        assertExact(other);
    }

    /** Stops a rescaling start at {@code step}, as a crash there would. */
    private void crashAt(String walName, int cores, Rescaler.Step step) throws Exception {
        var wal = Rescaler.openReplicated(dir.resolve(walName), options(cores));
        open.add(wal);
        var store = store();
        var replicator = new MemoryReplicator(log, Duration.ofSeconds(30));
        open.add(replicator);
        // What LaminarRuntime.start() does before it rescales: fence, claim, record the claim, mark the takeover.
        replicator.open(cores);
        long epoch = store.claimOwnership();
        Files.writeString(dir.resolve(walName).resolve(LaminarRuntime.OWNER_EPOCH_FILE), epoch + "\n");
        Files.createFile(dir.resolve(walName).resolve(LaminarRuntime.TAKEOVER_MARKER));
        assertThatThrownBy(() -> Rescaler.rescaleReplicated(wal, store, replicator, StatePlacement.BY_STORE_KEY, s -> {
            if (s == step) {
                throw new IOException("crash at " + s);
            }
        })).hasMessageContaining("crash at " + step);
        closeAll();
    }

    @Test
    void aCrashAtEveryStepOfARescalingTakeoverLeavesTheOldOrTheNewLayoutAndARetryWithOtherCoresSucceeds()
            throws Exception {
        writeWithTwoCores("wal-a", 42);
        int retry = 0;
        for (var step : List.of(Rescaler.Step.RECOVERED, Rescaler.Step.INTENT_WRITTEN,
                Rescaler.Step.CHECKPOINT_PUBLISHED, Rescaler.Step.SWITCHED)) {
            var walName = "wal-" + step;
            crashAt(walName, 3, step);
            // Yet another number of cores, on the same directory.
            var runtime = start(walName, retry++ % 2 == 0 ? 1 : 4);
            assertExact(runtime);
            assertThat(runtime.recoveryReport().orElseThrow().rescale()).isNotNull();
            closeAll();
        }
    }

    @Test
    void aCrashAtEveryStepOfARescalingRestartOnItsOwnDirectoryLeavesTheOldOrTheNewLayout() throws Exception {
        writeWithTwoCores("wal", 7);
        int layout = 2;
        for (var step : List.of(Rescaler.Step.RECOVERED, Rescaler.Step.INTENT_WRITTEN,
                Rescaler.Step.CHECKPOINT_PUBLISHED, Rescaler.Step.SWITCHED)) {
            int crashed = layout + 1;
            crashAt("wal", crashed, step);
            boolean published = step == Rescaler.Step.CHECKPOINT_PUBLISHED || step == Rescaler.Step.SWITCHED;
            assertThat(Files.exists(dir.resolve("wal" + Rescaler.REPLICATED_SUFFIX)))
                    .isEqualTo(step != Rescaler.Step.SWITCHED);
            // The retry asks for yet another number of cores: it rescales the old layout if the crash
            // came before the publish, else the rescale's checkpoint.
            int retry = crashed > 2 ? crashed - 2 : crashed + 1;
            var runtime = start("wal", retry);
            var rescale = runtime.recoveryReport().orElseThrow().rescale();
            assertThat(rescale).as("after a crash at %s", step).isNotNull();
            assertThat(rescale.oldCores()).as("after a crash at %s", step).isEqualTo(published ? crashed : layout);
            assertThat(rescale.newCores()).isEqualTo(retry);
            assertThat(dir.resolve("wal" + Rescaler.REPLICATED_SUFFIX)).doesNotExist();
            assertExact(runtime);
            closeAll();
            layout = retry;
        }
    }

    @Test
    void anOldLayoutSetAsideIsStillRefusedAsStaleOnceAnotherOwnerTookTheShardOver() throws Exception {
        writeWithTwoCores("wal-a", 3);
        // A's directory is set aside for a rescale, but before A starts, B takes the shard over.
        var aside = Rescaler.openReplicated(dir.resolve("wal-a"), options(3));
        aside.close();
        var b = start("wal-b", 2);
        assertExact(b);
        put(b, "from-b", "1");
        var wal = Rescaler.openReplicated(dir.resolve("wal-a"), options(3));
        open.add(wal);
        var stale = LaminarRuntime.builder(wal, store()).replicator(new MemoryReplicator(log, Duration.ofSeconds(30)))
                .build();
        open.add(stale);
        int owners = log.owner();
        assertThatThrownBy(stale::start).isInstanceOf(io.laminar.storage.StorageException.class)
                .hasMessageContaining("is stale")
                .hasMessageContaining("wal-a" + Rescaler.REPLICATED_SUFFIX);
        assertThat(log.owner()).isEqualTo(owners); // B was not fenced
        put(b, "from-b", "2");
        assertThat(b.failure()).isEmpty();
    }

    @Test
    void aMoveOfTheOldLayoutInterruptedHalfWayIsFinishedByTheNextOpenAndNothingIsLost() throws Exception {
        writeWithTwoCores("wal", 11);
        long files;
        try (var listed = Files.list(dir.resolve("wal"))) {
            files = listed.filter(p -> io.laminar.storage.percore.WalLayout.isLayoutFile(p.getFileName().toString()))
                    .count();
        }
        // The process dies after half of the old layout's files were renamed into the side directory.
        var moves = new java.util.concurrent.atomic.AtomicLong();
        var system = io.laminar.storage.io.FileIO.system();
        var dying = new io.laminar.storage.io.FileIO() {
            @Override
            public java.nio.channels.FileChannel open(Path path, java.util.Set<? extends java.nio.file.OpenOption> o)
                    throws IOException {
                return system.open(path, o);
            }

            @Override
            public void atomicMove(Path source, Path target) throws IOException {
                if (target.getParent().getFileName().toString().endsWith(Rescaler.REPLICATED_SUFFIX)
                        && !target.getFileName().toString().startsWith("move.")
                        && moves.incrementAndGet() > files / 2) {
                    throw new IOException("the process died before renaming " + source);
                }
                system.atomicMove(source, target);
            }

            @Override
            public void deleteIfExists(Path path) throws IOException {
                system.deleteIfExists(path);
            }

            @Override
            public void syncDirectory(Path directory) throws IOException {
                system.syncDirectory(directory);
            }
        };
        var options = PerCoreWalOptions.builder().cores(3).maxEntrySize(64 * 1024)
                .wal(w -> w.segmentSize(1 << 20).fileIO(dying)).build();
        assertThatThrownBy(() -> Rescaler.openReplicated(dir.resolve("wal"), options))
                .isInstanceOf(io.laminar.storage.StorageException.class)
                .hasMessageContaining("the next start finishes the move");
        assertThat(Files.exists(dir.resolve("wal").resolve(io.laminar.storage.percore.WalLayout.FILE_NAME))
                || Files.exists(dir.resolve("wal" + Rescaler.REPLICATED_SUFFIX)
                        .resolve(io.laminar.storage.percore.WalLayout.FILE_NAME))).isTrue();
        // Neither layout can be opened half-moved: a start without replication is refused too.
        assertThatThrownBy(() -> Rescaler.open(dir.resolve("wal"), options(2), store(), StatePlacement.BY_STORE_KEY))
                .hasMessageContaining("set aside");
        // The next start (with yet another number of cores) finishes the move, then the rescale.
        var runtime = start("wal", 1);
        var rescale = runtime.recoveryReport().orElseThrow().rescale();
        assertThat(rescale.oldCores()).isEqualTo(2);
        assertThat(rescale.newCores()).isEqualTo(1);
        assertThat(rescale.walBytesRead()).isPositive();
        assertExact(runtime);
    }

    @Test
    void aLayoutSetAsideIsRefusedByAStartWithoutReplicationAndRescaledByTheNextReplicatedOne() throws Exception {
        writeWithTwoCores("wal", 5);
        var wal = Rescaler.openReplicated(dir.resolve("wal"), options(3));
        open.add(wal);
        var local = LaminarRuntime.builder(wal, store()).build();
        open.add(local);
        assertThatThrownBy(local::start).isInstanceOf(io.laminar.storage.StorageException.class)
                .hasMessageContaining("start it with a replicator");
        closeAll();
        var runtime = start("wal", 3);
        assertThat(runtime.recoveryReport().orElseThrow().rescale().oldCores()).isEqualTo(2);
        assertExact(runtime);
    }
}

package io.laminar.storage.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.KeyGroups;
import io.laminar.storage.StorageException;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.percore.WalLayout;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restarting with another number of cores: every key keeps its value and lives on the core that
 * owns its key group, whatever the old and new core counts, whatever step a crash interrupted.
 */
@Timeout(300)
class RescalerTest {

    private static final Logger log = LoggerFactory.getLogger(RescalerTest.class);
    /** -Dlaminar.rescale.soak=N runs N random rounds per core pair instead of one. */
    private static final int ROUNDS = Integer.getInteger("laminar.rescale.soak", 1);
    private static final int KEY_GROUPS = 32;

    @TempDir
    Path dir;

    private static PerCoreWalOptions options(int cores) {
        return PerCoreWalOptions.builder().cores(cores).keyGroups(KEY_GROUPS).maxEntrySize(4096)
                .wal(w -> w.segmentSize(1 << 20).writeBufferSize(1 << 20)).build();
    }

    private Path walDir() {
        return dir.resolve("wal");
    }

    private CheckpointStore store() throws IOException {
        return FileSystemCheckpointStore.open(dir.resolve("checkpoints"));
    }

    /** The model: key to value, null for deleted. */
    private final Map<String, String> model = new TreeMap<>();

    /** Opens with {@code cores} (rescaling if needed), runs {@code body}, closes. Returns the rescale, if any. */
    private RescaleReport run(int cores, RuntimeBody body) throws Exception {
        try (var store = store()) {
            var opened = Rescaler.open(walDir(), options(cores), store, StatePlacement.BY_STORE_KEY);
            try (var wal = opened.wal()) {
                var runtime = LaminarRuntime.builder(wal, store).recovered(opened.recovered().orElse(null)).build();
                try {
                    var report = runtime.start();
                    assertThat(report.rescale()).isEqualTo(opened.rescale().orElse(null));
                    body.run(runtime);
                } finally {
                    runtime.close();
                }
            }
            return opened.rescale().orElse(null);
        }
    }

    @FunctionalInterface
    private interface RuntimeBody {
        void run(LaminarRuntime runtime) throws Exception;
    }

    private void writeRandom(LaminarRuntime runtime, Random random, int operations) {
        RandomDurableWrites.write(runtime, random, operations, 200, 5, model::put);
    }

    /** Every model key has its value on its owning core, and no core holds anything else. */
    private void assertMatchesModel(LaminarRuntime runtime) {
        var expected = new HashMap<Integer, Map<String, String>>();
        model.forEach((key, value) -> {
            if (value != null) {
                expected.computeIfAbsent(runtime.coreOf(key.getBytes(StandardCharsets.UTF_8)), c -> new TreeMap<>())
                        .put(key, value);
            }
        });
        for (int core = 0; core < runtime.cores(); core++) {
            var held = runtime.submit(core, c -> {
                var out = new TreeMap<String, String>();
                c.store().forEach((k, v) -> out.put(new String(k, StandardCharsets.UTF_8),
                        new String(v, StandardCharsets.UTF_8)));
                return out;
            }).join();
            assertThat(held).as("the state of core %d of %d", core, runtime.cores())
                    .isEqualTo(expected.getOrDefault(core, Map.of()));
        }
    }

    @Test
    void everyPairOfCoreCountsFromOneToEightKeepsEveryValueOnItsOwningCore() throws Exception {
        long seed = Long.getLong("laminar.rescale.seed", System.nanoTime());
        log.info("seed {} (-Dlaminar.rescale.seed={} repeats this run)", seed, seed);
        var random = new Random(seed);
        var written = dir.resolveSibling(dir.getFileName() + "-written");
        for (int round = 0; round < ROUNDS; round++) {
            for (int from = 1; from <= 8; from++) {
                // Written once per source core count, then copied for each target.
                deleteAll();
                model.clear();
                int operations = 20 + random.nextInt(40);
                run(from, runtime -> {
                    writeRandom(runtime, random, operations);
                    runtime.triggerCheckpoint().join();
                    writeRandom(runtime, random, operations); // only in the WAL
                });
                var writtenModel = new TreeMap<>(model);
                copyTree(dir, written);
                for (int to = 1; to <= 8; to++) {
                    if (from == to) {
                        continue;
                    }
                    deleteAll();
                    copyTree(written, dir);
                    model.clear();
                    model.putAll(writtenModel);
                    var report = run(to, runtime -> {
                        assertMatchesModel(runtime);
                        writeRandom(runtime, random, 10);
                    });
                    assertThat(report).as("seed %d, %d -> %d cores", seed, from, to).isNotNull();
                    assertThat(report.oldCores()).isEqualTo(from);
                    assertThat(report.newCores()).isEqualTo(to);
                    assertThat(report.keyGroupsMoved()).isEqualTo(Rescaler.movedKeyGroups(KEY_GROUPS, from, to));
                    assertThat(report.walBytesRead()).isPositive();
                    assertThat(report.stateBytesRead()).isPositive();
                    if ((from + to) % 5 == 0) { // a sample, to keep the run short
                        // once more without a rescale: the new layout is an ordinary directory
                        assertThat(run(to, this::assertMatchesModel)).isNull();
                    }
                }
                deleteRecursively(written);
            }
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (var paths = Files.walk(from)) {
            for (var path : paths.toList()) {
                var target = to.resolve(from.relativize(path).toString());
                if (Files.isDirectory(path)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(path, target);
                }
            }
        }
    }

    private void deleteAll() throws IOException {
        if (Files.exists(dir)) {
            try (var paths = Files.walk(dir)) {
                paths.sorted(java.util.Comparator.reverseOrder()).filter(p -> !p.equals(dir)).forEach(p -> {
                    try {
                        Files.delete(p);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Rescaler.Step.class)
    void aRescaleInterruptedAtAnyStepRecoversToTheOldOrTheNewLayoutAndCanRescaleAgain(Rescaler.Step step)
            throws Exception {
        var random = new Random(step.ordinal());
        run(4, runtime -> {
            writeRandom(runtime, random, 100);
            runtime.triggerCheckpoint().join();
            writeRandom(runtime, random, 100);
        });
        try (var store = store()) {
            assertThatThrownBy(() -> Rescaler.open(walDir(), options(2), store, StatePlacement.BY_STORE_KEY, reached -> {
                if (reached == step) {
                    throw new IOException("crash at " + step);
                }
            })).hasMessageContaining("crash at " + step);
        }
        boolean committed = step.compareTo(Rescaler.Step.COMMITTED) >= 0;
        if (!committed) {
            assertThat(WalLayout.read(walDir()).orElseThrow().cores()).as("the old layout, untouched").isEqualTo(4);
        } else if (step == Rescaler.Step.SWITCHED) {
            assertThat(WalLayout.read(walDir()).orElseThrow().cores()).as("the new layout, in place").isEqualTo(2);
        }
        assertThat(Files.exists(dir.resolve("wal.rescale"))).as("the side directory, until the switch is done")
                .isEqualTo(step != Rescaler.Step.RECOVERED);
        // Yet another count: the interrupted rescale is finished or undone first, then rescaled again.
        var report = run(3, runtime -> {
            assertMatchesModel(runtime);
            writeRandom(runtime, random, 20);
        });
        assertThat(report.oldCores()).isEqualTo(committed ? 2 : 4);
        assertThat(run(3, this::assertMatchesModel)).isNull();
        assertThat(Files.exists(dir.resolve("wal.rescale"))).isFalse();
        try (var store = store()) {
            // the rolled-back rescale's checkpoint is gone; every listed one reads
            for (long id : store.listCheckpoints()) {
                assertThat(store.readManifest(id)).isPresent();
            }
        }
    }

    @Test
    void aCheckpointRestoredOntoANewDirectoryWithAnotherCoreCountIsRescaled() throws Exception {
        var random = new Random(7);
        run(3, runtime -> {
            writeRandom(runtime, random, 150);
            runtime.triggerCheckpoint().join();
        });
        // another machine: a new data directory, the same store
        deleteRecursively(walDir());
        var report = run(5, this::assertMatchesModel);
        assertThat(report.oldCores()).isEqualTo(3);
        assertThat(report.walBytesRead()).isZero();
    }

    @Test
    void aDifferentKeyGroupCountIsRefusedNamingThePropertyAndTheRecordedValue() throws Exception {
        run(2, runtime -> {
            writeRandom(runtime, new Random(1), 10);
            runtime.triggerCheckpoint().join();
        });
        try (var store = store()) {
            assertThatThrownBy(() -> Rescaler.open(walDir(), options(2).withKeyGroups(64), store,
                    StatePlacement.BY_STORE_KEY))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("laminar.storage.key-groups")
                    .hasMessageContaining("set it back to " + KEY_GROUPS);
        }
        // a checkpoint of another key-group count, restored onto a new directory
        deleteRecursively(walDir());
        try (var store = store()) {
            assertThatThrownBy(() -> Rescaler.open(walDir(), options(2).withKeyGroups(64), store,
                    StatePlacement.BY_STORE_KEY))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("laminar.storage.key-groups")
                    .hasMessageContaining("set it to " + KEY_GROUPS);
        }
    }

    @Test
    void aDirectoryAndCheckpointsWrittenBeforeKeyGroupsAreRescaledEvenToTheSameCoreCount() throws Exception {
        // Written as a version before key groups did: keys placed by floorMod(mix(hash), cores) (which
        // is KeyGroups.keyGroupOf with the cores as the number of groups), no layout file, and
        // manifests of format 2.0 (no keyGroups).
        int cores = 3;
        var random = new Random(11);
        try (var store = store(); var wal = PerCoreWalManager.open(walDir(), options(cores))) {
            var runtime = LaminarRuntime.builder(wal, store).build();
            runtime.start();
            writeLegacy(runtime, cores, random, 120);
            runtime.triggerCheckpoint().join();
            writeLegacy(runtime, cores, random, 60); // only in the WAL
            runtime.close();
        }
        Files.delete(walDir().resolve(WalLayout.FILE_NAME));
        try (var store = store()) {
            for (long id : store.listCheckpoints()) {
                var m = store.readManifest(id).orElseThrow();
                store.deleteManifest(id);
                store.publishManifest(new CheckpointManifest(m.checkpointId(), m.epoch(), m.createdAt(),
                        m.walPositions(), m.sources(), m.operators(), m.files(), m.parentCheckpointId(),
                        m.stateBytes(), m.writtenBytes(), m.watermark()));
            }
        }
        // Not opened through the Rescaler, it is refused: its keys are not where coreOf looks.
        try (var store = store(); var wal = PerCoreWalManager.open(walDir(), options(cores))) {
            assertThat(wal.keyGroups()).isZero();
            assertThat(WalLayout.read(walDir())).as("no layout is written over old logs").isEmpty();
            assertThatThrownBy(() -> LaminarRuntime.builder(wal, store).build().start())
                    .isInstanceOf(StorageException.class).hasMessageContaining("before key groups");
        }
        var report = run(cores, this::assertMatchesModel);
        assertThat(report.legacyPlacement()).isTrue();
        assertThat(report.oldCores()).isEqualTo(cores);
        assertThat(report.keyGroupsMoved()).isEqualTo(KEY_GROUPS);
        assertThat(report.restoredCheckpoint()).isNotNull();
        assertThat(report.walBytesRead()).isPositive();
        assertThat(run(2, this::assertMatchesModel)).as("and then an ordinary rescale").isNotNull();
    }

    /** Puts keys on the cores the hash before key groups chose. */
    private void writeLegacy(LaminarRuntime runtime, int cores, Random random, int operations) {
        var futures = new ArrayList<CompletableFuture<?>>();
        for (int i = 0; i < operations; i++) {
            var key = "legacy-" + random.nextInt(100);
            var value = key + "=" + random.nextLong();
            model.put(key, value);
            var bytes = key.getBytes(StandardCharsets.UTF_8);
            futures.add(runtime.submitDurable(KeyGroups.keyGroupOf(bytes, cores), c -> {
                c.store().put(bytes, value.getBytes(StandardCharsets.UTF_8));
                return null;
            }));
        }
        CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).join();
    }

    @Test
    void aDirectoryWithAMissingCoreIsRefused() throws Exception {
        run(3, runtime -> writeRandom(runtime, new Random(2), 50));
        try (var files = Files.list(walDir())) {
            for (var path : files.toList()) {
                if (path.getFileName().toString().startsWith("core-0001")) {
                    Files.delete(path);
                }
            }
        }
        try (var store = store()) {
            assertThatThrownBy(() -> Rescaler.open(walDir(), options(3), store, StatePlacement.BY_STORE_KEY))
                    .isInstanceOf(StorageException.class)
                    .hasMessageContaining("core-0001")
                    .hasMessageContaining("missing");
            assertThatThrownBy(() -> Rescaler.open(walDir(), options(2), store, StatePlacement.BY_STORE_KEY))
                    .hasMessageContaining("core-0001");
        }
    }

    @Test
    void aPlacementThatDisagreesWithTheRoutingIsRefusedAndNothingChanges() throws Exception {
        run(4, runtime -> writeRandom(runtime, new Random(3), 100));
        StatePlacement wrong = (key, keyGroups) -> Math.floorMod(KeyGroups.keyGroupOf(key, keyGroups) + 1, keyGroups);
        try (var store = store()) {
            assertThatThrownBy(() -> Rescaler.open(walDir(), options(2), store, wrong))
                    .isInstanceOf(StorageException.class)
                    .hasMessageContaining("does not match how the application routes");
            assertThat(store.listCheckpoints()).isEmpty();
        }
        assertThat(Files.exists(dir.resolve("wal.rescale"))).isFalse();
        assertThat(WalLayout.read(walDir()).orElseThrow().cores()).isEqualTo(4);
        assertThat(run(2, this::assertMatchesModel)).isNotNull();
    }

    @Test
    void coreLocalEntriesAreMergedByThePlacement() throws Exception {
        byte[] local = {0};
        StatePlacement placement = new StatePlacement() {
            @Override
            public int keyGroupOf(byte[] storeKey, int keyGroups) {
                return storeKey.length == 1 && storeKey[0] == 0 ? CORE_LOCAL : KeyGroups.keyGroupOf(storeKey, keyGroups);
            }

            @Override
            public byte[] mergeCoreLocal(byte[] storeKey, List<byte[]> values, KeyGroups.Range range, int keyGroups) {
                int lowest = Integer.MAX_VALUE;
                for (var value : values) {
                    lowest = Math.min(lowest, value == null ? 0 : value[0]);
                }
                return new byte[] {(byte) lowest};
            }
        };
        try (var store = store()) {
            var opened = Rescaler.open(walDir(), options(4), store, placement);
            try (var wal = opened.wal()) {
                var runtime = LaminarRuntime.builder(wal, store).build();
                runtime.start();
                for (int core = 0; core < 4; core++) {
                    byte value = (byte) (10 + core);
                    runtime.submitDurable(core, c -> {
                        c.store().put(local, new byte[] {value});
                        return null;
                    }).join();
                }
                runtime.close();
            }
        }
        try (var store = store()) {
            var opened = Rescaler.open(walDir(), options(2), store, placement);
            try (var wal = opened.wal()) {
                var runtime = LaminarRuntime.builder(wal, store).build();
                runtime.start();
                // core 0 of 2 took the key groups of old cores 0 and 1, core 1 those of old cores 2 and 3
                assertThat(runtime.submit(0, c -> c.store().get(local)).join()).containsExactly(10);
                assertThat(runtime.submit(1, c -> c.store().get(local)).join()).containsExactly(12);
                runtime.close();
            }
        }
    }

    private static void deleteRecursively(Path path) throws IOException {
        try (var paths = Files.walk(path)) {
            for (var p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}

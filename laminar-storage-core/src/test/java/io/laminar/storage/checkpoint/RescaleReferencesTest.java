package io.laminar.storage.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.KeyGroups;
import io.laminar.storage.StorageException;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rescale's checkpoint references the old checkpoint's state files by key group and holds only a
 * DELTA per new core: where data could be lost in that design. Its recovery (not the state the
 * rescale hands over) equals the model for every pair of core counts; a damaged, cut or missing
 * referenced file is refused by name and key groups, never restored in part; retention keeps every
 * referenced file and nothing else; a rescale of a rescaled checkpoint compacts it.
 */
@Timeout(300)
class RescaleReferencesTest {

    private static final int KEY_GROUPS = 32;

    @TempDir
    Path dir;

    /** The model: key to value, null for deleted. */
    private final Map<String, String> model = new TreeMap<>();

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

    /** Opens with {@code cores} (rescaling if needed), writes {@code operations}, checkpoints if asked, closes. */
    private Rescaler.Opened write(int cores, Random random, int operations, boolean checkpoint, int retained)
            throws Exception {
        try (var store = store()) {
            var opened = Rescaler.open(walDir(), options(cores), store, StatePlacement.BY_STORE_KEY);
            try (var wal = opened.wal()) {
                var runtime = LaminarRuntime.builder(wal, store).recovered(opened.recovered().orElse(null))
                        .checkpoints(c -> c.retainedCheckpoints(retained)).build();
                try {
                    runtime.start();
                    RandomDurableWrites.write(runtime, random, operations, 200, 5, model::put);
                    if (checkpoint) {
                        runtime.triggerCheckpoint().join();
                    }
                } finally {
                    runtime.close();
                }
            }
            return opened;
        }
    }

    /** Rescales to {@code cores} without starting a runtime; returns the rescale's checkpoint. */
    private CheckpointManifest rescale(int cores) throws IOException {
        try (var store = store()) {
            var opened = Rescaler.open(walDir(), options(cores), store, StatePlacement.BY_STORE_KEY);
            opened.wal().close();
            assertThat(opened.rescale()).isPresent();
            assertMatchesModel(opened.recovered().orElseThrow(), cores, "the handed-over state");
            return opened.recovered().orElseThrow().checkpoint();
        }
    }

    /** A recovery of the directory as it is now, by a RecoveryManager (reading the store). */
    private RecoveredState recover(int cores) throws IOException {
        try (var store = store(); var wal = PerCoreWalManager.open(walDir(), options(cores))) {
            return new RecoveryManager(wal, store, RecoveryListener.NONE, RecoveryOptions.DEFAULTS,
                    StatePlacement.BY_STORE_KEY).recover();
        }
    }

    private void assertMatchesModel(RecoveredState state, int cores, String what) {
        var expected = new TreeMap<Integer, Map<String, String>>();
        model.forEach((key, value) -> {
            if (value != null) {
                expected.computeIfAbsent(KeyGroups.coreOf(key.getBytes(StandardCharsets.UTF_8), KEY_GROUPS, cores),
                        c -> new TreeMap<>()).put(key, value);
            }
        });
        assertThat(state.coreStates()).hasSize(cores);
        for (int core = 0; core < cores; core++) {
            var held = new TreeMap<String, String>();
            state.coreStates().get(core).forEach((k, v) -> held.put(new String(k, StandardCharsets.UTF_8),
                    new String(v, StandardCharsets.UTF_8)));
            assertThat(held).as("%s: core %d of %d", what, core, cores).isEqualTo(expected.getOrDefault(core, Map.of()));
        }
    }

    private void deleteAll() throws IOException {
        try (var paths = Files.walk(dir)) {
            for (var p : paths.sorted(java.util.Comparator.reverseOrder()).filter(p -> !p.equals(dir)).toList()) {
                Files.delete(p);
            }
        }
    }

    @Test
    void theRescaledCheckpointRecoversExactlyForEveryPairOfCoreCountsFromOneToEight() throws Exception {
        long seed = Long.getLong("laminar.rescale.seed", System.nanoTime());
        var random = new Random(seed);
        for (int from = 1; from <= 8; from++) {
            for (int to = 1; to <= 8; to++) {
                if (from == to) {
                    continue;
                }
                deleteAll();
                model.clear();
                write(from, random, 40 + random.nextInt(40), true, 3);
                write(from, random, 30, false, 3); // only in the WAL: the rescale's deltas
                var manifest = rescale(to);
                assertThat(manifest.hasBaseChains()).as("seed %d, %d -> %d: references", seed, from, to).isTrue();
                assertThat(manifest.baseChains()).hasSize(to);
                assertMatchesModel(recover(to), to, "seed " + seed + ", recovered " + from + " -> " + to);
            }
        }
    }

    /** Writes with 2 cores, checkpoints, writes more, rescales to 4: the referenced file of old core 1. */
    private String rescaledWithReferences() throws Exception {
        var random = new Random(11);
        write(2, random, 150, true, 3);
        write(2, random, 40, false, 3);
        var manifest = rescale(4);
        var base = manifest.baseChains().get(CoreChains.name(3)).get(0);
        assertThat(base.core()).isEqualTo(1);
        assertThat(base.firstKeyGroup()).isEqualTo(24);
        assertThat(base.endKeyGroup()).isEqualTo(32);
        return base.stateFiles().get(0);
    }

    /** Where the store keeps {@code file}. */
    private Path physical(String file) throws IOException {
        try (var store = FileSystemCheckpointStore.open(dir.resolve("checkpoints"))) {
            return store.stateFile(file);
        }
    }

    private void assertRefusedNaming(String file) {
        assertThatThrownBy(() -> recover(4)).isInstanceOf(StorageException.class)
                .hasMessageContaining(file).hasMessageContaining("key groups 16 to 23 of old core 1 for core 2")
                .hasMessageContaining("key groups 24 to 31 of old core 1 for core 3");
    }

    @Test
    void aCorruptedReferencedFileIsRefusedNamingTheFileAndItsKeyGroups() throws Exception {
        var file = rescaledWithReferences();
        var path = physical(file);
        var bytes = Files.readAllBytes(path);
        bytes[bytes.length / 2] ^= 0x10;
        Files.write(path, bytes);
        assertRefusedNaming(file);
    }

    @Test
    void aTruncatedReferencedFileIsRefusedNamingTheFileAndItsKeyGroups() throws Exception {
        var file = rescaledWithReferences();
        try (var channel = Files.newByteChannel(physical(file), StandardOpenOption.WRITE)) {
            channel.truncate(channel.size() - 20);
        }
        assertThatThrownBy(() -> recover(4)).isInstanceOf(StorageException.class).hasMessageContaining(file);
    }

    @Test
    void aMissingReferencedFileIsRefusedNamingTheFile() throws Exception {
        var file = rescaledWithReferences();
        Files.delete(physical(file));
        assertThatThrownBy(() -> recover(4)).isInstanceOf(StorageException.class)
                .hasMessageContaining(file).hasMessageContaining("missing");
    }

    @Test
    void aRecoveryWithAnotherPlacementThanTheRescalesIsRefused() throws Exception {
        rescaledWithReferences();
        StatePlacement other = (key, keyGroups) -> Math.floorMod(java.util.Arrays.hashCode(key), keyGroups);
        try (var store = store(); var wal = PerCoreWalManager.open(walDir(), options(4))) {
            assertThatThrownBy(() -> new RecoveryManager(wal, store, RecoveryListener.NONE, RecoveryOptions.DEFAULTS,
                    other).recover()).isInstanceOf(StorageException.class)
                    .hasMessageContaining("Recover with the StatePlacement the rescale used");
        }
    }

    /** Every state file of the store is referenced by a retained manifest, and every referenced one exists. */
    private void assertRetentionKeepsExactlyTheReferencedFiles() throws IOException {
        try (var store = store()) {
            Set<String> referenced = new HashSet<>();
            for (long id : store.listCheckpoints()) {
                var manifest = store.readManifest(id).orElseThrow();
                manifest.files().forEach(ref -> referenced.add(ref.path()));
                manifest.baseChains().values().forEach(chains -> chains.forEach(c -> referenced.addAll(c.stateFiles())));
            }
            var present = new HashSet<>(store.listFiles());
            present.removeIf(path -> !path.startsWith("state/"));
            assertThat(present).isEqualTo(referenced);
        }
    }

    @Test
    void retentionAfterOneAndAfterTwoRescalesKeepsEveryReferencedFileAndDeletesTheRest() throws Exception {
        var random = new Random(5);
        write(2, random, 100, true, 2);
        write(2, random, 100, true, 2);
        write(2, random, 30, false, 2);
        var first = rescale(3);
        assertThat(first.hasBaseChains()).isTrue();
        // The first checkpoint after it is full; with 2 retained, the rescale's (and so the old files) stay.
        write(3, random, 20, true, 2);
        assertRetentionKeepsExactlyTheReferencedFiles();
        assertMatchesModel(recover(3), 3, "after one rescale and a checkpoint");
        write(3, random, 30, false, 2);
        var second = rescale(5);
        assertThat(second.hasBaseChains()).isTrue();
        write(5, random, 20, true, 2);
        assertRetentionKeepsExactlyTheReferencedFiles();
        write(5, random, 20, true, 2); // the second rescale's checkpoint and its references retire
        assertRetentionKeepsExactlyTheReferencedFiles();
        try (var store = store()) {
            for (long id : store.listCheckpoints()) {
                assertThat(store.readManifest(id).orElseThrow().hasBaseChains()).isFalse();
            }
        }
        assertMatchesModel(recover(5), 5, "after two rescales");
    }

    @Test
    void aRescaleOfARescaledCheckpointCompactsItIntoFullFiles() throws Exception {
        var random = new Random(9);
        write(4, random, 150, true, 3);
        write(4, random, 40, false, 3);
        var first = rescale(2);
        assertThat(first.hasBaseChains()).isTrue();
        write(2, random, 40, false, 3); // no checkpoint: the next rescale starts from the references
        var second = rescale(3);
        assertThat(second.hasBaseChains()).as("references to references are compacted").isFalse();
        assertThat(second.operators().get(CoreChains.name(0)).stateFiles().get(0)).endsWith("-full.lsf");
        assertMatchesModel(recover(3), 3, "4 -> 2 -> 3");
        write(3, random, 20, false, 3);
        assertMatchesModel(recover(3), 3, "4 -> 2 -> 3, then more writes");
    }

    @Test
    void aRolledBackRescaleDeletesOnlyItsOwnFiles() throws Exception {
        var random = new Random(3);
        write(2, random, 120, true, 3);
        write(2, random, 30, false, 3);
        Set<String> before;
        try (var store = store()) {
            before = new HashSet<>(store.listFiles());
            assertThatThrownBy(() -> Rescaler.open(walDir(), options(4), store, StatePlacement.BY_STORE_KEY, step -> {
                if (step == Rescaler.Step.CHECKPOINT_PUBLISHED) {
                    throw new IOException("crash after publishing");
                }
            })).hasMessageContaining("crash after publishing");
        }
        assertMatchesModel(recover(2), 2, "before the rollback, the old layout");
        try (var store = store()) {
            var opened = Rescaler.open(walDir(), options(2), store, StatePlacement.BY_STORE_KEY); // rolls back
            opened.wal().close();
            assertThat(new HashSet<>(store.listFiles())).isEqualTo(before);
        }
        assertMatchesModel(recover(2), 2, "after the rollback");
    }
}

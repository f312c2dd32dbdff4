package io.laminar.storage.checkpoint;

import static io.laminar.storage.checkpoint.CoreThreads.render;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.StorageException;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.laminar.storage.store.ForwardingCheckpointStore;
import io.laminar.storage.store.StateFileRef;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Recovery when the checkpoint store misbehaves: a store that cannot be read (throttled,
 * unreachable, access denied) stops recovery, it never makes a checkpoint look unusable; a
 * checkpoint whose content is damaged is skipped for an older one; and a new WAL never starts empty
 * over checkpoints it could not use. The store is a real file-system store, wrapped to fail.
 */
class RecoveryStoreFailureTest {

    private static final int CORES = 2;

    @TempDir
    Path tmp;
    FileSystemCheckpointStore store;
    /** The checkpoints machine A took, oldest first, and each core's state at each. */
    final List<CheckpointManifest> checkpoints = new ArrayList<>();
    final List<List<List<String>>> statesAt = new ArrayList<>();

    @BeforeEach
    void machineATakesTwoFullCheckpoints() throws IOException {
        store = FileSystemCheckpointStore.open(tmp.resolve("store"));
        try (var cores = new CoreThreads(tmp.resolve("a/wal"), CORES, null, null);
             var coordinator = StateCheckpointCoordinator.builder(cores.wal, cores.drainer, store)
                     .barrierTimeout(Duration.ofSeconds(10)).retainedCheckpoints(5)
                     .maxDeltas(0) // every checkpoint writes full files of its own
                     .build()) {
            for (int round = 0; round < 2; round++) {
                for (int i = 0; i < 40; i++) {
                    cores.putDurably(i % CORES, "r" + round + "k" + i, value(i + round));
                }
                checkpoints.add(coordinator.triggerCheckpoint().join());
                statesAt.add(List.of(render(cores.state(0)), render(cores.state(1))));
            }
        }
    }

    private static byte[] value(int i) {
        var v = new byte[300];
        Arrays.fill(v, (byte) i);
        return v;
    }

    private RecoveredState recover(Path walDir, CheckpointStore from) throws IOException {
        try (var wal = PerCoreWalManager.open(walDir, CoreThreads.walOptions(CORES))) {
            return new RecoveryManager(wal, from).recover();
        }
    }

    private static List<List<String>> states(RecoveredState recovered) {
        return List.of(render(recovered.coreStates().get(0)), render(recovered.coreStates().get(1)));
    }

    /** The state files only {@code manifest} references (every checkpoint here is full). */
    private static List<String> ownFiles(CheckpointManifest manifest) {
        var own = String.format("%020d", manifest.checkpointId());
        return manifest.files().stream().map(StateFileRef::path).filter(p -> p.contains(own)).toList();
    }

    /** Where a store read fails. */
    enum Failure {
        READ_MANIFEST, FILE_SIZE, OPEN_FILE, MID_READ
    }

    /** A store that, while {@code failing} is set, fails one kind of read as a throttled S3 would. */
    static final class UnreachableStore extends ForwardingCheckpointStore {
        volatile Failure failing;

        UnreachableStore(CheckpointStore delegate, Failure failing) {
            super(delegate);
            this.failing = failing;
        }

        private void maybeFail(Failure where, String what) throws IOException {
            if (failing == where) {
                throw new IOException("503 Slow Down (" + what + ")");
            }
        }

        @Override
        public Optional<CheckpointManifest> readManifest(long checkpointId) throws IOException {
            maybeFail(Failure.READ_MANIFEST, "manifest " + checkpointId);
            return delegate.readManifest(checkpointId);
        }

        @Override
        public Optional<Long> fileSize(String path) throws IOException {
            maybeFail(Failure.FILE_SIZE, path);
            return delegate.fileSize(path);
        }

        @Override
        public InputStream openFile(String path) throws IOException {
            maybeFail(Failure.OPEN_FILE, path);
            var in = delegate.openFile(path);
            if (failing != Failure.MID_READ) {
                return in;
            }
            return new FilterInputStream(in) {
                long read;

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    if (read >= 100) {
                        throw new IOException("503 Slow Down (reading " + path + " at byte " + read + ")");
                    }
                    int n = super.read(b, off, (int) Math.min(len, 100 - read));
                    read += Math.max(n, 0);
                    return n;
                }
            };
        }
    }

    @ParameterizedTest
    @EnumSource(Failure.class)
    void aStoreThatCannotBeReadStopsTheRecoveryOfANewMachineInsteadOfStartingItEmpty(Failure failure)
            throws Exception {
        var flaky = new UnreachableStore(store, failure);
        var dirB = tmp.resolve("b/wal");
        var newest = checkpoints.get(1);

        assertThatThrownBy(() -> recover(dirB, flaky)).isInstanceOf(StorageException.class)
                .hasMessageContaining("checkpoint " + newest.checkpointId())
                .hasMessageContaining(failure == Failure.READ_MANIFEST ? "its manifest" : "its state file "
                        + newest.files().get(0).path())
                .hasMessageContaining("503 Slow Down")
                .hasMessageContaining("once the store is reachable")
                .hasMessageContaining("delete its manifest")
                .hasRootCauseMessage(rootMessage(failure, flaky, newest));
        // Nothing was adopted: the WAL is as new as before, and the checkpoints are all still there.
        try (var wal = PerCoreWalManager.open(dirB, CoreThreads.walOptions(CORES))) {
            assertThat(wal.startPositions().toArray()).containsOnly(0);
            assertThat(wal.durablePositions().toArray()).containsOnly(0);
        }
        assertThat(store.listCheckpoints()).containsExactly(checkpoints.get(0).checkpointId(), newest.checkpointId());

        // Once the store answers again, the same directory restores the newest checkpoint exactly.
        flaky.failing = null;
        var restored = recover(dirB, flaky);
        assertThat(restored.report().checkpointId()).isEqualTo(newest.checkpointId());
        assertThat(restored.report().skipped()).isEmpty();
        assertThat(states(restored)).isEqualTo(statesAt.get(1));
    }

    private static String rootMessage(Failure failure, UnreachableStore flaky, CheckpointManifest newest) {
        var first = newest.files().get(0).path();
        return switch (failure) {
            case READ_MANIFEST -> "503 Slow Down (manifest " + newest.checkpointId() + ")";
            case FILE_SIZE, OPEN_FILE -> "503 Slow Down (" + first + ")";
            case MID_READ -> "503 Slow Down (reading " + first + " at byte 100)";
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"../../etc/passwd", "C:/Windows/win.ini", "state/x.lsf:stream"})
    void aManifestNamingAPathOutsideTheStoreIsSkippedEvenFromAStoreThatDoesNotCheckPaths(String path)
            throws Exception {
        var newest = checkpoints.get(1);
        var files = new ArrayList<>(newest.files());
        files.set(0, new StateFileRef(path, files.get(0).size(), files.get(0).crc32c()));
        var forged = new CheckpointManifest(newest.checkpointId(), newest.epoch(), newest.createdAt(),
                newest.walPositions(), newest.sources(), newest.operators(), files, newest.parentCheckpointId(),
                newest.stateBytes(), newest.writtenBytes(), newest.watermark(), newest.keyGroups());
        var lax = new ForwardingCheckpointStore(store) {
            @Override
            public Optional<CheckpointManifest> readManifest(long checkpointId) throws IOException {
                return checkpointId == forged.checkpointId() ? Optional.of(forged) : delegate.readManifest(checkpointId);
            }
        };

        var recovered = recover(tmp.resolve("a/wal"), lax);
        assertThat(recovered.report().checkpointId()).isEqualTo(checkpoints.get(0).checkpointId());
        assertThat(recovered.report().skipped()).singleElement().satisfies(skipped -> {
            assertThat(skipped.checkpointId()).isEqualTo(newest.checkpointId());
            assertThat(skipped.reason()).contains("outside the checkpoint store", "'" + path + "'");
        });
        assertThat(states(recovered)).isEqualTo(statesAt.get(1));
    }

    @Test
    void aStoreThatCannotBeReadAlsoStopsTheRecoveryOfAWalWithAHistory() {
        var flaky = new UnreachableStore(store, Failure.OPEN_FILE);

        // Falling back to the older checkpoint would work here, but only by luck: the store decides.
        assertThatThrownBy(() -> recover(tmp.resolve("a/wal"), flaky)).isInstanceOf(StorageException.class)
                .hasMessageContaining("checkpoint " + checkpoints.get(1).checkpointId())
                .hasMessageContaining("503 Slow Down");
    }

    @Test
    void aNewMachineRefusesToStartEmptyWhenTheStoreHoldsCheckpointsButNoneIsUsable() throws Exception {
        for (var checkpoint : checkpoints) {
            var file = store.stateFile(ownFiles(checkpoint).get(0));
            var bytes = Files.readAllBytes(file);
            bytes[bytes.length / 2] ^= 0x40;
            Files.write(file, bytes);
        }
        var dirB = tmp.resolve("b/wal");

        assertThatThrownBy(() -> recover(dirB, store)).isInstanceOf(StorageException.class)
                .hasMessageContaining(dirB.toString())
                .hasMessageContaining("checkpoint " + checkpoints.get(1).checkpointId() + ": its state file "
                        + ownFiles(checkpoints.get(1)).get(0))
                .hasMessageContaining("checkpoint " + checkpoints.get(0).checkpointId() + ": its state file "
                        + ownFiles(checkpoints.get(0)).get(0))
                .hasMessageContaining("CRC32C")
                .hasMessageContaining("delete their manifests");
        try (var wal = PerCoreWalManager.open(dirB, CoreThreads.walOptions(CORES))) {
            assertThat(wal.durablePositions().toArray()).containsOnly(0);
        }
    }

    @Test
    void aNewMachineSkipsACorruptCheckpointAndRestoresTheOlderOne() throws Exception {
        var newest = checkpoints.get(1);
        var damaged = ownFiles(newest).get(0);
        var file = store.stateFile(damaged);
        var bytes = Files.readAllBytes(file);
        bytes[bytes.length - 20] ^= 1; // inside the last entry's value
        Files.write(file, bytes);

        var restored = recover(tmp.resolve("b/wal"), store);

        assertThat(restored.report().checkpointId()).isEqualTo(checkpoints.get(0).checkpointId());
        assertThat(restored.report().skipped()).singleElement().satisfies(s -> {
            assertThat(s.checkpointId()).isEqualTo(newest.checkpointId());
            assertThat(s.reason()).contains(damaged, "CRC32C");
        });
        assertThat(states(restored)).isEqualTo(statesAt.get(0));
    }

    /**
     * A store whose every read of some paths returns their bytes with one bit flipped, {@code fromEnd}
     * bytes before the end, while the files it holds (and their sizes) are intact: as a download
     * damaged on the way. Recovery reads each state file once, so that read is the one parsed.
     */
    static final class DamagedInTransitStore extends ForwardingCheckpointStore {
        private final Set<String> paths;
        private final int fromEnd;

        DamagedInTransitStore(CheckpointStore delegate, Collection<String> paths, int fromEnd) {
            super(delegate);
            this.paths = Set.copyOf(paths);
            this.fromEnd = fromEnd;
        }

        @Override
        public InputStream openFile(String path) throws IOException {
            if (!paths.contains(path)) {
                return delegate.openFile(path);
            }
            byte[] bytes;
            try (var in = delegate.openFile(path)) {
                bytes = in.readAllBytes();
            }
            bytes[bytes.length - fromEnd] ^= 0x01;
            return new ByteArrayInputStream(bytes);
        }
    }

    @Test
    void aStateFileDamagedOnlyWhenItIsReadToBeParsedIsNeverRestored() throws Exception {
        var newest = checkpoints.get(1);
        // 20 bytes before the end lies in the last entry's value: the file still parses.
        var damaging = new DamagedInTransitStore(store, ownFiles(newest), 20);

        var restored = recover(tmp.resolve("b/wal"), damaging);

        assertThat(restored.report().skipped()).singleElement().satisfies(s -> {
            assertThat(s.checkpointId()).isEqualTo(newest.checkpointId());
            assertThat(s.reason()).contains(ownFiles(newest).get(0), "CRC32C", "corrupt");
        });
        assertThat(restored.report().checkpointId()).isEqualTo(checkpoints.get(0).checkpointId());
        assertThat(states(restored)).isEqualTo(statesAt.get(0));
    }
}

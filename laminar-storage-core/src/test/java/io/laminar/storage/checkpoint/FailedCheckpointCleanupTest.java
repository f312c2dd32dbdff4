package io.laminar.storage.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.laminar.storage.store.ForwardingCheckpointStore;
import io.laminar.storage.store.StateFileRef;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint that fails after writing state files deletes them when the failure is handled, never
 * a file a published manifest references; real files in a {@link FileSystemCheckpointStore}.
 */
class FailedCheckpointCleanupTest {

    @TempDir
    Path tmp;
    Path walDir;
    FileSystemCheckpointStore store;
    FaultyStore faulty;

    /** A store whose publishes, state file writes of one core, or deletions fail on demand. */
    static final class FaultyStore extends ForwardingCheckpointStore {
        /** Fail the publish; if {@link #landFirst}, after the manifest was published. */
        volatile boolean failPublish;
        volatile boolean landFirst;
        /** Fail the writes of state files whose path contains this, or null. */
        volatile String failWritesOf;
        volatile boolean failDeletes;
        /** The manifest of the last publish that failed. */
        final AtomicReference<CheckpointManifest> failedManifest = new AtomicReference<>();

        FaultyStore(CheckpointStore delegate) {
            super(delegate);
        }

        @Override
        public void publishManifest(CheckpointManifest manifest) throws IOException {
            if (!failPublish) {
                delegate.publishManifest(manifest);
                return;
            }
            failedManifest.set(manifest);
            if (landFirst) {
                delegate.publishManifest(manifest);
                throw new IOException("injected: the manifest of checkpoint " + manifest.checkpointId()
                        + " landed, but its answer was lost");
            }
            throw new IOException("injected: cannot publish checkpoint " + manifest.checkpointId());
        }

        @Override
        public StateFileRef writeFile(String path, ContentWriter content) throws IOException {
            var failing = failWritesOf;
            if (failing != null && path.contains(failing)) {
                throw new IOException("injected: cannot write " + path);
            }
            return delegate.writeFile(path, content);
        }

        @Override
        public void deleteFile(String path) throws IOException {
            if (failDeletes) {
                throw new IOException("injected: cannot delete " + path);
            }
            delegate.deleteFile(path);
        }
    }

    @BeforeEach
    void setUp() throws IOException {
        walDir = tmp.resolve("wal");
        store = FileSystemCheckpointStore.open(tmp.resolve("checkpoints"));
        faulty = new FaultyStore(store);
    }

    private StateCheckpointCoordinator coordinator(CoreThreads cores) {
        return StateCheckpointCoordinator.builder(cores.wal, cores.drainer, faulty)
                .barrierTimeout(Duration.ofSeconds(10)).retainedCheckpoints(10).build();
    }

    private static byte[] value(int i) {
        var v = new byte[300];
        java.util.Arrays.fill(v, (byte) i);
        return v;
    }

    /** Puts on both cores, so that the next checkpoint writes a file for each. */
    private static void putOnBothCores(CoreThreads cores, int round) {
        for (int i = 0; i < 20; i++) {
            cores.putDurably(i % 2, "r" + round + "k" + i, value(round + i));
        }
    }

    /** Every file some published manifest references. */
    private Set<String> referencedByPublishedManifests() throws IOException {
        var referenced = new HashSet<String>();
        for (long id : store.listCheckpoints()) {
            store.readManifest(id).orElseThrow().files().forEach(f -> referenced.add(f.path()));
        }
        return referenced;
    }

    /** The files of {@code manifest} that its own checkpoint wrote (named with its id). */
    private static List<String> ownFiles(CheckpointManifest manifest) {
        var own = String.format("%020d-", manifest.checkpointId());
        return manifest.files().stream().map(StateFileRef::path).filter(p -> p.contains(own)).toList();
    }

    private RecoveredState recover() throws IOException {
        try (var wal = PerCoreWalManager.open(walDir, CoreThreads.walOptions(2))) {
            return new RecoveryManager(wal, store).recover();
        }
    }

    @Test
    void aCheckpointWhosePublishFailsDeletesTheStateFilesItWroteAndKeepsThoseOfPublishedOnes() throws Exception {
        CheckpointManifest first;
        List<String> expected0;
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = coordinator(cores)) {
            putOnBothCores(cores, 0);
            first = coordinator.triggerCheckpoint().join();
            putOnBothCores(cores, 1);
            faulty.failPublish = true;
            assertThatThrownBy(() -> coordinator.triggerCheckpoint().join()).isInstanceOf(CompletionException.class)
                    .cause().hasMessageContaining("injected: cannot publish");
            // It wrote a delta per core on top of the first checkpoint's full files...
            var failed = faulty.failedManifest.get();
            assertThat(ownFiles(failed)).hasSize(2);
            assertThat(failed.files()).hasSize(4);
            // ...and deleted its own right away; the first checkpoint's files, which its chains reuse, stay.
            assertThat(store.listCheckpoints()).containsExactly(first.checkpointId());
            assertThat(store.listFiles()).containsExactlyInAnyOrderElementsOf(referencedByPublishedManifests())
                    .doesNotContainAnyElementsOf(ownFiles(failed));
            faulty.failPublish = false;
            cores.putDurably(0, "after", value(7));
            expected0 = CoreThreads.render(cores.state(0));
        }
        var recovered = recover();
        assertThat(recovered.report().checkpointId()).isEqualTo(first.checkpointId());
        assertThat(recovered.report().skipped()).isEmpty();
        assertThat(CoreThreads.render(recovered.coreStates().get(0))).isEqualTo(expected0);
    }

    @Test
    void aCheckpointThatFailsWritingAStateFileDeletesTheFilesItWroteBefore() throws Exception {
        CheckpointManifest first;
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = coordinator(cores)) {
            putOnBothCores(cores, 0);
            first = coordinator.triggerCheckpoint().join();
            putOnBothCores(cores, 1);
            var before = new HashSet<>(store.listFiles());
            // Core 0's file is written before core 1's: failing core 1 leaves core 0's delta on disk.
            faulty.failWritesOf = "core-0001/";
            assertThatThrownBy(() -> coordinator.triggerCheckpoint().join()).isInstanceOf(CompletionException.class)
                    .cause().hasMessageContaining("injected: cannot write state/core-0001/");
            assertThat(store.listFiles()).containsExactlyInAnyOrderElementsOf(before);
            faulty.failWritesOf = null;
            putOnBothCores(cores, 2);
            var next = coordinator.triggerCheckpoint().join();
            assertThat(next.checkpointId()).isGreaterThan(first.checkpointId() + 1);
        }
        var recovered = recover();
        assertThat(recovered.report().skipped()).isEmpty();
    }

    @Test
    void aManifestThatLandedAlthoughItsPublishThrewKeepsItsFilesAndRecoveryUsesIt() throws Exception {
        CheckpointManifest landed;
        List<String> expected1;
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = coordinator(cores)) {
            putOnBothCores(cores, 0);
            coordinator.triggerCheckpoint().join();
            putOnBothCores(cores, 1);
            faulty.failPublish = true;
            faulty.landFirst = true;
            assertThatThrownBy(() -> coordinator.triggerCheckpoint().join()).isInstanceOf(CompletionException.class)
                    .cause().hasMessageContaining("answer was lost");
            landed = faulty.failedManifest.get();
            // The store shows it published: every file it references stays.
            assertThat(store.listCheckpoints()).contains(landed.checkpointId());
            assertThat(store.listFiles()).containsAll(landed.files().stream().map(StateFileRef::path).toList());
            expected1 = CoreThreads.render(cores.state(1));
        }
        var recovered = recover();
        assertThat(recovered.report().checkpointId()).isEqualTo(landed.checkpointId());
        assertThat(recovered.report().skipped()).isEmpty();
        assertThat(CoreThreads.render(recovered.coreStates().get(1))).isEqualTo(expected1);
    }

    @Test
    void aDeletionThatFailsDuringTheCleanupIsSuppressedOnTheOriginalFailureAndTheNextCheckpointRetriesIt()
            throws Exception {
        var failures = new CopyOnWriteArrayList<Throwable>();
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = coordinator(cores)) {
            coordinator.addListener(new CheckpointListener() {
                @Override
                public void failed(long checkpointId, Throwable cause) {
                    failures.add(cause);
                }
            });
            putOnBothCores(cores, 0);
            coordinator.triggerCheckpoint().join();
            putOnBothCores(cores, 1);
            faulty.failPublish = true;
            faulty.failDeletes = true;
            assertThatThrownBy(() -> coordinator.triggerCheckpoint().join()).isInstanceOf(CompletionException.class)
                    .cause().hasMessageContaining("injected: cannot publish")
                    .satisfies(e -> assertThat(e.getSuppressed()).singleElement().asString()
                            .contains("injected: cannot delete state/core-000"));
            assertThat(failures).singleElement().asString().contains("injected: cannot publish");
            var leftOver = ownFiles(faulty.failedManifest.get());
            assertThat(store.listFiles()).containsAll(leftOver);
            faulty.failPublish = false;
            faulty.failDeletes = false;
            putOnBothCores(cores, 2);
            coordinator.triggerCheckpoint().join();
            assertThat(store.listFiles()).containsExactlyInAnyOrderElementsOf(referencedByPublishedManifests())
                    .doesNotContainAnyElementsOf(leftOver);
        }
        assertThat(recover().report().skipped()).isEmpty();
    }
}

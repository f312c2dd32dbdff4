package io.laminar.storage.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.laminar.storage.store.ForwardingCheckpointStore;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fenced owner's orphan cleanup and retention never choose a file of a newer owner: state files
 * carry their writer's owner epoch in their names. The deletes here bypass the owner check (as a
 * zombie's delete that passed its check before the claim does on S3), so only the choice protects.
 */
class OwnerEpochCleanupTest {

    @TempDir
    Path dir;

    /** A zombie's store: it claimed {@code epoch}, and its deletes land as if they had passed the check. */
    private static final class ZombieStore extends ForwardingCheckpointStore {
        private final CheckpointStore unchecked;
        private final long epoch;
        final List<String> deleted = new ArrayList<>();

        ZombieStore(CheckpointStore claimed, CheckpointStore unchecked) {
            super(claimed);
            this.unchecked = unchecked;
            this.epoch = claimed.ownerEpoch();
        }

        @Override
        public long ownerEpoch() {
            return epoch;
        }

        @Override
        public void deleteFile(String path) throws IOException {
            deleted.add(path);
            unchecked.deleteFile(path);
        }

        @Override
        public void deleteManifest(long checkpointId) throws IOException {
            unchecked.deleteManifest(checkpointId);
        }
    }

    @Test
    void aFencedOwnersCleanupDeletesOnlyFilesOfItsOwnOrOlderEpochs() throws Exception {
        var root = dir.resolve("store");
        try (var old = FileSystemCheckpointStore.open(root); var zombieClaim = FileSystemCheckpointStore.open(root);
                var newOwner = FileSystemCheckpointStore.open(root); var raw = FileSystemCheckpointStore.open(root)) {
            old.claimOwnership(); // epoch 1
            zombieClaim.claimOwnership(); // epoch 2: the zombie
            long mine = newOwner.claimOwnership(); // epoch 3 takes over
            var olderOrphan = CoreChains.stateFilePath(0, 4, true, 1);
            var untaggedOrphan = CoreChains.stateFilePath(0, 5, true);
            var zombieOrphan = CoreChains.stateFilePath(0, 6, false, 2);
            // The new owner's files of the checkpoint it is taking: not published yet, so unreferenced.
            var newOwners = List.of(CoreChains.stateFilePath(0, 7, true, mine), CoreChains.stateFilePath(1, 7, true, mine));
            for (var path : List.of(olderOrphan, untaggedOrphan, zombieOrphan, newOwners.get(0), newOwners.get(1))) {
                raw.writeFile(path, new ByteArrayInputStream(path.getBytes()));
            }
            assertThat(newOwners.get(0)).endsWith("00000000000000000007-e3-full.lsf");

            var zombie = new ZombieStore(zombieClaim, raw);
            var files = new IncrementalCheckpointManager(zombie, 1, 4, 0.5);
            files.deleteOrphans();
            assertThat(zombie.deleted).containsExactlyInAnyOrder(olderOrphan, untaggedOrphan, zombieOrphan);
            assertThat(raw.listFiles()).containsExactlyInAnyOrderElementsOf(newOwners);
            // The next id above the new owner's files too: ids never collide with a tagged name.
            assertThat(files.nextCheckpointId()).isEqualTo(8);

            // The new owner's own cleanup deletes every unreferenced file up to its epoch, its own included.
            new IncrementalCheckpointManager(newOwner, 1, 4, 0.5).deleteOrphans();
            assertThat(raw.listFiles()).isEmpty();
        }
    }
}

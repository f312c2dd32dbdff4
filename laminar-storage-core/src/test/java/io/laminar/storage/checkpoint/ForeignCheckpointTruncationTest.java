package io.laminar.storage.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two machines writing checkpoints into one store (which the docs forbid, but a rolling update onto
 * a new volume makes likely): a manifest of the other machine names positions in the other WAL and
 * must never bound the truncation of this one.
 */
class ForeignCheckpointTruncationTest {

    private static final int CORES = 2;

    @TempDir
    Path dir;

    @Test
    void truncationIgnoresARetainedCheckpointTakenWithAnotherWalAndKeepsEveryAcknowledgedRecord() throws Exception {
        var walDir = dir.resolve("wal");
        var store = FileSystemCheckpointStore.open(dir.resolve("store"));
        var value = new byte[1024];
        int written;
        try (var cores = new CoreThreads(walDir, CORES, null, null)) {
            for (written = 0; written < 20; written++) {
                cores.putDurably(written % CORES, "k" + written, value);
            }
            // The other machine's checkpoints: ids around this machine's next one, positions that
            // name no barrier here (epoch 999 is never reached in this test).
            store.publishManifest(foreign(5, List.of(0L, 0L)));

            int[] next = {written};
            try (var coordinator = StateCheckpointCoordinator.builder(cores.wal, cores.drainer, store)
                    .retainedCheckpoints(3)
                    .stepObserver(step -> {
                        if (step == CheckpointStep.MANIFEST_PUBLISHED) {
                            // Acknowledged records past this checkpoint's barrier, over several
                            // segments; no checkpoint of this machine holds them yet. Then the other
                            // machine publishes a checkpoint whose positions lie just before this WAL's end.
                            for (int i = 0; i < 300; i++, next[0]++) {
                                cores.putDurably(next[0] % CORES, "k" + next[0], value);
                            }
                            var end = new ArrayList<Long>();
                            for (int core = 0; core < CORES; core++) {
                                end.add(cores.wal.durablePosition(core) - (64 << 10)); // before the last record
                            }
                            try {
                                store.publishManifest(foreign(3, end));
                            } catch (java.io.IOException e) {
                                throw new java.io.UncheckedIOException(e);
                            }
                        }
                    }).build()) {
                var own = coordinator.triggerCheckpoint().join();
                assertThat(own.checkpointId()).isEqualTo(6);
                var start = cores.wal.startPositions();
                for (int core = 0; core < CORES; core++) {
                    assertThat(start.position(core)).isLessThanOrEqualTo(own.walPositions().get(core));
                }
            }
            written = next[0];
        }

        try (var wal = PerCoreWalManager.open(walDir, CoreThreads.walOptions(CORES))) {
            var recovered = new RecoveryManager(wal, store).recover();
            assertThat(recovered.report().checkpointId()).isEqualTo(6L);
            long keys = 0;
            for (var state : recovered.coreStates()) {
                keys += CoreThreads.render(state).size();
            }
            assertThat(keys).isEqualTo(written);
        }
    }

    private static CheckpointManifest foreign(long id, List<Long> positions) {
        return new CheckpointManifest(id, 999, Instant.now(), positions, Map.of(), Map.of(), List.of(), null, 0, 0,
                Long.MIN_VALUE);
    }
}

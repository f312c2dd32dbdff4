package io.laminar.storage.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.laminar.storage.store.ForwardingCheckpointStore;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Orphan cleanup (which retention runs after every checkpoint) deletes state files
 * {@link CheckpointStore#concurrentFileWrites()} at a time, as an object store wants its round trips
 * overlapped, and a delete that fails stops it without losing track of what is left.
 */
class ParallelOrphanCleanupTest {

    @TempDir
    Path dir;

    /** A store that says it takes two file operations at once, and counts its deletes in flight. */
    private static class TwoAtOnceStore extends ForwardingCheckpointStore {
        final AtomicInteger inFlight = new AtomicInteger();
        final AtomicInteger mostInFlight = new AtomicInteger();
        final Set<String> threads = ConcurrentHashMap.newKeySet();

        TwoAtOnceStore(CheckpointStore delegate) {
            super(delegate);
        }

        @Override
        public int concurrentFileWrites() {
            return 2;
        }

        @Override
        public void deleteFile(String path) throws IOException {
            threads.add(Thread.currentThread().getName());
            mostInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
            try {
                beforeDelete(path);
                super.deleteFile(path);
            } finally {
                inFlight.decrementAndGet();
            }
        }

        void beforeDelete(String path) throws IOException {
        }
    }

    private static List<String> writeOrphans(CheckpointStore store, int count) throws IOException {
        var paths = new ArrayList<String>();
        for (int i = 0; i < count; i++) {
            var path = CoreChains.stateFilePath(i % 2, 10 + i, true);
            store.writeFile(path, new ByteArrayInputStream(path.getBytes()));
            paths.add(path);
        }
        return paths;
    }

    @Test
    void orphansAreDeletedTwoAtATimeOnTheirOwnThreads() throws Exception {
        try (var fs = FileSystemCheckpointStore.open(dir.resolve("store"))) {
            writeOrphans(fs, 6);
            // The first two deletes wait for each other: they meet only if they run at once.
            var firstTwo = new CyclicBarrier(2);
            var calls = new AtomicInteger();
            var store = new TwoAtOnceStore(fs) {
                @Override
                void beforeDelete(String path) {
                    if (calls.incrementAndGet() <= 2) {
                        try {
                            firstTwo.await(10, TimeUnit.SECONDS);
                        } catch (Exception e) {
                            // one at a time: the assertion on mostInFlight below says so
                        }
                    }
                }
            };

            assertThat(new IncrementalCheckpointManager(store, 1, 4, 0.5).deleteOrphans()).isEqualTo(6);

            assertThat(fs.listFiles()).isEmpty();
            assertThat(store.mostInFlight).hasValue(2);
            assertThat(store.threads).allSatisfy(name -> assertThat(name).startsWith("laminar-checkpoint-delete-"));
        }
    }

    @Test
    void aFailedDeleteIsThrownAndWhatItDidNotDeleteStaysForTheNextCleanup() throws Exception {
        try (var fs = FileSystemCheckpointStore.open(dir.resolve("store"))) {
            var orphans = writeOrphans(fs, 5);
            var failing = orphans.get(2);
            var store = new TwoAtOnceStore(fs) {
                @Override
                void beforeDelete(String path) throws IOException {
                    if (path.equals(failing)) {
                        throw new IOException("the store refused to delete " + path);
                    }
                }
            };

            assertThatThrownBy(() -> new IncrementalCheckpointManager(store, 1, 4, 0.5).deleteOrphans())
                    .isInstanceOf(IOException.class).hasMessageContaining("refused to delete " + failing);
            assertThat(store.inFlight).as("no delete is still under way when the cleanup throws").hasValue(0);
            assertThat(fs.listFiles()).contains(failing);

            // The next cleanup, with the store working again, deletes what is left.
            int left = fs.listFiles().size();
            assertThat(new IncrementalCheckpointManager(fs, 1, 4, 0.5).deleteOrphans()).isEqualTo(left);
            assertThat(fs.listFiles()).isEmpty();
        }
    }
}

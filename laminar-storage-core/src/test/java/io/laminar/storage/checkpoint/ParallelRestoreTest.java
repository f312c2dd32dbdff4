package io.laminar.storage.checkpoint;

import static io.laminar.storage.checkpoint.CoreThreads.render;
import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.laminar.storage.store.ForwardingCheckpointStore;
import io.laminar.storage.store.StateFileRef;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The parallel restore ({@link ChainRestorer}) through {@link RecoveryManager#recover()}: files of
 * different cores and the deltas of one chain read at the same time, progress that adds up to the
 * real files, no deadlock with one thread of each kind and files larger than a pipe holds, and no
 * thread left behind after a success or a fallback.
 */
class ParallelRestoreTest {

    @TempDir
    Path tmp;
    Path walDir;
    FileSystemCheckpointStore store;
    CheckpointManifest manifest;
    List<String> expected0;
    List<String> expected1;

    @BeforeEach
    void setUp() throws IOException {
        walDir = tmp.resolve("wal");
        store = FileSystemCheckpointStore.open(tmp.resolve("checkpoints"));
    }

    /**
     * Two cores, each with a chain of a full file of about 1.6 MB (more than a file's pipe holds) and
     * two deltas; then WAL records after the last checkpoint. Returns the manifests, oldest first.
     */
    private List<CheckpointManifest> takeCheckpoints() {
        var manifests = new ArrayList<CheckpointManifest>();
        var random = new Random(42);
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = StateCheckpointCoordinator.builder(cores.wal, cores.drainer, store)
                     .barrierTimeout(Duration.ofSeconds(10)).retainedCheckpoints(5).build()) {
            for (int core = 0; core < 2; core++) {
                var values = new ArrayList<byte[]>();
                for (int i = 0; i < 400; i++) {
                    var v = new byte[4096];
                    random.nextBytes(v);
                    values.add(v);
                }
                cores.run(core, s -> {
                    for (int i = 0; i < values.size(); i++) {
                        s.put(("k" + i).getBytes(), values.get(i));
                    }
                    return null;
                }).join();
                cores.putDurably(core, "last", new byte[] {1});
            }
            manifests.add(coordinator.triggerCheckpoint().join());
            for (int round = 1; round < 3; round++) {
                for (int i = 0; i < 6; i++) {
                    cores.putDurably(i % 2, "k" + (round * 50 + i), new byte[300]);
                }
                cores.deleteDurably(round % 2, "k" + round);
                manifests.add(coordinator.triggerCheckpoint().join());
            }
            for (int i = 0; i < 20; i++) {
                cores.putDurably(i % 2, "after" + i, new byte[100]);
            }
            expected0 = render(cores.state(0));
            expected1 = render(cores.state(1));
        }
        manifest = manifests.get(manifests.size() - 1);
        assertThat(manifest.operators().get("core-0000").stateFiles()).hasSize(3);
        assertThat(manifest.operators().get("core-0001").stateFiles()).hasSize(3);
        return manifests;
    }

    private RecoveredState recover(CheckpointStore from, RecoveryListener listener, RecoveryOptions options)
            throws IOException {
        try (var wal = PerCoreWalManager.open(walDir, CoreThreads.walOptions(2))) {
            return new RecoveryManager(wal, from, listener, options).recover();
        }
    }

    @Test
    void theFilesOfEveryCoreAndTheDeltasOfOneChainAreReadAtTheSameTime() throws Exception {
        takeCheckpoints();
        int files = manifest.files().size();
        var opened = new CountDownLatch(files);
        var openers = ConcurrentHashMap.<String>newKeySet();
        // The first read of any file waits until every file of the checkpoint is open: read one
        // after the other, the restore would stall here and fail.
        var gated = new ForwardingCheckpointStore(store) {
            @Override
            public InputStream openFile(String path) throws IOException {
                openers.add(Thread.currentThread().getName());
                var in = delegate.openFile(path);
                opened.countDown();
                return new FilterInputStream(in) {
                    boolean waited;

                    @Override
                    public int read(byte[] b, int off, int len) throws IOException {
                        if (!waited) {
                            waited = true;
                            try {
                                if (!opened.await(30, TimeUnit.SECONDS)) {
                                    throw new IOException("only " + (files - opened.getCount()) + " of " + files
                                            + " files were opened while " + path + " was being read");
                                }
                            } catch (InterruptedException e) {
                                throw new java.io.InterruptedIOException();
                            }
                        }
                        return in.read(b, off, len);
                    }
                };
            }
        };

        var recovered = recover(gated, RecoveryListener.NONE,
                RecoveryOptions.builder().fetchThreads(files).parseThreads(2).build());

        assertThat(recovered.report().checkpointId()).isEqualTo(manifest.checkpointId());
        assertThat(render(recovered.coreStates().get(0))).isEqualTo(expected0);
        assertThat(render(recovered.coreStates().get(1))).isEqualTo(expected1);
        assertThat(openers).allSatisfy(name -> assertThat(name).startsWith("laminar-restore-fetch-"));
        assertThat(openers).hasSizeGreaterThanOrEqualTo(files);
    }

    @Test
    void oneThreadOfEachKindRestoresChainsLargerThanAPipeHoldsWithoutDeadlock() throws Exception {
        takeCheckpoints();
        assertThat(manifest.files()).anySatisfy(f -> assertThat(f.size())
                .isGreaterThan((long) ChainRestorer.CHUNK * ChainRestorer.CHUNKS_PER_FILE));

        var recovered = recover(store, RecoveryListener.NONE,
                RecoveryOptions.builder().fetchThreads(1).parseThreads(1).build());

        assertThat(recovered.report().checkpointId()).isEqualTo(manifest.checkpointId());
        assertThat(render(recovered.coreStates().get(0))).isEqualTo(expected0);
        assertThat(render(recovered.coreStates().get(1))).isEqualTo(expected1);
    }

    @Test
    void progressAddsUpToTheStateFilesRestoredAndTheWalReplayed() throws Exception {
        takeCheckpoints();
        long stateFileBytes = 0;
        for (var ref : manifest.files()) {
            stateFileBytes += Files.size(store.stateFile(ref.path()));
        }
        var events = new CopyOnWriteArrayList<Object>();
        var listener = new RecoveryListener() {
            @Override
            public void restoreStarted(long checkpointId) {
                events.add("restoreStarted");
            }

            @Override
            public void restoreEnded(long checkpointId, String skipReason) {
                events.add("restoreEnded");
            }

            @Override
            public void replayStarted(Long checkpointId) {
                events.add("replayStarted");
            }

            @Override
            public void replayEnded(long records, long bytes) {
                events.add("replayEnded");
            }

            @Override
            public void progress(RecoveryProgress progress) {
                events.add(progress);
            }
        };
        // Slow reads (16 KiB, 2 ms each), so that reports come while the files are still being read.
        var slow = new ForwardingCheckpointStore(store) {
            @Override
            public InputStream openFile(String path) throws IOException {
                return new FilterInputStream(delegate.openFile(path)) {
                    @Override
                    public int read(byte[] b, int off, int len) throws IOException {
                        try {
                            Thread.sleep(2);
                        } catch (InterruptedException e) {
                            throw new java.io.InterruptedIOException();
                        }
                        return in.read(b, off, Math.min(len, 16 * 1024));
                    }
                };
            }
        };

        var recovered = recover(slow, listener, RecoveryOptions.builder().fetchThreads(2)
                .progressInterval(Duration.ofMillis(5)).build());

        var restore = progressOf(events, RecoveryProgress.Phase.RESTORE);
        var replay = progressOf(events, RecoveryProgress.Phase.REPLAY);
        // Every restore report comes between restoreStarted and restoreEnded, every replay report
        // between replayStarted and replayEnded.
        int restoreFrom = events.indexOf("restoreStarted");
        int restoreTo = events.indexOf("restoreEnded");
        int replayFrom = events.indexOf("replayStarted");
        int replayTo = events.indexOf("replayEnded");
        for (var p : restore) {
            assertThat(events.indexOf(p)).isBetween(restoreFrom, restoreTo);
        }
        for (var p : replay) {
            assertThat(events.indexOf(p)).isBetween(replayFrom, replayTo);
        }
        assertThat(restore).hasSizeGreaterThan(1).allSatisfy(p -> {
            assertThat(p.checkpointId()).isEqualTo(manifest.checkpointId());
            assertThat(p.bytesTotal()).isEqualTo(manifest.files().stream().mapToLong(StateFileRef::size).sum());
            assertThat(p.filesTotal()).isEqualTo(manifest.files().size());
            assertThat(p.bytesDone()).isBetween(0L, p.bytesTotal());
            assertThat(p.filesDone()).isBetween(0, p.filesTotal());
        });
        for (int i = 1; i < restore.size(); i++) {
            assertThat(restore.get(i).bytesDone()).isGreaterThanOrEqualTo(restore.get(i - 1).bytesDone());
            assertThat(restore.get(i).filesDone()).isGreaterThanOrEqualTo(restore.get(i - 1).filesDone());
        }
        assertThat(restore.get(0).bytesDone()).as("a report while the files are read").isLessThan(stateFileBytes);
        var lastRestore = restore.get(restore.size() - 1);
        assertThat(lastRestore.bytesDone()).as("the bytes of the files on disk").isEqualTo(stateFileBytes);
        assertThat(lastRestore.filesDone()).isEqualTo(manifest.files().size());
        assertThat(lastRestore.complete()).isTrue();
        assertThat(lastRestore.eta()).isEqualTo(Duration.ZERO);
        assertThat(lastRestore.bytesPerSecond()).isPositive();

        var lastReplay = replay.get(replay.size() - 1);
        assertThat(recovered.report().bytesReplayed()).isPositive();
        assertThat(lastReplay.bytesDone()).isEqualTo(recovered.report().bytesReplayed());
        assertThat(lastReplay.bytesTotal()).isEqualTo(recovered.report().bytesReplayed());
        assertThat(lastReplay.checkpointId()).isEqualTo(manifest.checkpointId());
        assertThat(render(recovered.coreStates().get(0))).isEqualTo(expected0);
    }

    @Test
    void aCorruptDeltaFallsBackToTheOlderCheckpointAndLeavesNoRestoreThreadBehind() throws Exception {
        var manifests = takeCheckpoints();
        // The newest checkpoint's own delta of core 1, one bit flipped in its middle.
        var delta = manifest.operators().get("core-0001").stateFiles().get(2);
        var file = store.stateFile(delta);
        var bytes = Files.readAllBytes(file);
        bytes[bytes.length / 2] ^= 0x10;
        Files.write(file, bytes);

        var recovered = recover(store, RecoveryListener.NONE, RecoveryOptions.builder().fetchThreads(4).build());

        assertThat(recovered.report().skipped()).singleElement().satisfies(s -> {
            assertThat(s.checkpointId()).isEqualTo(manifest.checkpointId());
            assertThat(s.reason()).contains(delta, "CRC32C");
        });
        var older = manifests.get(manifests.size() - 2);
        assertThat(recovered.report().checkpointId()).isEqualTo(older.checkpointId());
        // The WAL replay from the older checkpoint brings the newest state back all the same.
        assertThat(render(recovered.coreStates().get(0))).isEqualTo(expected0);
        assertThat(render(recovered.coreStates().get(1))).isEqualTo(expected1);
        assertThat(restoreThreads()).isEmpty();
    }

    private static Set<String> restoreThreads() {
        var names = new java.util.TreeSet<String>();
        for (var t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("laminar-restore-") && t.isAlive()) {
                names.add(t.getName());
            }
        }
        return names;
    }

    private static List<RecoveryProgress> progressOf(List<Object> events, RecoveryProgress.Phase phase) {
        return events.stream().filter(e -> e instanceof RecoveryProgress p && p.phase() == phase)
                .map(RecoveryProgress.class::cast).toList();
    }
}

package io.laminar.storage.checkpoint;

import static io.laminar.storage.checkpoint.CoreThreads.render;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.StorageException;
import io.laminar.storage.percore.CheckpointTimeoutException;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.state.StateEntry;
import io.laminar.storage.state.StateSnapshot;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.ConnectorCheckpoint;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.laminar.storage.store.ForgedManifests;
import io.laminar.storage.store.ForwardingCheckpointStore;
import io.laminar.storage.store.ManifestCodec;
import io.laminar.storage.store.OperatorCheckpoint;
import io.laminar.storage.store.StateFileRef;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointRecoveryTest {

    @TempDir
    Path tmp;
    Path walDir;
    FileSystemCheckpointStore store;

    @BeforeEach
    void setUp() throws IOException {
        walDir = tmp.resolve("wal");
        store = FileSystemCheckpointStore.open(tmp.resolve("checkpoints"));
    }

    private StateCheckpointCoordinator.Builder coordinator(CoreThreads cores) {
        return StateCheckpointCoordinator.builder(cores.wal, cores.drainer, store)
                .barrierTimeout(Duration.ofSeconds(10));
    }

    private static byte[] value(int i) {
        var v = new byte[300];
        java.util.Arrays.fill(v, (byte) i);
        return v;
    }

    private RecoveredState recover() throws IOException {
        try (var wal = PerCoreWalManager.open(walDir, CoreThreads.walOptions(2))) {
            return new RecoveryManager(wal, store).recover();
        }
    }

    @Test
    void aCheckpointHoldsTheStateAtEachCoresBarrierAndRecoveryReplaysTheRest() throws Exception {
        List<String> expected0;
        List<String> expected1;
        CheckpointManifest manifest;
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = coordinator(cores).build()) {
            for (int i = 0; i < 50; i++) {
                cores.putDurably(i % 2, "k" + i, value(i));
            }
            manifest = coordinator.triggerCheckpoint().join();
            for (int i = 50; i < 80; i++) {
                cores.putDurably(i % 2, "k" + (i % 60), value(i));
            }
            cores.deleteDurably(0, "k0");
            expected0 = render(cores.state(0));
            expected1 = render(cores.state(1));
        }
        var recovered = recover();
        assertThat(recovered.report().checkpointId()).isEqualTo(manifest.checkpointId());
        assertThat(recovered.report().adoptedCheckpoint()).as("a checkpoint of this WAL's own").isFalse();
        assertThat(recovered.epoch()).isEqualTo(manifest.epoch());
        assertThat(render(recovered.coreStates().get(0))).isEqualTo(expected0);
        assertThat(render(recovered.coreStates().get(1))).isEqualTo(expected1);
        // The checkpoint holds exactly the first 25 operations of each core: the replay adds the rest.
        assertThat(recovered.sources().get("core-0000").offsets()).containsEntry("ops", "25");
        assertThat(recovered.sources().get("core-0001").offsets()).containsEntry("ops", "25");
        assertThat(recovered.report().recordsReplayedPerCore()).containsExactly(16L, 15L);
        assertThat(recovered.report().skipped()).isEmpty();
    }

    @Test
    void operatorStatesAndTheWatermarkAreThoseEachCoreReportedAtItsCut() throws Exception {
        CheckpointManifest manifest;
        CheckpointManifest custom;
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = coordinator(cores).build()) {
            for (int i = 0; i < 7; i++) {
                cores.putDurably(0, "k" + i, value(i));
            }
            cores.putDurably(1, "k", value(1));
            manifest = coordinator.triggerCheckpoint().join();
            cores.putDurably(1, "k", value(2)); // after the cut: in neither the state nor the context
        }
        // Core 0 cut after 7 operations, core 1 after 1: the context each reported is exactly there.
        assertThat(manifest.operators().get("core-0000/counter").inline()).asString().isEqualTo("7");
        assertThat(manifest.operators().get("core-0001/counter").inline()).asString().isEqualTo("1");
        assertThat(manifest.watermark()).isEqualTo(1007L); // the lower of 1007 and 2001
        var recovered = recover();
        assertThat(recovered.watermark()).isEqualTo(1007L);
        assertThat(recovered.operators().get("core-0001/counter").inline()).asString().isEqualTo("1");

        try (var cores = new CoreThreads(walDir, 2, recovered.coreStates(), operations(recovered));
             var coordinator = coordinator(cores).resumeFrom(recovered)
                     .operators(cuts -> Map.of("total", new OperatorCheckpoint(Long.toString(cuts.stream()
                             .mapToLong(c -> Long.parseLong(c.sourceOffsets().get("ops"))).sum()).getBytes(),
                             List.of())))
                     .watermark(cuts -> cuts.stream().mapToLong(c -> c.watermark()).max().orElseThrow())
                     .build()) {
            custom = coordinator.triggerCheckpoint().join();
        }
        assertThat(custom.operators().get("total").inline()).asString().isEqualTo("9"); // 7 + 2
        assertThat(custom.watermark()).isEqualTo(2002L);
        assertThat(custom.operators()).containsKeys("core-0000", "core-0001").doesNotContainKey("core-0000/counter");
    }

    @Test
    void laterCheckpointsWriteOnlyTheDeltaAndAFullFileOnceTheChainIsLong() throws Exception {
        var manifests = new ArrayList<CheckpointManifest>();
        List<String> expected0;
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = coordinator(cores).maxDeltas(2).retainedCheckpoints(10).build()) {
            for (int i = 0; i < 40; i++) {
                cores.putDurably(0, "k" + i, value(i));
            }
            cores.putDurably(1, "only", value(1));
            manifests.add(coordinator.triggerCheckpoint().join());
            assertThat(manifests.get(0).stateBytes()).isEqualTo(logicalBytes(cores));
            for (int round = 0; round < 4; round++) {
                cores.putDurably(0, "k" + round, value(100 + round));
                cores.putDurably(0, "new" + round, value(round)); // grows the state
                cores.deleteDurably(0, "k" + (30 + round)); // shrinks it
                manifests.add(coordinator.triggerCheckpoint().join());
                // The logical size of the whole state, however little this checkpoint wrote.
                assertThat(manifests.get(round + 1).stateBytes()).isEqualTo(logicalBytes(cores));
                assertThat(manifests.get(round + 1).writtenBytes()).isEqualTo(writtenBytes(manifests.get(round + 1)));
            }
            expected0 = render(cores.state(0));
        }
        var chain = manifests.stream().map(m -> m.operators().get("core-0000").stateFiles()).toList();
        assertThat(chain.get(0)).hasSize(1).allMatch(p -> p.endsWith("-full.lsf"));
        assertThat(chain.get(1)).hasSize(2).last().matches(p -> ((String) p).endsWith("-delta.lsf"));
        assertThat(chain.get(2)).hasSize(3);
        assertThat(chain.get(3)).hasSize(1).allMatch(p -> p.endsWith("-full.lsf")); // the chain reached maxDeltas
        assertThat(chain.get(4)).hasSize(2);
        // Core 1 did not change: its chain stays the first full file and nothing is rewritten.
        assertThat(manifests.get(2).operators().get("core-0001").stateFiles())
                .isEqualTo(manifests.get(0).operators().get("core-0001").stateFiles());
        assertThat(manifests.get(1).writtenBytes()).isLessThan(manifests.get(0).writtenBytes() / 5);
        assertThat(manifests.get(1).parentCheckpointId()).isEqualTo(manifests.get(0).checkpointId());
        var recovered = recover();
        assertThat(render(recovered.coreStates().get(0))).isEqualTo(expected0);
        assertThat(recovered.report().recordsReplayed()).isZero();
    }

    /** The sum of the lengths of every key and value of every core, read on the core threads. */
    private static long logicalBytes(CoreThreads cores) {
        long sum = 0;
        for (int core = 0; core < cores.stores.length; core++) {
            for (StateEntry e : cores.state(core)) {
                sum += e.key().length + e.value().length;
            }
        }
        return sum;
    }

    /** The sizes of the state files a checkpoint wrote itself (named with its id). */
    private static long writtenBytes(CheckpointManifest manifest) {
        var own = String.format("%020d-", manifest.checkpointId());
        return manifest.files().stream().filter(f -> f.path().contains(own)).mapToLong(StateFileRef::size).sum();
    }

    private static long[] operations(RecoveredState recovered) {
        var ops = new long[recovered.coreStates().size()];
        for (int core = 0; core < ops.length; core++) {
            var source = recovered.sources().get(CoreChains.name(core));
            ops[core] = (source == null ? 0 : Long.parseLong(source.offsets().get("ops")))
                    + recovered.report().recordsReplayedPerCore().get(core);
        }
        return ops;
    }

    @Test
    void theFirstCheckpointAfterARestartContinuesTheRecoveredChainWithADelta() throws Exception {
        CheckpointManifest beforeRestart;
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = coordinator(cores).maxDeltas(2).retainedCheckpoints(10).build()) {
            for (int i = 0; i < 40; i++) {
                cores.putDurably(i % 2, "k" + i, value(i));
            }
            coordinator.triggerCheckpoint().join();
            cores.putDurably(0, "k0", value(200));
            beforeRestart = coordinator.triggerCheckpoint().join(); // core 0: full + 1 delta
            cores.putDurably(0, "k2", value(201)); // in the WAL only: replayed at recovery
        }
        var recovered = recover();
        assertThat(recovered.checkpoint()).isEqualTo(beforeRestart);
        assertThat(recovered.report().recordsReplayedPerCore()).containsExactly(1L, 0L);
        var manifests = new ArrayList<CheckpointManifest>();
        List<String> expected0;
        List<String> expected1;
        try (var cores = new CoreThreads(walDir, 2, recovered.coreStates(), operations(recovered));
             var coordinator = coordinator(cores).maxDeltas(2).retainedCheckpoints(10).resumeFrom(recovered)
                     .build()) {
            cores.putDurably(0, "k4", value(202));
            cores.deleteDurably(0, "k6");
            manifests.add(coordinator.triggerCheckpoint().join());
            assertThat(manifests.get(0).stateBytes()).isEqualTo(logicalBytes(cores));
            cores.putDurably(0, "k8", value(203));
            manifests.add(coordinator.triggerCheckpoint().join());
            expected0 = render(cores.state(0));
            expected1 = render(cores.state(1));
        }
        var first = manifests.get(0);
        var chain0 = first.operators().get("core-0000").stateFiles();
        // The recovered chain (full + delta) plus one delta holding the replayed put and the two new changes.
        assertThat(chain0).hasSize(3).startsWith(beforeRestart.operators().get("core-0000").stateFiles()
                .toArray(String[]::new));
        assertThat(chain0.get(2)).endsWith(String.format("%020d-delta.lsf", first.checkpointId()));
        assertThat(first.operators().get("core-0001")).isEqualTo(beforeRestart.operators().get("core-0001"));
        assertThat(first.parentCheckpointId()).isEqualTo(beforeRestart.checkpointId());
        assertThat(first.writtenBytes()).isLessThan(5 * 330);
        // The compaction rules still bound the continued chain: at maxDeltas the next file is full.
        assertThat(manifests.get(1).operators().get("core-0000").stateFiles()).singleElement()
                .matches(p -> p.endsWith("-full.lsf"));
        // Recovery from the delta alone (the WAL has nothing after it) is exact.
        try (var wal = PerCoreWalManager.open(walDir, CoreThreads.walOptions(2))) {
            var again = new RecoveryManager(wal, store);
            store.deleteManifest(manifests.get(1).checkpointId());
            var fromDelta = again.recover();
            assertThat(fromDelta.report().checkpointId()).isEqualTo(first.checkpointId());
            assertThat(fromDelta.report().recordsReplayedPerCore()).containsExactly(1L, 0L); // k8
            assertThat(render(fromDelta.coreStates().get(0))).isEqualTo(expected0);
            assertThat(render(fromDelta.coreStates().get(1))).isEqualTo(expected1);
            assertThat(render(fromDelta.checkpointStates().get(0))).doesNotContain(
                    "k8=" + HexFormat.of().formatHex(value(203)));
        }
    }

    /** A store whose deletions fail while {@code failDeletes} is set. */
    static final class FailingDeletesStore extends ForwardingCheckpointStore {
        volatile boolean failDeletes;

        FailingDeletesStore(CheckpointStore delegate) {
            super(delegate);
        }

        @Override
        public void deleteFile(String path) throws IOException {
            if (failDeletes) {
                throw new IOException("injected: cannot delete " + path);
            }
            delegate.deleteFile(path);
        }

        @Override
        public void deleteManifest(long checkpointId) throws IOException {
            if (failDeletes) {
                throw new IOException("injected: cannot delete manifest " + checkpointId);
            }
            delegate.deleteManifest(checkpointId);
        }
    }

    @Test
    void aRetentionFailureAfterThePublicationStillCompletesTheCheckpointAndIsReportedApart() throws Exception {
        var failing = new FailingDeletesStore(store);
        var completed = new CopyOnWriteArrayList<Long>();
        var failed = new CopyOnWriteArrayList<Long>();
        var notCleanedUp = new CopyOnWriteArrayList<String>();
        var listener = new CheckpointListener() {
            @Override
            public void completed(CheckpointManifest manifest, Duration duration, long writtenBytes) {
                completed.add(manifest.checkpointId());
            }

            @Override
            public void failed(long checkpointId, Throwable cause) {
                failed.add(checkpointId);
            }

            @Override
            public void publishedButNotCleanedUp(CheckpointManifest manifest, CheckpointStep step, Throwable cause) {
                notCleanedUp.add(manifest.checkpointId() + " " + step + " " + cause.getMessage());
            }
        };
        CheckpointManifest first;
        CheckpointManifest second;
        CheckpointManifest third;
        List<String> expected0;
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = StateCheckpointCoordinator.builder(cores.wal, cores.drainer, failing)
                     .retainedCheckpoints(1).listener(listener).build()) {
            for (int i = 0; i < 300; i++) {
                cores.putDurably(i % 2, "k" + (i % 30), value(i));
            }
            first = coordinator.triggerCheckpoint().join();
            var startBefore = cores.wal.startPositions();
            cores.putDurably(0, "k1", value(1));
            failing.failDeletes = true;
            second = coordinator.triggerCheckpoint().join(); // completes: it is published
            assertThat(completed).containsExactly(first.checkpointId(), second.checkpointId());
            assertThat(failed).isEmpty();
            assertThat(notCleanedUp).singleElement().asString()
                    .startsWith(second.checkpointId() + " RETENTION injected: cannot delete manifest");
            // Retention did not happen, so neither did the truncation that relies on it.
            assertThat(store.listCheckpoints()).containsExactly(first.checkpointId(), second.checkpointId());
            assertThat(cores.wal.startPositions()).isEqualTo(startBefore);
            failing.failDeletes = false;
            cores.putDurably(0, "k2", value(2));
            third = coordinator.triggerCheckpoint().join();
            assertThat(notCleanedUp).hasSize(1);
            assertThat(store.listCheckpoints()).containsExactly(third.checkpointId());
            expected0 = render(cores.state(0));
        }
        var recovered = recover();
        assertThat(recovered.report().checkpointId()).isEqualTo(third.checkpointId());
        assertThat(render(recovered.coreStates().get(0))).isEqualTo(expected0);
    }

    @Test
    void retentionKeepsTheNewestCheckpointsAndTruncatesTheWalOnlyToTheOldestRetained() throws Exception {
        var manifests = new ArrayList<CheckpointManifest>();
        List<String> expected1;
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = coordinator(cores).retainedCheckpoints(2).maxDeltas(1).build()) {
            for (int round = 0; round < 5; round++) {
                for (int i = 0; i < 300; i++) {
                    cores.putDurably(i % 2, "k" + (i % 50), value(round * 7 + i));
                }
                manifests.add(coordinator.triggerCheckpoint().join());
            }
            var ids = store.listCheckpoints();
            assertThat(ids).containsExactly(manifests.get(3).checkpointId(), manifests.get(4).checkpointId());
            var referenced = new java.util.HashSet<String>();
            for (long id : ids) {
                store.readManifest(id).orElseThrow().files().forEach(f -> referenced.add(f.path()));
            }
            assertThat(store.listFiles()).containsExactlyInAnyOrderElementsOf(referenced);
            var oldest = manifests.get(3).walPositions();
            var start = cores.wal.startPositions();
            for (int core = 0; core < 2; core++) {
                assertThat(start.position(core)).isPositive().isLessThanOrEqualTo(oldest.get(core));
            }
            expected1 = render(cores.state(1));
        }
        // The newest manifest is damaged: the older retained one still recovers everything.
        var newest = store.manifestFile(manifests.get(4).checkpointId());
        var bytes = Files.readAllBytes(newest);
        bytes[bytes.length / 2] ^= 0x55;
        Files.write(newest, bytes);
        var recovered = recover();
        assertThat(recovered.report().checkpointId()).isEqualTo(manifests.get(3).checkpointId());
        assertThat(recovered.report().skipped()).singleElement()
                .matches(s -> s.checkpointId() == manifests.get(4).checkpointId() && s.reason().contains("cannot be used"));
        assertThat(render(recovered.coreStates().get(1))).isEqualTo(expected1);
    }

    @Test
    void aDamagedOrMissingStateFileOrAPathOutsideTheStoreFallsBackToAnOlderCheckpoint() throws Exception {
        var manifests = new ArrayList<CheckpointManifest>();
        List<String> expected0;
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = coordinator(cores).retainedCheckpoints(5).maxDeltas(0).build()) {
            for (int round = 0; round < 4; round++) {
                for (int i = 0; i < 20; i++) {
                    cores.putDurably(i % 2, "r" + round + "k" + i, value(i + round));
                }
                manifests.add(coordinator.triggerCheckpoint().join());
            }
            cores.putDurably(0, "after", value(9));
            expected0 = render(cores.state(0));
        }
        // Every checkpoint is full (maxDeltas 0), so each file belongs to one checkpoint.
        // Newest: a file of its own flipped; second newest: a file of its own missing;
        // third: a hostile manifest naming a path outside the store.
        var newest = manifests.get(3);
        var own = newest.files().get(newest.files().size() - 1).path();
        var file = store.stateFile(own);
        var bytes = Files.readAllBytes(file);
        bytes[bytes.length - 3] ^= 1;
        Files.write(file, bytes);
        var second = manifests.get(2);
        var secondOwn = second.files().stream().filter(f -> f.path().contains(String.format("%020d",
                second.checkpointId()))).findFirst().orElseThrow();
        Files.delete(store.stateFile(secondOwn.path()));
        var third = manifests.get(1);
        // The codec refuses to write such a manifest, so forge its JSON the way an attacker would.
        Files.write(store.manifestFile(third.checkpointId()), ForgedManifests.edited(third,
                json -> json.replace(third.files().get(0).path(), "../../etc/passwd")));

        var recovered = recover();
        assertThat(recovered.report().checkpointId()).isEqualTo(manifests.get(0).checkpointId());
        assertThat(recovered.report().skipped()).extracting(SkippedCheckpoint::reason).satisfiesExactly(
                r -> assertThat(r).contains(own, "CRC32C", "damaged"),
                r -> assertThat(r).contains(secondOwn.path(), "missing"),
                r -> assertThat(r).contains("../../etc/passwd", "inside the checkpoint store"));
        assertThat(render(recovered.coreStates().get(0))).isEqualTo(expected0);
    }

    @Test
    void aNewestManifestWithAnyBitFlippedIsSkippedAndNoneOfItsValuesReachesTheApplication() throws Exception {
        var manifests = new ArrayList<CheckpointManifest>();
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = coordinator(cores).retainedCheckpoints(5).build()) {
            for (int round = 0; round < 2; round++) {
                for (int i = 0; i < 6 + round; i++) {
                    cores.putDurably(i % 2, "r" + round + "k" + i, value(i + round));
                }
                manifests.add(coordinator.triggerCheckpoint().join());
            }
        }
        var older = manifests.get(0);
        var newest = manifests.get(1);
        var file = store.manifestFile(newest.checkpointId());
        var stored = Files.readAllBytes(file);
        assertThat(stored).isEqualTo(ManifestCodec.encode(newest));
        // The flips that once came back as data (an offset digit, a connector's core number), the
        // checksum itself, then random ones; every flip of a stored manifest is covered by ManifestCodecTest
        // and by the store contract test.
        var text = new String(stored, StandardCharsets.UTF_8);
        var bits = new ArrayList<Integer>(List.of(text.indexOf("\"ops\" : \"") * 8 + 9 * 8,
                text.indexOf("core-0001") * 8 + 8 * 8 + 2, stored.length * 8 - 20));
        long seed = System.nanoTime();
        var random = new java.util.Random(seed);
        for (int i = 0; i < 40; i++) {
            bits.add(random.nextInt(stored.length * 8));
        }
        for (int bit : bits) {
            Files.write(file, ForgedManifests.withBitFlipped(stored, bit));
            var recovered = recover();
            assertThat(recovered.report().checkpointId()).as("bit %d (seed %d)", bit, seed)
                    .isEqualTo(older.checkpointId());
            assertThat(recovered.report().skipped()).singleElement().satisfies(skipped -> {
                assertThat(skipped.checkpointId()).isEqualTo(newest.checkpointId());
                assertThat(skipped.reason()).contains("Checkpoint " + newest.checkpointId(), file.toString());
            });
            assertThat(recovered.sources()).isEqualTo(older.sources());
            assertThat(recovered.operators()).isEqualTo(older.operators());
            assertThat(recovered.watermark()).isEqualTo(older.watermark());
        }
        Files.write(file, stored);
        assertThat(recover().sources()).isEqualTo(newest.sources());
    }

    @Test
    void aManifestFileLargerThanAnyManifestIsSkippedWithoutBeingReadIntoMemory() throws Exception {
        var manifests = new ArrayList<CheckpointManifest>();
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = coordinator(cores).retainedCheckpoints(5).build()) {
            for (int round = 0; round < 2; round++) {
                cores.putDurably(0, "k" + round, value(round));
                manifests.add(coordinator.triggerCheckpoint().join());
            }
        }
        var newest = manifests.get(1);
        // Sparse: 3 GiB claimed, nothing on disk; reading it whole would fail (arrays stop at 2 GiB).
        try (var file = new java.io.RandomAccessFile(store.manifestFile(newest.checkpointId()).toFile(), "rw")) {
            file.setLength(3L << 30);
        }

        var recovered = recover();
        assertThat(recovered.report().checkpointId()).isEqualTo(manifests.get(0).checkpointId());
        assertThat(recovered.report().skipped()).singleElement().extracting(SkippedCheckpoint::reason).asString()
                .contains("Checkpoint " + newest.checkpointId(), (3L << 30) + " bytes", "not read");
    }

    /** Counts, per path, the bytes read through {@link CheckpointStore#openFile}. */
    static final class CountingStore extends ForwardingCheckpointStore {
        final Map<String, java.util.concurrent.atomic.AtomicLong> bytesRead = new java.util.concurrent.ConcurrentHashMap<>();

        CountingStore(CheckpointStore delegate) {
            super(delegate);
        }

        @Override
        public java.io.InputStream openFile(String path) throws IOException {
            var count = bytesRead.computeIfAbsent(path, p -> new java.util.concurrent.atomic.AtomicLong());
            return new java.io.FilterInputStream(delegate.openFile(path)) {
                @Override
                public int read() throws IOException {
                    int b = in.read();
                    if (b >= 0) {
                        count.incrementAndGet();
                    }
                    return b;
                }

                @Override
                public int read(byte[] buffer, int offset, int length) throws IOException {
                    int n = in.read(buffer, offset, length);
                    if (n > 0) {
                        count.addAndGet(n);
                    }
                    return n;
                }

                @Override
                public long skip(long n) throws IOException {
                    long skipped = in.skip(n);
                    count.addAndGet(skipped);
                    return skipped;
                }
            };
        }
    }

    @Test
    void recoveryReadsEachStateFileExactlyOnce() throws Exception {
        CheckpointManifest manifest;
        List<String> expected0;
        List<String> expected1;
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = coordinator(cores).build()) {
            for (int i = 0; i < 200; i++) {
                cores.putDurably(i % 2, "k" + i, value(i));
            }
            manifest = coordinator.triggerCheckpoint().join();
            for (int round = 1; round < 3; round++) {
                for (int i = 0; i < 4; i++) {
                    cores.putDurably(i % 2, "k" + (round * 10 + i), value(round));
                }
                manifest = coordinator.triggerCheckpoint().join();
            }
            cores.putDurably(0, "after", value(7));
            expected0 = render(cores.state(0));
            expected1 = render(cores.state(1));
        }
        // A chain of a full file and deltas on each core: every one of its files is read.
        assertThat(manifest.operators().get("core-0000").stateFiles()).hasSize(3);
        assertThat(manifest.operators().get("core-0001").stateFiles()).hasSize(3);
        var counting = new CountingStore(store);

        RecoveredState recovered;
        try (var wal = PerCoreWalManager.open(walDir, CoreThreads.walOptions(2))) {
            recovered = new RecoveryManager(wal, counting).recover();
        }

        assertThat(recovered.report().checkpointId()).isEqualTo(manifest.checkpointId());
        assertThat(render(recovered.coreStates().get(0))).isEqualTo(expected0);
        assertThat(render(recovered.coreStates().get(1))).isEqualTo(expected1);
        var expectedBytes = new java.util.TreeMap<String, Long>();
        manifest.files().forEach(f -> expectedBytes.put(f.path(), f.size()));
        var actualBytes = new java.util.TreeMap<String, Long>();
        counting.bytesRead.forEach((path, n) -> actualBytes.put(path, n.get()));
        assertThat(actualBytes).as("bytes read per state file").isEqualTo(expectedBytes);
    }

    @Test
    void aStateFileWithAMatchingChecksumButDamagedContentIsNeverPartiallyApplied() throws Exception {
        var manifests = new ArrayList<CheckpointManifest>();
        List<String> expected0;
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = coordinator(cores).retainedCheckpoints(5).maxDeltas(0).build()) {
            for (int round = 0; round < 2; round++) {
                for (int i = 0; i < 20; i++) {
                    cores.putDurably(0, "r" + round + "k" + i, value(i + round));
                }
                manifests.add(coordinator.triggerCheckpoint().join());
            }
            expected0 = render(cores.state(0));
        }
        // A writer bug, not bit rot: the newest core-0 file's trailer miscounts, and the manifest
        // records the checksum of those very bytes, so only the format check can catch it.
        var newest = manifests.get(1);
        var path = newest.operators().get("core-0000").stateFiles().get(0);
        var file = store.stateFile(path);
        var bytes = Files.readAllBytes(file);
        java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(bytes.length - 8, 19);
        Files.write(file, bytes);
        var crc = new java.util.zip.CRC32C();
        crc.update(bytes);
        var files = newest.files().stream().map(f -> f.path().equals(path)
                ? new StateFileRef(path, bytes.length, String.format("%08x", crc.getValue())) : f).toList();
        store.deleteManifest(newest.checkpointId());
        store.publishManifest(new CheckpointManifest(newest.checkpointId(), newest.epoch(), newest.createdAt(),
                newest.walPositions(), newest.sources(), newest.operators(), files, newest.parentCheckpointId(),
                newest.stateBytes(), newest.writtenBytes(), newest.watermark(), newest.keyGroups()));

        var recovered = recover();
        assertThat(recovered.report().skipped()).singleElement().extracting(SkippedCheckpoint::reason).asString()
                .contains("state file " + path + " is damaged", "the trailer counts 19 entries, but the file holds 40");
        assertThat(recovered.report().checkpointId()).isEqualTo(manifests.get(0).checkpointId());
        assertThat(render(recovered.coreStates().get(0))).isEqualTo(expected0);
    }

    @Test
    void withoutACheckpointTheWalAloneRecoversAndATruncatedWalFailsNamingWhatIsMissing() throws Exception {
        List<String> expected;
        try (var cores = new CoreThreads(walDir, 2, null, null)) {
            for (int i = 0; i < 30; i++) {
                cores.putDurably(1, "k" + i, value(i));
            }
            expected = render(cores.state(1));
        }
        var recovered = recover();
        assertThat(recovered.report().checkpointId()).isNull();
        assertThat(render(recovered.coreStates().get(1))).isEqualTo(expected);

        try (var cores = new CoreThreads(walDir, 2, recovered.coreStates(), null);
             var coordinator = coordinator(cores).retainedCheckpoints(1).build()) {
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < 300; i++) {
                    cores.putDurably(i % 2, "k" + (i % 40), value(i + round));
                }
                coordinator.triggerCheckpoint().join();
            }
        }
        for (long id : store.listCheckpoints()) {
            store.deleteManifest(id);
        }
        assertThatThrownBy(this::recover).isInstanceOf(StorageException.class)
                .hasMessageContaining("no usable checkpoint").hasMessageContaining("truncated away");
    }

    @Test
    void aCoreThatDoesNotReachItsBarrierFailsTheCheckpointCleanlyAndTheNextOneSucceeds() throws Exception {
        var failures = new CopyOnWriteArrayList<Throwable>();
        var completed = new CopyOnWriteArrayList<CheckpointManifest>();
        // One timeout serves the checkpoints before and after, which must not hit it, and the one
        // without barriers, which waits all of it. A healthy one waits for two core threads to be
        // scheduled and for an fdatasync each: 300 ms was once too little on a loaded 2-CPU machine,
        // where whole healthy checkpoints of this test took up to 1.3 s (24 of them, load 12-13).
        // Whether the middle one times out does not depend on this value: no core polls meanwhile.
        try (var cores = new CoreThreads(walDir, 2, null, null);
             var coordinator = coordinator(cores).barrierTimeout(Duration.ofSeconds(5))
                     .listener(new CheckpointListener() {
                         @Override
                         public void completed(CheckpointManifest manifest, Duration duration, long bytes) {
                             completed.add(manifest);
                         }

                         @Override
                         public void failed(long checkpointId, Throwable cause) {
                             failures.add(cause);
                         }
                     }).build()) {
            cores.putDurably(0, "a", value(1));
            var first = coordinator.triggerCheckpoint().join();
            cores.stopPolling();
            assertThatThrownBy(() -> coordinator.triggerCheckpoint().join()).isInstanceOf(CompletionException.class)
                    .cause().isInstanceOfSatisfying(CheckpointTimeoutException.class,
                            timeout -> assertThat(timeout.cores()).as("the cores named").containsExactly(0, 1));
            assertThat(failures).singleElement().isInstanceOf(CheckpointTimeoutException.class);
            assertThat(store.listCheckpoints()).containsExactly(first.checkpointId());
            cores.polling = true;
            cores.putDurably(0, "b", value(2));
            var third = coordinator.triggerCheckpoint().join();
            assertThat(third.checkpointId()).isGreaterThan(first.checkpointId());
            assertThat(completed).hasSize(2);
        }
        var recovered = recover();
        assertThat(render(recovered.coreStates().get(0))).hasSize(2);
        assertThat(recovered.sources()).containsEntry("core-0000",
                new ConnectorCheckpoint(Map.of("ops", "2"), Map.of()));
    }

    @Test
    void aReportCannotSayItAdoptedACheckpointWithoutNamingIt() {
        assertThatThrownBy(() -> new RecoveryReport(null, true, List.of(), 0, 0, List.of(0L), Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("checkpointId was null");
    }
}

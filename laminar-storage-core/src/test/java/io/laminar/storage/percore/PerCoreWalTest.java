package io.laminar.storage.percore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalFileNames;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalListener;
import io.laminar.storage.wal.WalOptions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PerCoreWalTest {

    @TempDir
    Path dir;

    static PerCoreWalOptions.Builder options(int cores) {
        return PerCoreWalOptions.builder().cores(cores).maxEntrySize(1024)
                .wal(w -> w.segmentSize(64 * 1024).writeBufferSize(16 * 1024));
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A replayed record as text: "core/epoch/kind/body". */
    static String describe(CoreRecord r) {
        return r.core() + "/" + r.epoch() + "/"
                + (r.kind() == RecordKind.BARRIER ? "barrier" : new String(r.bodyBytes(), StandardCharsets.UTF_8));
    }

    static List<String> replayAll(PerCoreWalManager wal, CorePositions from, long throughEpoch) {
        var out = new ArrayList<String>();
        wal.replay(from, throughEpoch, r -> out.add(describe(r)));
        return out;
    }

    /**
     * Prepares a checkpoint on another thread while this thread, the owner of the given cores'
     * writers, polls them: what a Ring 1 drainer loop will do.
     */
    static CompletableFuture<PreparedCheckpoint> prepareWhilePolling(PerCoreWalManager wal, Duration timeout, int... owned) {
        var future = CompletableFuture.supplyAsync(() -> {
            try {
                return wal.epochCoordinator().prepareCheckpoint(timeout);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        while (!future.isDone()) {
            for (int core : owned) {
                wal.writer(core).pollEpoch();
            }
            Thread.onSpinWait();
        }
        return future;
    }

    static PreparedCheckpoint checkpoint(PerCoreWalManager wal) {
        int[] all = new int[wal.cores()];
        for (int core = 0; core < all.length; core++) {
            all[core] = core;
        }
        return prepareWhilePolling(wal, Duration.ofSeconds(30), all).join();
    }

    @Test
    void everyCoresLogWritesWithTheIoBackendTheOptionsChooseAndReplaysWithAnother() {
        try (var wal = PerCoreWalManager.open(dir, options(2).wal(w -> w.ioBackend(WalIoBackend.DIRECT)).build())) {
            assertThat(wal.ioBackend(0)).isEqualTo(WalIoBackend.DIRECT);
            assertThat(wal.ioBackend(1)).isEqualTo(WalIoBackend.DIRECT);
            wal.writer(0).append(bytes("a"));
            wal.writer(1).append(bytes("b"));
        }
        try (var wal = PerCoreWalManager.open(dir, options(2).build())) {
            assertThat(wal.ioBackend(0)).isEqualTo(WalIoBackend.FILE_CHANNEL);
            assertThat(replayAll(wal, wal.startPositions(), Long.MAX_VALUE)).containsExactly("0/0/a", "1/0/b");
        }
    }

    @Test
    void replayMergesEpochByEpochWithEachCoresRecordsInSequenceOrderAndCoresInIdOrder() {
        try (var wal = PerCoreWalManager.open(dir, options(3).build())) {
            wal.writer(2).append(bytes("a"));
            wal.writer(0).append(bytes("b"));
            wal.writer(1).append(bytes("c"));
            wal.writer(0).append(bytes("d"));
            checkpoint(wal);
            wal.writer(1).append(bytes("e"));
            wal.writer(0).append(bytes("f"));
            wal.writer(2).append(bytes("g"));
        } // close syncs everything
        try (var wal = PerCoreWalManager.open(dir, options(3).build())) {
            var order = replayAll(wal, wal.startPositions(), Long.MAX_VALUE);

            assertThat(order).containsExactly(
                    "0/0/b", "0/0/d", "1/0/c", "2/0/a",
                    "0/1/barrier", "0/1/f", "1/1/barrier", "1/1/e", "2/1/barrier", "2/1/g");
            assertThat(replayAll(wal, wal.startPositions(), Long.MAX_VALUE)).isEqualTo(order);
        }
    }

    @Test
    void aBarrierOnEveryCoreMakesTheEarlierEpochDurable() throws Exception {
        try (var wal = PerCoreWalManager.open(dir, options(2).build())) {
            assertThat(wal.epoch()).isZero();
            assertThat(wal.durableEpoch()).isEqualTo(-1);
            wal.writer(0).append(bytes("x"));
            wal.writer(1).append(bytes("y"));

            var cut = checkpoint(wal);

            assertThat(cut.epoch()).isEqualTo(1);
            assertThat(wal.epoch()).isEqualTo(1);
            assertThat(wal.durableEpoch()).isEqualTo(0);
            var firstAfterCut = new ArrayList<CoreRecord>();
            wal.replay(cut.replayFrom(), r -> firstAfterCut.add(r));
            assertThat(firstAfterCut).extracting(CoreRecord::core, CoreRecord::kind, CoreRecord::epoch,
                    CoreRecord::position).containsExactly(
                    org.assertj.core.groups.Tuple.tuple(0, RecordKind.BARRIER, 1L, cut.replayFrom().position(0)),
                    org.assertj.core.groups.Tuple.tuple(1, RecordKind.BARRIER, 1L, cut.replayFrom().position(1)));
            assertThat(firstAfterCut).extracting(CoreRecord::sequence).containsExactly(1L, 1L);
        }
    }

    @Test
    void durableSequenceAndWhenDurableAcknowledgeEntriesBySequence() throws Exception {
        var opts = options(2).wal(w -> w.syncPolicy(SyncPolicy.none())).build();
        try (var wal = PerCoreWalManager.open(dir, opts)) {
            assertThat(wal.durableSequence(0)).isEqualTo(-1);
            long first = wal.writer(0).append(bytes("one"));
            long second = wal.writer(0).append(bytes("two"));
            assertThat(first).isZero();
            assertThat(second).isEqualTo(1);

            var acknowledged = wal.whenDurable(0, second);
            assertThat(acknowledged).isNotDone(); // SyncPolicy.none: nothing syncs until asked
            checkpoint(wal); // the checkpoint syncs each core's barrier, and with it everything before

            assertThat(acknowledged.get(10, TimeUnit.SECONDS)).isEqualTo(second);
            assertThat(wal.durableSequence(0)).isEqualTo(2); // the barrier took sequence 2
            assertThat(wal.durableSequence(1)).isEqualTo(0);
            assertThat(wal.whenDurable(0, 0)).isCompletedWithValue(0L);
        }
    }

    @Test
    void whenDurableFailsForSequencesThatAreNeverWrittenOnceTheWalCloses() {
        var wal = PerCoreWalManager.open(dir, options(1).build());
        var never = wal.whenDurable(0, 100);

        wal.close();

        assertThatThrownBy(never::join).isInstanceOf(CompletionException.class)
                .hasCauseInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    void epochsAndSequencesContinueAfterAReopen() {
        try (var wal = PerCoreWalManager.open(dir, options(2).build())) {
            wal.writer(0).append(bytes("a"));
            checkpoint(wal);
            checkpoint(wal);
            wal.writer(0).append(bytes("b"));
            assertThat(wal.writer(0).nextSequence()).isEqualTo(4); // a, barrier 1, barrier 2, b
        }
        try (var wal = PerCoreWalManager.open(dir, options(2).build())) {
            assertThat(wal.epoch()).isEqualTo(2);
            assertThat(wal.durableEpoch()).isEqualTo(1);
            assertThat(wal.writer(0).nextSequence()).isEqualTo(4);
            assertThat(wal.writer(0).epoch()).isEqualTo(2);
            assertThat(wal.durableSequence(0)).isEqualTo(3);

            assertThat(wal.writer(0).append(bytes("c"))).isEqualTo(4);
            assertThat(wal.writer(1).append(bytes("d"))).isEqualTo(2);

            assertThat(checkpoint(wal).epoch()).isEqualTo(3);
        }
        try (var wal = PerCoreWalManager.open(dir, options(2).build())) {
            var sequences = new ArrayList<String>();
            wal.replay(wal.startPositions(), r -> sequences.add(r.core() + ":" + r.sequence() + "@" + r.epoch()));
            assertThat(sequences).containsExactly("0:0@0", "0:1@1", "1:0@1", "0:2@2", "0:3@2", "0:4@2",
                    "1:1@2", "1:2@2", "0:5@3", "1:3@3");
        }
    }

    @Test
    void aCoreThatMissedAdvancesWritesOneBarrierForTheNewestEpoch() {
        try (var wal = PerCoreWalManager.open(dir, options(2).build())) {
            for (int i = 0; i < 3; i++) {
                var attempt = prepareWhilePolling(wal, Duration.ofMillis(50), 0);
                assertThat(attempt).isCompletedExceptionally();
            }
            wal.writer(1).append(bytes("late"));
            assertThat(wal.writer(1).epoch()).isEqualTo(3);
        }
        try (var wal = PerCoreWalManager.open(dir, options(2).build())) {
            assertThat(replayAll(wal, wal.startPositions(), Long.MAX_VALUE)).containsExactly(
                    "0/1/barrier", "0/2/barrier", "0/3/barrier", "1/3/barrier", "1/3/late");
        }
    }

    @Test
    void replayFromCheckpointPositionsStopsAtTheLastEpochCompleteOnEveryCore() {
        try (var wal = PerCoreWalManager.open(dir, options(2).build())) {
            wal.writer(0).append(bytes("before"));
            checkpoint(wal); // epoch 1
            wal.writer(0).append(bytes("e1-core0"));
            wal.writer(1).append(bytes("e1-core1"));
            checkpoint(wal); // epoch 2
            wal.writer(1).append(bytes("e2-core1"));
            // Epoch 3 reaches core 0 only: epoch 2 is complete on core 0 but not on core 1.
            assertThat(prepareWhilePolling(wal, Duration.ofMillis(50), 0)).isCompletedExceptionally();
            wal.writer(0).append(bytes("e3-core0"));
        }
        try (var wal = PerCoreWalManager.open(dir, options(2).build())) {
            var cut = CorePositions.of(firstBarrierPositions(wal, 1));

            assertThat(wal.lastCompleteEpoch(cut)).isEqualTo(1);
            assertThat(replayAll(wal, cut, wal.lastCompleteEpoch(cut))).containsExactly(
                    "0/1/barrier", "0/1/e1-core0", "1/1/barrier", "1/1/e1-core1");
            assertThat(replayAll(wal, cut, Long.MAX_VALUE)).containsExactly(
                    "0/1/barrier", "0/1/e1-core0", "1/1/barrier", "1/1/e1-core1",
                    "0/2/barrier", "1/2/barrier", "1/2/e2-core1", "0/3/barrier", "0/3/e3-core0");
        }
    }

    @Test
    void lastCompleteEpochStopsBeforeAnEpochOneCoreHasNotClosed() {
        try (var wal = PerCoreWalManager.open(dir, options(2).build())) {
            checkpoint(wal); // epoch 1
            wal.writer(0).append(bytes("e1-core0"));
            wal.writer(1).append(bytes("e1-core1"));
            // Epoch 2 reaches core 0 only and core 1 stays silent: epoch 1 is open on core 1.
            assertThat(prepareWhilePolling(wal, Duration.ofMillis(50), 0)).isCompletedExceptionally();
            wal.writer(0).append(bytes("e2-core0"));
        }
        try (var wal = PerCoreWalManager.open(dir, options(2).build())) {
            var from = wal.startPositions();

            assertThat(wal.lastCompleteEpoch(from)).isEqualTo(0);
            assertThat(replayAll(wal, from, 0)).isEmpty();
            var result = wal.replay(from, 1, r -> { });
            assertThat(result.lastEpoch()).isEqualTo(1);
            assertThat(result.records()).isEqualTo(4);
        }
    }

    /** Positions of the barriers of {@code epoch}, found by replaying. */
    static long[] firstBarrierPositions(PerCoreWalManager wal, long epoch) {
        var positions = new long[wal.cores()];
        wal.replay(wal.startPositions(), r -> {
            if (r.kind() == RecordKind.BARRIER && r.epoch() == epoch) {
                positions[r.core()] = r.position();
            }
        });
        return positions;
    }

    @Test
    void prepareCheckpointTimesOutNamingTheSilentCoreThenSucceedsOnceItPolls() {
        try (var wal = PerCoreWalManager.open(dir, options(3).build())) {
            var failed = prepareWhilePolling(wal, Duration.ofMillis(100), 0, 2);

            assertThatThrownBy(failed::join).cause().isInstanceOf(CheckpointTimeoutException.class)
                    .hasMessageContaining("cores [1] did not write the barrier of epoch 1")
                    .satisfies(e -> assertThat(((CheckpointTimeoutException) e).cores()).containsExactly(1));
            assertThat(wal.epoch()).isEqualTo(1);

            var cut = prepareWhilePolling(wal, Duration.ofSeconds(30), 0, 1, 2).join();

            assertThat(cut.epoch()).isEqualTo(2);
            assertThat(wal.durableEpoch()).isEqualTo(1);
            assertThat(CorePositions.of(firstBarrierPositions(wal, 2))).isEqualTo(cut.replayFrom());
        }
    }

    @Test
    void truncationDeletesEachCoresSegmentsBeforeItsCheckpointPositionAndKeepsReplayAndSequencesWorking()
            throws Exception {
        var entry = new byte[900];
        long lastSequence;
        CorePositions cut;
        try (var wal = PerCoreWalManager.open(dir, options(2).build())) {
            for (int i = 0; i < 300; i++) {
                wal.writer(0).append(entry);
            }
            wal.writer(1).append(bytes("small"));
            cut = checkpoint(wal).replayFrom();
            wal.writer(0).append(bytes("after"));
            lastSequence = wal.writer(0).nextSequence() - 1;
            var before = wal.startPositions();

            assertThat(wal.truncateBefore(cut)).isGreaterThan(0);

            assertThat(wal.startPositions().position(0)).isGreaterThan(before.position(0)).isLessThanOrEqualTo(
                    cut.position(0));
            assertThat(wal.startPositions().position(1)).isEqualTo(before.position(1));
            assertThatThrownBy(() -> wal.replay(before, r -> { })).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("truncated");
            wal.whenDurable(0, lastSequence).get(10, TimeUnit.SECONDS);
            long pastLastRecord = wal.durablePosition(0); // the end of the last record
            assertThatThrownBy(() -> wal.truncateBefore(CorePositions.of(pastLastRecord, 0)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("core 0").hasMessageContaining("must stay");
        }
        try (var wal = PerCoreWalManager.open(dir, options(2).build())) {
            assertThat(replayAll(wal, cut, Long.MAX_VALUE)).containsExactly("0/1/barrier", "0/1/after",
                    "1/1/barrier");
            assertThat(wal.writer(0).append(bytes("next"))).isEqualTo(lastSequence + 1);
        }
    }

    @Test
    void theAppendPathAllocatesNothingOnceWarm() {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        try (var wal = PerCoreWalManager.open(dir, options(1).wal(w -> w.writeBufferSize(1 << 20)).build())) {
            var writer = wal.writer(0);
            var body = ByteBuffer.allocate(100);
            for (int i = 0; i < 20_000; i++) {
                writer.append(body);
            }
            // "Once warm" is when the JIT has compiled the path (escape analysis removes what the
            // interpreter allocates); on a busy machine that can take more than the warm-up, so the
            // quietest of several rounds counts. A path that allocates per record fails every round.
            long allocated = Long.MAX_VALUE;
            for (int round = 0; round < 10 && allocated >= 20_000; round++) {
                long before = threads.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < 20_000; i++) {
                    writer.append(body);
                }
                allocated = Math.min(allocated, threads.getCurrentThreadAllocatedBytes() - before);
            }

            // Under one byte per record: a single allocation per record would be at least 16 bytes each
            // (320 KB). The JVM itself may allocate a little now and then (a buffer-full wait, a deopt).
            assertThat(allocated).isLessThan(20_000);
        }
    }

    @Test
    void anAdoptedCheckpointStartsEachLogWithASegmentSizedForItsBarrierAndTheLogGoesOnWithFullSizeOnes()
            throws Exception {
        long full = 1 << 20;
        var options = PerCoreWalOptions.builder().cores(2).maxEntrySize(1024)
                .wal(w -> w.segmentSize(full).writeBufferSize(16 * 1024)).build();
        long[] at = {1_000_008, 2_000_000};
        var expected = new ArrayList<String>();
        try (var wal = PerCoreWalManager.open(dir, options)) {
            wal.adoptCheckpoint(CorePositions.of(at), 7);
            // Not a second full-size segment (and spare) written and synced: one just large enough.
            assertEachCoresSegments("after the adoption", WalOptions.MIN_SEGMENT_SIZE);
            var written = writePastTwoSegments(wal, 7);
            checkpoint(wal); // epoch 8: everything before its barriers is durable
            expected.add("0/7/barrier");
            expected.addAll(written.get(0));
            expected.add("1/7/barrier");
            expected.addAll(written.get(1));
            expected.addAll(List.of("0/8/barrier", "1/8/barrier"));
        }
        assertEachCoresSegments("at the end", WalOptions.MIN_SEGMENT_SIZE, full, full);
        try (var wal = PerCoreWalManager.open(dir, options)) {
            assertThat(wal.startPositions().toArray()).containsExactly(at);
            assertThat(replayAll(wal, CorePositions.of(at), Long.MAX_VALUE)).containsExactlyElementsOf(expected);
        }
    }

    @Test
    void aNewDirectoryStartsEachLogWithASmallFirstSegmentAndTheLogGoesOnWithFullSizeOnes() throws Exception {
        long full = 1 << 20;
        var options = PerCoreWalOptions.builder().cores(2).maxEntrySize(1024)
                .wal(w -> w.segmentSize(full).writeBufferSize(16 * 1024)).build();
        var expected = new ArrayList<String>();
        try (var wal = PerCoreWalManager.open(dir, options)) {
            // Not a full-size segment written with zeros and synced while the open waits.
            assertEachCoresSegments("when new", WalOptions.MIN_SEGMENT_SIZE);
            var written = writePastTwoSegments(wal, 0);
            checkpoint(wal); // epoch 1: everything before its barriers is durable
            expected.addAll(written.get(0));
            expected.addAll(written.get(1));
            expected.addAll(List.of("0/1/barrier", "1/1/barrier"));
        }
        assertEachCoresSegments("at the end", WalOptions.MIN_SEGMENT_SIZE, full, full);
        try (var wal = PerCoreWalManager.open(dir, options)) {
            assertThat(wal.startPositions().toArray()).containsExactly(0, 0);
            assertThat(replayAll(wal, wal.startPositions(), Long.MAX_VALUE)).containsExactlyElementsOf(expected);
            assertThat(wal.canAdopt(CorePositions.of(new long[] {8, 8}), 3)).isFalse(); // it has a history now
        }
    }

    /**
     * Appends about 1.5 MiB of records to each of two cores, in epoch {@code epoch}: past a small
     * first segment and a full one of 1 MiB. Returns each core's records as {@link #describe} gives them.
     */
    private static List<List<String>> writePastTwoSegments(PerCoreWalManager wal, long epoch) {
        var written = List.<List<String>>of(new ArrayList<>(), new ArrayList<>());
        for (int i = 0; i < 3000; i++) {
            var body = "r" + i + "-" + "x".repeat(1000);
            wal.writer(i % 2).append(bytes(body));
            written.get(i % 2).add(i % 2 + "/" + epoch + "/" + body);
        }
        return written;
    }

    /** Both cores' segment files have exactly {@code sizes}, by base position. */
    private void assertEachCoresSegments(String when, Long... sizes) throws IOException {
        for (int core = 0; core < 2; core++) {
            assertThat(segmentSizes(core)).as("core %d's segments %s", core, when).containsExactly(sizes);
        }
    }

    /** The sizes of core {@code core}'s segment files, by base position. */
    private List<Long> segmentSizes(int core) throws IOException {
        var walName = CoreRecordFormat.walName(core);
        try (var files = Files.list(dir)) {
            return files.filter(f -> WalFileNames.segmentBase(walName, f.getFileName().toString()) >= 0)
                    .sorted(Comparator.comparingLong(f -> WalFileNames.segmentBase(walName, f.getFileName().toString())))
                    .map(f -> f.toFile().length()).toList();
        }
    }

    @Test
    void theSmallestSegmentSizeHoldsOneEntryOfTheLargestSize() {
        long min = PerCoreWalOptions.minSegmentSize(1 << 20);
        assertThat(min).isEqualTo(64 + 24 + 24 + (1 << 20)); // segment, frame and entry headers
        var options = PerCoreWalOptions.builder().cores(1).maxEntrySize(1 << 20);
        options.wal(w -> w.segmentSize(min)).build();
        assertThatThrownBy(() -> options.wal(w -> w.segmentSize(min - 8)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("segmentSize of at least " + min);
        assertThat(PerCoreWalOptions.minSegmentSize(1024)).isEqualTo(WalOptions.MIN_SEGMENT_SIZE);
        // The segments made that small are whole multiples of 64 KiB, which the direct backend can write.
        var defaults = PerCoreWalOptions.builder().cores(1).maxEntrySize(1 << 20).build(); // 64 MiB segments
        assertThat(defaults.withSmallestSegments().wal().segmentSize()).isEqualTo(17 * 64 * 1024L);
    }

    @Test
    void everyCoresLogHasTheWalOptionsButForItsNameMaxRecordSizeAndListener() {
        var template = WalOptions.builder().name("mine").segmentSize(2L << 20).maxRecordSize(1 << 20)
                .writeBufferSize(1 << 20).syncPolicy(SyncPolicy.none()).listener(new WalListener() { }).build();
        var options = PerCoreWalOptions.builder().cores(2).maxEntrySize(1000).wal(template).build();
        assertThat(options.wal()).isEqualTo(template.toBuilder().name("core").maxRecordSize(1000 + 24)
                .listener(WalListener.NONE).build());
        var core1 = options.walOptions(1, WalListener.NONE);
        assertThat(core1.name()).isEqualTo("core-0001");
        assertThat(core1.toBuilder().name("core").build()).isEqualTo(options.wal());
        // The defaults: the WAL's, with a smaller write buffer per core.
        var defaults = PerCoreWalOptions.builder().build();
        assertThat(defaults.maxEntrySize()).isEqualTo(PerCoreWalOptions.DEFAULT_MAX_ENTRY_SIZE);
        assertThat(defaults.wal()).isEqualTo(WalOptions.builder().name("core").maxRecordSize((1 << 20) + 24)
                .writeBufferSize(PerCoreWalOptions.DEFAULT_WRITE_BUFFER_SIZE).build());
    }

    @Test
    void badInputGetsClearErrors() throws Exception {
        assertThatThrownBy(() -> PerCoreWalOptions.builder().cores(0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("cores must be at least 1, but was 0");
        assertThatThrownBy(() -> options(1).maxEntrySize(-1).build())
                .hasMessage("maxEntrySize must be at least 0, but was -1");
        assertThatThrownBy(() -> options(1).maxEntrySize(1 << 20).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxEntrySize")
                .hasMessageContaining("segmentSize");

        var wal = PerCoreWalManager.open(dir, options(4).build());
        assertThatThrownBy(() -> wal.writer(4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("core 4 does not exist: cores is 4, so core ids are 0 to 3");
        assertThatThrownBy(() -> wal.durableSequence(-1)).hasMessageContaining("core -1 does not exist");
        assertThatThrownBy(() -> wal.writer(0).append(new byte[1025])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1025 bytes is larger than maxEntrySize (1024 bytes)");
        assertThatThrownBy(() -> wal.replay(CorePositions.of(0, 0), r -> { }))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("positions for 2 cores, but this per-core WAL has 4 (the option cores)");
        var otherThread = CompletableFuture.runAsync(() -> wal.writer(0).append(bytes("x")));
        assertThatThrownBy(otherThread::join).cause().isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("the writer of core 0 belongs to thread");
        var writer = wal.writer(1);
        wal.close();
        assertThatThrownBy(() -> writer.append(bytes("late"))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is closed");
        assertThatThrownBy(() -> wal.writer(1)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> wal.epochCoordinator().prepareCheckpoint(Duration.ofSeconds(1)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("is closed");

        assertThatThrownBy(() -> PerCoreWalManager.open(dir, options(2).build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("holds the logs of 4 cores (its per-core.layout), but the option cores is 2");
        assertThatThrownBy(() -> PerCoreWalManager.open(dir, options(8).build()))
                .hasMessageContaining("holds the logs of 4 cores");
        assertThat(Files.list(dir).map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".wal")))
                .allMatch(n -> n.matches("core-000[0-3]-\\d{20}\\.wal"));
    }
}

package io.laminar.storage.wal;

import static io.laminar.storage.io.FaultyFileIO.SEGMENTS;
import static io.laminar.storage.io.FaultyFileIO.SPARE_SEGMENT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.laminar.storage.io.FaultyFileIO;
import io.laminar.storage.io.FileIO;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.IntConsumer;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failed writes and fdatasyncs, injected through the {@link FileIO} seam into real files: the log
 * must fail, refuse everything after the failure, never report a record durable that the failure
 * may have lost, and still close so that a reopen recovers every acknowledged record. Also what
 * close promises: it syncs, and appends racing with it either land or throw.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class WalFailureTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final int SEGMENT_SIZE = 64 * 1024;

    @TempDir
    Path dir;

    private static WalOptions.Builder options(FileIO io) {
        return WalTestBackend.options().segmentSize(SEGMENT_SIZE).maxRecordSize(4096).writeBufferSize(16 * 1024)
                .fileIO(io);
    }

    // ---- fdatasync and write failures -----------------------------------------------------------

    @Test
    void failedFsyncFailsEveryPendingAndLaterDurableAppend() throws Exception {
        var io = FaultyFileIO.overSystem();
        // Linux reports a failed writeback once and lets the next fsync "succeed": the log must not retry.
        failingIoFailsEveryPendingAndLaterDurableAppend(io, io.forces(), "fdatasync", fault -> fault.failOnceAfter(0));
    }

    @Test
    void failedWriteFailsEveryPendingAndLaterDurableAppend() throws Exception {
        var io = FaultyFileIO.overSystem();
        failingIoFailsEveryPendingAndLaterDurableAppend(io, io.writes(), "write", FaultyFileIO.Fault::failNow);
    }

    /**
     * Acknowledges records, then arms {@code fault} and appends durably from four threads: every
     * future still pending fails, every later call is refused, no write or fdatasync reaches a
     * segment after the failure, and a reopen finds every record acknowledged before the failure.
     */
    private void failingIoFailsEveryPendingAndLaterDurableAppend(FaultyFileIO io, FaultyFileIO.Fault fault,
                                                                String operation, Consumer<FaultyFileIO.Fault> arm)
            throws Exception {
        io.forces().on(SEGMENTS);
        io.writes().on(SEGMENTS);
        var listener = new RecordingListener();
        var options = options(io).syncPolicy(SyncPolicy.groupCommit()).listener(listener).build();
        var acked = new TreeMap<Long, Long>();
        var forcesAtFailure = new AtomicLong(-1);
        var writesAtFailure = new AtomicLong(-1);
        var wal = WriteAheadLog.open(dir, options);
        try {
            appendDurablyAndWait(wal, 0, 600, acked); // about 100 KiB: the log has rotated at least once
            assertThat(segmentFiles(dir)).hasSizeGreaterThan(1);
            long durableBefore = wal.durablePosition();
            long syncsBefore = wal.statistics().syncs();
            assertThat(durableBefore).isEqualTo(wal.endPosition());

            // No fdatasync may follow the failed one. Writes may: until the log has recorded its failure,
            // the writer thread keeps writing buffered records (never acknowledged, checked below), so
            // writes are counted once the log is failed and every pending append has failed.
            fault.withMessage("Input/output error").onInjection(() -> forcesAtFailure.set(io.forces().calls()));
            arm.accept(fault);
            var ids = new AtomicLong(1_000_000);
            var pending = new ConcurrentLinkedQueue<CompletableFuture<Long>>();
            var refused = new AtomicLong();
            runThreads(4, t -> {
                for (int i = 0; i < 300; i++) {
                    try {
                        pending.add(wal.appendDurable(payload(ids.getAndIncrement())));
                    } catch (WalFailedException e) {
                        refused.incrementAndGet();
                    }
                }
            });
            assertThat(fault.awaitInjection(WAIT)).as("the fault was injected").isTrue();
            assertThat(pending).as("durable appends made before the log failed").isNotEmpty();
            for (var future : pending) {
                assertThat(failureOf(future)).isInstanceOf(WalFailedException.class)
                        .hasMessageContaining(dir.toString()).hasMessageContaining("Close it and open it again")
                        .rootCause().isInstanceOf(IOException.class)
                        .hasMessageStartingWith("Input/output error (" + operation + " of " + dir);
            }
            assertThat(pending.size() + refused.get()).isEqualTo(4 * 300);

            assertThat(wal.isFailed()).isTrue();
            writesAtFailure.set(io.writes().calls());
            assertThat(listener.failures).as("onFailure calls").hasSize(1);
            assertThatThrownBy(() -> wal.append(payload(1))).isInstanceOf(WalFailedException.class)
                    .hasMessageContaining(dir.toString()).hasMessageContaining("Close it and open it again");
            assertRefusedAsFailed(() -> wal.appendDurable(payload(2)));
            assertRefusedAsFailed(wal::sync);

            var stats = wal.statistics();
            assertThat(wal.durablePosition()).as("durable position after the failure").isEqualTo(durableBefore);
            assertThat(stats.syncs()).as("syncs counted after the failure").isEqualTo(syncsBefore);
            assertThat(stats.syncedRecords()).isEqualTo(acked.size()).isLessThanOrEqualTo(stats.appends());
            assertThat(stats.appends()).isLessThanOrEqualTo(acked.size() + pending.size());
            assertThat(stats.unsyncedBytes()).isEqualTo(wal.endPosition() - wal.durablePosition()).isPositive();
            assertThat(wal.writtenPosition()).isBetween(wal.durablePosition(), wal.endPosition());
        } finally {
            closeFailedLog(wal, io);
        }
        assertThat(io.forces().calls()).as("fdatasyncs of segments up to the failure, and after it")
                .isEqualTo(forcesAtFailure.get());
        assertThat(io.writes().calls()).as("writes to segments once the log had failed, and after it")
                .isEqualTo(writesAtFailure.get());
        var reopened = reopenAndReadAll(options);
        assertEveryAcknowledgedRecordIsPresent(acked, reopened);
    }

    @Test
    void failedFsyncUnderEveryAppendMakesAppendThrow() throws Exception {
        var io = FaultyFileIO.overSystem();
        var options = options(io).syncPolicy(SyncPolicy.everyAppend()).build();
        var acked = new TreeMap<Long, Long>();
        var wal = WriteAheadLog.open(dir, options);
        try {
            for (long id = 0; id < 300; id++) {
                long position = wal.append(payload(id));
                assertThat(wal.durablePosition()).isGreaterThan(position);
                acked.put(position, id);
            }
            long durableBefore = wal.durablePosition();
            io.forces().on(SEGMENTS).failOnceAfter(0);

            assertThatThrownBy(() -> wal.append(payload(300))).isInstanceOf(WalFailedException.class)
                    .hasRootCauseInstanceOf(IOException.class).hasMessageContaining("injected fdatasync failure");
            assertThat(wal.isFailed()).isTrue();
            assertThatThrownBy(() -> wal.append(payload(301))).isInstanceOf(WalFailedException.class);
            assertRefusedAsFailed(() -> wal.appendDurable(payload(302)));
            assertRefusedAsFailed(wal::sync);
            assertThat(wal.durablePosition()).isEqualTo(durableBefore);
            assertThat(io.forces().callsAfterFirstInjection()).as("fdatasyncs on segments after the failure").isZero();
        } finally {
            closeFailedLog(wal, io);
        }
        assertEveryAcknowledgedRecordIsPresent(acked, reopenAndReadAll(options));
    }

    /**
     * Under {@link SyncPolicy.EveryAppend} appenders sync on their own threads, and the syncer
     * writes and syncs too (at rotation, or when the write buffer is full), so a failed fdatasync
     * on one thread races with syncs on the others. Linux lets the fsync after a failed one succeed
     * although the failed pages may be lost: no append may return once an fdatasync has failed
     * unless its record was durable before that failure.
     */
    @Test
    void concurrentEveryAppendersNeverSucceedAfterAFailedFsync() throws Exception {
        long seed = new Random().nextLong();
        var random = new Random(seed);
        for (int iteration = 0; iteration < 40; iteration++) {
            long failAfter = 5 + random.nextInt(40);
            appendUntilOneFsyncFails(dir.resolve("iteration-" + iteration), 8,
                    fault -> fault.failOnceAfter(failAfter),
                    "seed " + seed + ", iteration " + iteration + ", fdatasync " + (failAfter + 1) + " failed");
        }
    }

    /**
     * The race above, made deterministic: the first fdatasync after arming fails, on whichever
     * thread makes it (under EveryAppend the appenders sync themselves; the syncer rarely does), and
     * describing the failure takes long. Appenders syncing inline meanwhile must wait for the log to
     * fail, not sync again.
     */
    @Test
    void inlineSyncsNeverSucceedWhileAnotherThreadIsFailingTheLog() throws Exception {
        appendUntilOneFsyncFails(dir, 4, fault -> fault
                .describeSlowly(Duration.ofMillis(200))
                .failOnceAfter(0), "the first fdatasync of a segment after arming failed");
    }

    /**
     * Appends from {@code threads} threads under EveryAppend, with a write buffer small enough to
     * fill, until the log fails from the fdatasync fault {@code arm} sets up. Checks that nothing
     * became durable after the failure and that a reopen finds every acknowledged record.
     */
    private static void appendUntilOneFsyncFails(Path directory, int threads, Consumer<FaultyFileIO.Fault> arm,
                                                 String context) throws Exception {
        var io = FaultyFileIO.overSystem();
        var options = options(io).syncPolicy(SyncPolicy.everyAppend()).writeBufferSize(4096).build();
        var wal = WriteAheadLog.open(directory, options);
        var durableAtFailure = new AtomicLong(-1);
        var acked = new ConcurrentSkipListMap<Long, Long>();
        var ids = new AtomicLong();
        try {
            for (int i = 0; i < 5; i++) {
                long id = ids.getAndIncrement();
                acked.put(wal.append(bigPayload(id)), id);
            }
            arm.accept(io.forces().on(SEGMENTS).onInjection(() -> durableAtFailure.set(wal.durablePosition())));
            runThreads(threads, t -> {
                for (int i = 0; i < 5_000; i++) {
                    long id = ids.getAndIncrement();
                    try {
                        acked.put(wal.append(bigPayload(id)), id);
                    } catch (WalFailedException e) {
                        return;
                    }
                }
            });
            assertThat(io.forces().injected()).as(context).isEqualTo(1);
            assertThat(wal.isFailed()).as(context).isTrue();
            assertThat(wal.durablePosition()).as(context + ": durable position after the failure")
                    .isEqualTo(durableAtFailure.get());
            for (var e : acked.entrySet()) {
                long end = e.getKey() + WalFormat.paddedFrameLength(bigPayload(e.getValue()).length);
                assertThat(end).as(context + ": end of the record acknowledged at " + e.getKey()
                        + " vs the durable position when the fdatasync failed")
                        .isLessThanOrEqualTo(durableAtFailure.get());
            }
            assertThat(io.forces().successesAfterFirstInjection())
                    .as(context + ": fdatasyncs of segments that succeeded after the failed one").isZero();
        } finally {
            closeFailedLog(wal, io);
        }
        assertEveryAcknowledgedRecordIsPresent(acked, reopenAndReadAll(options, directory));
    }

    @Test
    void fullDiskWhilePreWritingTheNextSegmentFailsTheLogAtRotation() throws Exception {
        var acked = new TreeMap<Long, Long>();
        try (var wal = WriteAheadLog.open(dir, options(FileIO.system()).build())) {
            appendDurablyAndWait(wal, 0, 20, acked);
        }
        var io = FaultyFileIO.overSystem();
        io.writes().on(SPARE_SEGMENT).withMessage("No space left on device").failNow();
        var options = options(io).build();
        // Reopening an existing log pre-writes the next segment in the background: the disk is full.
        var wal = WriteAheadLog.open(dir, options);
        try {
            assertThat(io.writes().awaitInjection(WAIT)).isTrue();
            assertThat(wal.isFailed()).as("failed before anyone needed the spare segment").isFalse();
            assertThat(wal.failure()).isEmpty();
            var newest = segmentFiles(dir).get(segmentFiles(dir).size() - 1);
            long base = WalFileNames.segmentBase("wal", newest.getFileName().toString());

            long failedPosition = -1;
            Throwable failure = null;
            for (long id = 100; id < 10_000 && failure == null; id++) {
                var payload = payload(id);
                var future = wal.appendDurable(payload);
                try {
                    long position = future.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                    acked.put(position, id);
                } catch (ExecutionException e) {
                    failure = e.getCause();
                    failedPosition = wal.endPosition() - WalFormat.paddedFrameLength(payload.length);
                    assertThat(WalFormat.SEGMENT_HEADER_LENGTH + failedPosition - base
                            + WalFormat.paddedFrameLength(payload.length))
                            .as("the failed record needed the next segment").isGreaterThan(SEGMENT_SIZE);
                }
            }
            var spare = dir.resolve("wal-next.wal.tmp");
            assertThat(failure).isInstanceOf(WalFailedException.class)
                    .hasMessageContaining("cannot pre-write the next WAL segment file " + spare)
                    .hasMessageContaining("free disk space under " + dir)
                    .hasMessageContaining("No space left on device");
            assertThat(wal.isFailed()).isTrue();
            assertThat(wal.failure()).get().isSameAs(failure.getCause())
                    .satisfies(cause -> assertThat(cause).hasRootCauseMessage("No space left on device (write of "
                            + spare.toAbsolutePath() + ")"));
            assertThatThrownBy(() -> wal.append(payload(1))).isInstanceOf(WalFailedException.class)
                    .hasMessageContaining(spare.toString()).hasMessageContaining("free disk space");
            assertThat(segmentFiles(dir)).as("no segment was started for position " + failedPosition)
                    .doesNotContain(dir.resolve(WalFileNames.segmentFileName("wal", failedPosition)));
        } finally {
            closeFailedLog(wal, io);
        }
        assertThat(dir.resolve("wal-next.wal.tmp")).doesNotExist();

        // With space freed, the log opens with every acknowledged record and rotates again.
        var healthy = options.toBuilder().fileIO(FileIO.system()).build();
        var reopened = reopenAndReadAll(healthy);
        assertEveryAcknowledgedRecordIsPresent(acked, reopened);
        try (var wal2 = WriteAheadLog.open(dir, healthy)) {
            int before = segmentFiles(dir).size();
            appendDurablyAndWait(wal2, 20_000, 400, acked);
            assertThat(segmentFiles(dir).size()).isGreaterThan(before);
        }
        assertEveryAcknowledgedRecordIsPresent(acked, reopenAndReadAll(healthy));
    }

    // ---- close ------------------------------------------------------------------------------

    @Test
    void closeSyncsEverythingAppendedEvenWithSyncPolicyNone() throws Exception {
        var io = FaultyFileIO.overSystem();
        var options = options(io).syncPolicy(SyncPolicy.none()).build();
        var appended = new TreeMap<Long, Long>();
        long end;
        try (var wal = WriteAheadLog.open(dir, options)) {
            for (long id = 0; id < 2_000; id++) {
                appended.put(wal.append(payload(id)), id);
            }
            end = wal.endPosition();
            assertThat(wal.durablePosition()).as("with SyncPolicy.none() the newest records wait for close")
                    .isLessThan(end);
        }
        assertThat(io.closedWithUnsyncedWrites()).filteredOn(SEGMENTS)
                .as("segment files closed with writes that no fdatasync covered").isEmpty();
        assertThat(io.openFiles()).as("files still open after close").isEmpty();
        var reopened = reopenAndReadAll(options);
        assertThat(reopened.records).isEqualTo(appended);
        assertThat(reopened.report.endPosition()).isEqualTo(end);
        assertThat(reopened.report.tornTailBytes()).isZero();
    }

    @Test
    void failedFsyncInCloseIsReportedAndStillReleasesTheLock() throws Exception {
        var io = FaultyFileIO.overSystem();
        var options = options(io).syncPolicy(SyncPolicy.none()).build();
        var appended = new TreeMap<Long, Long>();
        var wal = WriteAheadLog.open(dir, options);
        for (long id = 0; id < 100; id++) {
            appended.put(wal.append(payload(id)), id);
        }
        io.forces().on(SEGMENTS).failNow();

        assertThatThrownBy(wal::close).as("close, whose final fdatasync fails")
                .isInstanceOf(WalFailedException.class).hasMessageContaining(dir.toString())
                .hasRootCauseInstanceOf(IOException.class);
        assertThat(wal.isFailed()).isTrue();
        assertThat(io.closedWithUnsyncedWrites()).filteredOn(SEGMENTS)
                .as("segments closed with writes no fdatasync covered").containsExactly(dir.resolve(WalFileNames.segmentFileName("wal", 0)));
        assertThat(io.openFiles()).as("files still open after close").isEmpty();
        wal.close(); // idempotent, and quiet the second time

        // Nothing was acknowledged; what the reopen finds must still be records that were appended.
        var reopened = reopenAndReadAll(options);
        assertThat(appended).containsAllEntriesOf(reopened.records);
    }

    @Test
    void operationsOnAClosedLogThrowIllegalStateException() {
        var wal = WriteAheadLog.open(dir, options(FileIO.system()).build());
        long position = wal.append(payload(0));
        wal.close();
        wal.close(); // idempotent

        for (var call : List.<Runnable>of(
                () -> wal.append(payload(1)),
                () -> wal.append(ByteBuffer.wrap(payload(2))),
                () -> wal.appendDurable(payload(3)),
                wal::sync,
                () -> wal.truncateBefore(position))) {
            assertThatThrownBy(call::run).isInstanceOf(IllegalStateException.class)
                    .hasMessage("the WAL in " + dir + " is closed");
        }
    }

    @Test
    void appendsRacingWithCloseEitherLandOrThrow() throws Exception {
        var io = FaultyFileIO.overSystem();
        // Slow writes keep records in the write buffer, so close has work to race with.
        io.slowWrites(Duration.ofMillis(1), SEGMENTS);
        var options = options(io).build();
        var landed = new ConcurrentSkipListMap<Long, Long>();
        var durable = new ConcurrentLinkedQueue<Map.Entry<Long, CompletableFuture<Long>>>();
        var closedWith = new CopyOnWriteArrayList<Throwable>();
        var ids = new AtomicLong();
        var wal = WriteAheadLog.open(dir, options);
        var appenders = startThreads(4, t -> {
            while (true) {
                long id = ids.getAndIncrement();
                try {
                    if (id % 3 == 0) {
                        durable.add(Map.entry(id, wal.appendDurable(payload(id))));
                    } else {
                        landed.put(wal.append(payload(id)), id);
                    }
                } catch (IllegalStateException e) {
                    closedWith.add(e);
                    return;
                }
            }
        });
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (landed.size() < 500 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        wal.close();
        joinAll(appenders);

        assertThat(closedWith).hasSize(4).allSatisfy(e -> assertThat(e).hasMessage("the WAL in " + dir + " is closed"));
        for (var entry : durable) {
            long position = entry.getValue().get(WAIT.toSeconds(), TimeUnit.SECONDS);
            landed.put(position, entry.getKey());
        }
        assertThat(landed.size()).isGreaterThanOrEqualTo(500);
        var reopened = reopenAndReadAll(options.toBuilder().fileIO(FileIO.system()).build());
        assertThat(reopened.records).as("exactly the records whose append returned").isEqualTo(landed);
    }

    // ---- helpers ----------------------------------------------------------------------------

    /** A payload that names its id in its first 8 bytes; the rest (0 to ~4 KiB) follows from the id. */
    static byte[] payload(long id) {
        var random = new SplittableRandom(id * 0x9E37_79B9_7F4A_7C15L + 17);
        int length = 8 + (id % 61 == 7 ? random.nextInt(1000, 4000) : random.nextInt(0, 300));
        var bytes = new byte[length];
        random.nextBytes(bytes);
        ByteBuffer.wrap(bytes).putLong(0, id);
        return bytes;
    }

    private static byte[] bigPayload(long id) {
        var bytes = new byte[8 + (int) (id * 7919 % 3000)];
        Arrays.fill(bytes, (byte) id);
        ByteBuffer.wrap(bytes).putLong(0, id);
        return bytes;
    }

    /** The id of a payload made by {@link #payload} or {@link #bigPayload}, or fails: the bytes are garbage. */
    private static long idOf(long position, byte[] bytes) {
        assertThat(bytes.length).as("record at %d is shorter than an id", position).isGreaterThanOrEqualTo(8);
        long id = ByteBuffer.wrap(bytes).getLong(0);
        if (!Arrays.equals(bytes, payload(id)) && !Arrays.equals(bytes, bigPayload(id))) {
            throw new AssertionError("the record at position " + position + " (" + bytes.length
                    + " bytes, id " + id + ") is not a payload that was appended");
        }
        return id;
    }

    private static void appendDurablyAndWait(WriteAheadLog wal, long firstId, int count, Map<Long, Long> acked)
            throws Exception {
        var futures = new ArrayList<CompletableFuture<Long>>();
        for (long id = firstId; id < firstId + count; id++) {
            futures.add(wal.appendDurable(payload(id)));
        }
        for (int i = 0; i < count; i++) {
            long position = futures.get(i).get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(wal.durablePosition()).isGreaterThan(position);
            acked.put(position, firstId + i);
        }
    }

    private static Throwable failureOf(CompletableFuture<Long> future) throws InterruptedException {
        try {
            long position = future.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            throw new AssertionError("a durable append completed successfully (position " + position
                    + ") although the log failed before it could be synced");
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (TimeoutException e) {
            throw new AssertionError("a durable append neither completed nor failed within " + WAIT, e);
        }
    }

    /** The call throws {@link WalFailedException} or returns a future that failed with it. */
    private static void assertRefusedAsFailed(Supplier<CompletableFuture<Long>> call)
            throws InterruptedException {
        CompletableFuture<Long> future;
        try {
            future = call.get();
        } catch (WalFailedException e) {
            return;
        }
        assertThat(failureOf(future)).isInstanceOf(WalFailedException.class);
    }

    /** Closes a failed log: close may report the failure again, but must release every file and the lock. */
    private static void closeFailedLog(WriteAheadLog wal, FaultyFileIO io) {
        var thrown = catchThrowable(wal::close);
        if (thrown != null) {
            assertThat(thrown).isInstanceOf(WalFailedException.class);
        }
        assertThat(io.openFiles()).as("files still open after close").isEmpty();
    }

    /** What a reopen with the real file system found. */
    record Reopened(WalRecoveryReport report, TreeMap<Long, Long> records) {
    }

    private Reopened reopenAndReadAll(WalOptions options) {
        return reopenAndReadAll(options, dir);
    }

    /**
     * Reopens the log with the real file system and reads it from its start: positions follow one
     * another without a gap, every record is a payload that was appended (no garbage) and the
     * recovery report agrees with what was read.
     */
    private static Reopened reopenAndReadAll(WalOptions options, Path directory) {
        var records = new TreeMap<Long, Long>();
        try (var wal = WriteAheadLog.open(directory, options.toBuilder().fileIO(FileIO.system()).build());
             var reader = wal.reader()) {
            long expected = wal.startPosition();
            for (WalRecord r; (r = reader.next()) != null; ) {
                assertThat(r.position()).as("position after %d", expected).isEqualTo(expected);
                records.put(r.position(), idOf(r.position(), r.payloadBytes()));
                expected = r.nextPosition();
            }
            var report = wal.recoveryReport();
            assertThat(expected).isEqualTo(wal.endPosition()).isEqualTo(report.endPosition());
            assertThat(report.records()).isEqualTo(records.size());
            assertThat(report.dropped()).isEmpty();
            assertThat(report.startPosition()).isEqualTo(wal.startPosition());
            return new Reopened(report, records);
        }
    }

    private static void assertEveryAcknowledgedRecordIsPresent(Map<Long, Long> acked, Reopened reopened) {
        assertThat(acked).as("acknowledged records").isNotEmpty();
        for (var e : acked.entrySet()) {
            assertThat(reopened.records.get(e.getKey())).as("record acknowledged at position %d", e.getKey())
                    .isEqualTo(e.getValue());
        }
    }

    private static List<Path> segmentFiles(Path directory) throws IOException {
        try (Stream<Path> files = Files.list(directory)) {
            return files.filter(SEGMENTS).sorted().toList();
        }
    }

    private static List<Thread> startThreads(int count, IntConsumer body) {
        var threads = new ArrayList<Thread>();
        for (int t = 0; t < count; t++) {
            int index = t;
            var thread = new Thread(() -> body.accept(index), "appender-" + t);
            thread.setUncaughtExceptionHandler((th, e) -> UNCAUGHT.add(e));
            threads.add(thread);
            thread.start();
        }
        return threads;
    }

    private static final List<Throwable> UNCAUGHT = new CopyOnWriteArrayList<>();

    private static void joinAll(List<Thread> threads) throws InterruptedException {
        for (var thread : threads) {
            thread.join(WAIT.toMillis() * 2);
            assertThat(thread.isAlive()).as(thread.getName() + " still running").isFalse();
        }
        var uncaught = new ArrayList<>(UNCAUGHT);
        UNCAUGHT.clear();
        if (!uncaught.isEmpty()) {
            var error = new AssertionError("an appender thread threw: " + uncaught.get(0), uncaught.get(0));
            uncaught.stream().skip(1).forEach(error::addSuppressed);
            throw error;
        }
    }

    private static void runThreads(int count, IntConsumer body) throws InterruptedException {
        joinAll(startThreads(count, body));
    }

    /** Records the listener calls. */
    private static final class RecordingListener implements WalListener {
        final List<Throwable> failures = new CopyOnWriteArrayList<>();

        @Override
        public void onFailure(Throwable cause) {
            failures.add(cause);
        }
    }
}

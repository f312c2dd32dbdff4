package io.laminar.storage.wal;

import static io.laminar.storage.wal.WalTestFiles.Written;
import static io.laminar.storage.wal.WalTestFiles.base;
import static io.laminar.storage.wal.WalTestFiles.computedFrameCrc;
import static io.laminar.storage.wal.WalTestFiles.fileOffset;
import static io.laminar.storage.wal.WalTestFiles.flip;
import static io.laminar.storage.wal.WalTestFiles.read;
import static io.laminar.storage.wal.WalTestFiles.readAll;
import static io.laminar.storage.wal.WalTestFiles.readIntLittleEndian;
import static io.laminar.storage.wal.WalTestFiles.segmentFor;
import static io.laminar.storage.wal.WalTestFiles.segments;
import static io.laminar.storage.wal.WalTestFiles.snapshot;
import static io.laminar.storage.wal.WalTestFiles.zero;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Damages the segment files of closed logs at computed offsets and checks what {@link WriteAheadLog#open}
 * makes of it: a torn tail is cut and the log opens; damage to data that was provably synced, to a
 * sealed segment or to the chain of segments is corruption, which fails the open without touching
 * the disk, or under {@link CorruptionPolicy#TRUNCATE} is cut with every dropped byte kept.
 */
class WalCorruptionTest {

    private static final int SEGMENT_SIZE = 64 * 1024;

    @TempDir
    Path dir;

    private static WalOptions.Builder small() {
        return WalTestBackend.options().segmentSize(SEGMENT_SIZE).maxRecordSize(4096).writeBufferSize(16 * 1024);
    }

    /** Non-zero payload bytes of 16 to 915 bytes, different for every i. */
    static byte[] payload(int i) {
        var bytes = new byte[16 + (i * 131) % 900];
        for (int j = 0; j < bytes.length; j++) {
            bytes[j] = (byte) ('a' + (i * 7 + j) % 26);
        }
        return bytes;
    }

    /** Writes {@code count} records, each acknowledged as durable before the next is appended. */
    private List<Written> writeDurable(Path dir, int count) {
        var written = new ArrayList<Written>();
        try (var wal = WriteAheadLog.open(dir, small().syncPolicy(SyncPolicy.none()).build())) {
            for (int i = 0; i < count; i++) {
                written.add(new Written(wal.appendDurable(payload(i)).join(), payload(i)));
            }
        }
        return written;
    }

    /**
     * Opens the log and appends records {@code from} to {@code from + count - 1} with no sync
     * between them ({@link SyncPolicy#none()}), then closes it. Closing syncs, but the durable marks
     * in the frames were fixed when they were framed: every one of them is the end of the log as
     * this open found it. To give later records a mark past earlier ones, write them in another
     * call: the close in between is the sync.
     *
     * <p>No {@code sync()} while writing, and a write buffer that never fills: either can make the
     * log sync at moments that depend on timing (see the assertion), and so make the marks vary.
     */
    private List<Written> writeUnsynced(Path dir, int from, int count) {
        var written = new ArrayList<Written>();
        try (var wal = WriteAheadLog.open(dir, small().syncPolicy(SyncPolicy.none()).writeBufferSize(1 << 20).build())) {
            long startedAt = wal.endPosition();
            for (int i = from; i < from + count; i++) {
                written.add(new Written(wal.append(payload(i)), payload(i)));
            }
            assertThat(wal.statistics().syncs()).as("syncs while writing").isZero();
            assertThat(wal.durablePosition()).isEqualTo(startedAt);
        }
        return written;
    }

    /** Writes unsynced records until the log has at least {@code segmentCount} segments. */
    private List<Written> writeSegments(Path dir, int segmentCount) {
        var written = new ArrayList<Written>();
        try (var wal = WriteAheadLog.open(dir, small().syncPolicy(SyncPolicy.none()).build())) {
            for (int i = 0; wal.segments().size() < segmentCount || written.size() < 10; i++) {
                written.add(new Written(wal.append(payload(i)), payload(i)));
                if (i % 10 == 9) {
                    wal.sync().join();
                }
            }
        }
        assertThat(segments(dir)).hasSizeGreaterThanOrEqualTo(segmentCount);
        return written;
    }

    private static void assertRecords(WriteAheadLog wal, List<Written> expected) {
        var actual = readAll(wal);
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < expected.size(); i++) {
            assertThat(actual.get(i).position()).as("position of record %d", i).isEqualTo(expected.get(i).position());
            assertThat(actual.get(i).payload()).as("payload of record %d", i).isEqualTo(expected.get(i).payload());
        }
    }

    /** The records of {@code written} that lie in {@code segment}. */
    private List<Written> recordsIn(Path segment, List<Written> written) {
        var segments = segments(segment.getParent());
        int index = segments.indexOf(segment);
        long from = base(segment);
        long to = index + 1 < segments.size() ? base(segments.get(index + 1)) : Long.MAX_VALUE;
        return written.stream().filter(w -> w.position() >= from && w.position() < to).toList();
    }

    /** Offset of a record's frame in its segment file. */
    private long offsetOf(Written record) {
        return fileOffset(segmentFor(dir, record.position()), record.position());
    }

    /**
     * Checks that a reopened log with a repaired torn tail keeps working: appends continue at the
     * cut and everything survives another reopen with a clean tail.
     */
    private void assertAppendsContinueAndSurviveReopen(List<Written> kept, long cutPosition) {
        var expected = new ArrayList<>(kept);
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            for (int i = 0; i < 5; i++) {
                long position = wal.appendDurable(payload(1000 + i)).join();
                if (i == 0) {
                    assertThat(position).isEqualTo(cutPosition);
                }
                expected.add(new Written(position, payload(1000 + i)));
            }
        }
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertThat(wal.recoveryReport().tornTailBytes()).isZero();
            assertThat(wal.statistics().tornTailRepairs()).isZero();
            assertRecords(wal, expected);
        }
    }

    // ---- torn tails --------------------------------------------------------------------------

    @Test
    void openCutsTornTailWhenOnlyTheLengthOfTheNextRecordWasWritten() {
        var written = writeDurable(dir, 20);
        long end = written.get(19).end();
        var segment = segmentFor(dir, end);
        // The length of a 100-byte record reached the disk, nothing else of it.
        WalTestFiles.writeIntLittleEndian(segment, fileOffset(segment, end), WalTestFiles.frameLength(100));

        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertRecords(wal, written);
            assertThat(wal.recoveryReport().tornTailBytes()).isEqualTo(8);
            assertThat(wal.statistics().tornTailRepairs()).isEqualTo(1);
            assertThat(wal.endPosition()).isEqualTo(end);
        }
        assertThat(read(segment, fileOffset(segment, end), 8)).containsOnly(0);
        assertAppendsContinueAndSurviveReopen(written, end);
    }

    /**
     * A file cut inside the last record's frame header (also inside an 8-byte word: the file size
     * need not be a multiple of 8). The brief treats this as a torn tail.
     */
    @ParameterizedTest
    @ValueSource(ints = {4, 12, 20})
    void openCutsTornTailWhenTheFileEndsInsideAFrameHeader(int cutInsideHeader) throws IOException {
        var written = writeDurable(dir, 20);
        var last = written.get(19);
        var segment = segmentFor(dir, last.position());
        WalTestFiles.truncate(segment, offsetOf(last) + cutInsideHeader);

        var kept = written.subList(0, 19);
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertRecords(wal, kept);
            assertThat(wal.recoveryReport().tornTailBytes()).isPositive();
            assertThat(wal.statistics().tornTailRepairs()).isEqualTo(1);
            assertThat(wal.endPosition()).isEqualTo(last.position());
        }
        // The file is back at its full size, and the cut left no stray bytes that a later open
        // would take for another torn tail.
        assertThat(Files.size(segment)).isEqualTo(SEGMENT_SIZE);
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertThat(wal.recoveryReport().tornTailBytes()).isZero();
            assertRecords(wal, kept);
        }
        assertAppendsContinueAndSurviveReopen(kept, last.position());
    }

    @Test
    void openCutsTornTailWhenALengthAtTheTailRunsPastTheEndOfTheSegment() {
        var written = writeDurable(dir, 20);
        long end = written.get(19).end();
        var segment = segmentFor(dir, end);
        WalTestFiles.writeIntLittleEndian(segment, fileOffset(segment, end), SEGMENT_SIZE + 1000);

        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertRecords(wal, written);
            assertThat(wal.recoveryReport().tornTailBytes()).isPositive();
            assertThat(wal.statistics().tornTailRepairs()).isEqualTo(1);
        }
        assertAppendsContinueAndSurviveReopen(written, end);
    }

    @Test
    void openCutsTornTailWhenTheLastRecordsLengthRunsPastTheEndOfTheSegment() {
        var written = writeDurable(dir, 20);
        var last = written.get(19);
        var segment = segmentFor(dir, last.position());
        long offset = offsetOf(last);
        WalTestFiles.writeIntLittleEndian(segment, offset, (int) (SEGMENT_SIZE - offset + 8));

        var kept = written.subList(0, 19);
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertRecords(wal, kept);
            assertThat(wal.recoveryReport().tornTailBytes()).isEqualTo(last.end() - last.position());
            assertThat(wal.statistics().tornTailRepairs()).isEqualTo(1);
        }
        assertAppendsContinueAndSurviveReopen(kept, last.position());
    }

    /**
     * Damage to the last record is a torn tail even though that record was acknowledged as durable:
     * no record after it carries a durable mark that proves it was synced, and a write torn by a
     * crash before its fdatasync (half the sectors of the frame on disk) leaves exactly these bytes.
     * The two cannot be told apart from the file, so the log cannot do better than cut it; this is
     * the documented limit of torn-write detection (see {@link WriteAheadLog}).
     *
     * @param byteInFrame 4: a checksum byte, 16: the durable mark, 24: the first payload byte
     */
    @ParameterizedTest
    @ValueSource(ints = {4, 16, 24})
    void openTreatsADamagedLastRecordAsATornTail(int byteInFrame) {
        var written = writeDurable(dir, 20);
        var last = written.get(19);
        flip(segmentFor(dir, last.position()), offsetOf(last) + byteInFrame);

        var kept = written.subList(0, 19);
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertRecords(wal, kept);
            assertThat(wal.recoveryReport().tornTailBytes()).isEqualTo(last.end() - last.position());
            assertThat(wal.statistics().tornTailRepairs()).isEqualTo(1);
        }
        assertAppendsContinueAndSurviveReopen(kept, last.position());
    }

    /** Records that were never synced never reached the disk: the region is zeros, a clean end. */
    @Test
    void openFindsACleanTailWhenUnsyncedRecordsNeverReachedTheDisk() {
        var written = new ArrayList<>(writeDurable(dir, 10));
        written.addAll(writeUnsynced(dir, 10, 10));
        var firstLost = written.get(10);
        var segment = segmentFor(dir, firstLost.position());
        zero(segment, offsetOf(firstLost), offsetOf(written.get(19)) + 1024);

        var kept = written.subList(0, 10);
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertRecords(wal, kept);
            assertThat(wal.recoveryReport().tornTailBytes()).isZero();
            assertThat(wal.statistics().tornTailRepairs()).isZero();
            assertThat(wal.endPosition()).isEqualTo(firstLost.position());
        }
        assertAppendsContinueAndSurviveReopen(kept, firstLost.position());
    }

    /** Only the first bytes of the first unsynced record reached the disk; the rest is zeros. */
    @Test
    void openCutsTornTailWhenUnsyncedRecordsReachedTheDiskOnlyInPart() {
        var written = new ArrayList<>(writeDurable(dir, 10));
        written.addAll(writeUnsynced(dir, 10, 10));
        var torn = written.get(10);
        var segment = segmentFor(dir, torn.position());
        zero(segment, offsetOf(torn) + 8, offsetOf(written.get(19)) + 1024);

        var kept = written.subList(0, 10);
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertRecords(wal, kept);
            assertThat(wal.recoveryReport().tornTailBytes()).isEqualTo(8);
            assertThat(wal.statistics().tornTailRepairs()).isEqualTo(1);
        }
        assertAppendsContinueAndSurviveReopen(kept, torn.position());
    }

    // ---- a damaged record followed by valid ones -----------------------------------------------

    @Test
    void openFailsOnDamagedMiddleRecordThatLaterRecordsShowWasSynced() {
        var written = writeDurable(dir, 20);
        var damaged = written.get(10);
        var segment = segmentFor(dir, damaged.position());
        long offset = offsetOf(damaged);
        flip(segment, offset + 30);
        int storedCrc = readIntLittleEndian(segment, offset + 4);
        int computedCrc = computedFrameCrc(segment, offset);
        var before = snapshot(dir);

        var e = catchThrowableOfType(WalCorruptionException.class, () -> WriteAheadLog.open(dir, small().build()));

        assertThat(e).isNotNull();
        assertThat(e.file()).isEqualTo(segment);
        assertThat(e.fileOffset()).isEqualTo(offset);
        assertThat(e.getMessage())
                .contains(segment.toString())
                .contains("file offset " + offset)
                .contains("log position " + damaged.position())
                .contains(String.format("stored CRC32C 0x%08x", storedCrc))
                .contains(String.format("computed 0x%08x", computedCrc))
                .contains("not a torn tail")
                .contains("corruptionPolicy=TRUNCATE");
        assertNothingChanged(before);
    }

    /**
     * The hard case: a hole (a record zeroed out) with valid records after it, all written with no
     * sync in between. Their durable marks do not pass the hole, so nothing proves the hole had
     * ever been synced: writes that reach the disk out of order before a power loss leave the same
     * picture. It is a torn tail, and the valid records after the hole go with it.
     */
    @Test
    void openTreatsAHoleAsTornTailWhenNoLaterDurableMarkPassesIt() {
        var written = writeUnsynced(dir, 0, 40);
        var hole = written.get(20);
        var segment = segmentFor(dir, hole.position());
        zero(segment, offsetOf(hole), offsetOf(hole) + (hole.end() - hole.position()));

        var kept = written.subList(0, 20);
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertRecords(wal, kept);
            assertThat(wal.recoveryReport().tornTailBytes()).isEqualTo(written.get(39).end() - hole.position());
            assertThat(wal.statistics().tornTailRepairs()).isEqualTo(1);
        }
        assertAppendsContinueAndSurviveReopen(kept, hole.position());
    }

    /** The same hole, but a sync covered it before later records were framed: corruption. */
    @Test
    void openFailsOnAHoleThatALaterRecordsDurableMarkPasses() {
        var written = new ArrayList<>(writeUnsynced(dir, 0, 30));
        written.addAll(writeUnsynced(dir, 30, 10)); // framed after the close synced records 0 to 29
        var hole = written.get(20);
        var segment = segmentFor(dir, hole.position());
        long offset = offsetOf(hole);
        zero(segment, offset, offset + (hole.end() - hole.position()));
        var before = snapshot(dir);

        var e = catchThrowableOfType(WalCorruptionException.class, () -> WriteAheadLog.open(dir, small().build()));

        assertThat(e).isNotNull();
        assertThat(e.file()).isEqualTo(segment);
        assertThat(e.fileOffset()).isEqualTo(offset);
        assertThat(e.getMessage())
                .contains(segment.toString())
                .contains("file offset " + offset)
                .contains("durable up to position " + written.get(29).end())
                .contains("corruptionPolicy=TRUNCATE");
        assertNothingChanged(before);
    }

    /**
     * A damaged record instead of a hole, written after the last sync (records 0 to 9 were synced;
     * 10 to 39 carry marks at the end of record 9): a torn tail, like the hole...
     */
    @Test
    void openTreatsADamagedRecordAsTornTailWhenNoLaterDurableMarkPassesIt() {
        var written = new ArrayList<>(writeUnsynced(dir, 0, 10));
        written.addAll(writeUnsynced(dir, 10, 30)); // durable marks: the end of record 9
        var damaged = written.get(20);
        flip(segmentFor(dir, damaged.position()), offsetOf(damaged) + 30);

        var kept = written.subList(0, 20);
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertRecords(wal, kept);
            assertThat(wal.recoveryReport().tornTailBytes()).isEqualTo(written.get(39).end() - damaged.position());
        }
        assertAppendsContinueAndSurviveReopen(kept, damaged.position());
    }

    /** ...and corruption once a sync covered the damaged record before later ones were framed. */
    @Test
    void openFailsOnADamagedRecordThatALaterRecordsDurableMarkPasses() {
        var written = new ArrayList<>(writeUnsynced(dir, 0, 21));
        written.addAll(writeUnsynced(dir, 21, 19)); // durable marks: the end of record 20
        var damaged = written.get(20);
        flip(segmentFor(dir, damaged.position()), offsetOf(damaged) + 30);
        var before = snapshot(dir);

        assertThatThrownBy(() -> WriteAheadLog.open(dir, small().build()))
                .isInstanceOf(WalCorruptionException.class)
                .hasMessageContaining("file offset " + offsetOf(damaged))
                .hasMessageContaining("durable up to position " + damaged.end());
        assertNothingChanged(before);
    }

    // ---- sealed segments and the chain of segments -----------------------------------------------

    /** The last record of a sealed segment: in the newest segment this would be a torn tail. */
    @Test
    void openFailsOnDamageInSealedSegment() {
        var written = writeSegments(dir, 3);
        var sealed = segments(dir).get(0);
        var last = recordsIn(sealed, written).get(recordsIn(sealed, written).size() - 1);
        long offset = offsetOf(last);
        flip(sealed, offset + 30);
        var before = snapshot(dir);

        var e = catchThrowableOfType(WalCorruptionException.class, () -> WriteAheadLog.open(dir, small().build()));

        assertThat(e).isNotNull();
        assertThat(e.file()).isEqualTo(sealed);
        assertThat(e.fileOffset()).isEqualTo(offset);
        assertThat(e.getMessage())
                .contains(sealed.toString())
                .contains("file offset " + offset)
                .contains(String.format("stored CRC32C 0x%08x", readIntLittleEndian(sealed, offset + 4)))
                .contains(String.format("computed 0x%08x", computedFrameCrc(sealed, offset)))
                .contains("sealed")
                .contains("corruptionPolicy=TRUNCATE");
        assertNothingChanged(before);
    }

    /**
     * A damaged byte in a sealed segment's unused tail, where the frame after its last record would
     * start, reads as a frame length that does not validate. The segment's records run to the next
     * segment's base, so they are all there and the tail is not data: the log opens with every record.
     */
    @Test
    void damageInSealedSegmentsUnusedTailIsNotData() {
        var written = writeSegments(dir, 3);
        var sealed = segments(dir).get(1);
        var inSealed = recordsIn(sealed, written);
        var last = inSealed.get(inSealed.size() - 1);
        long tail = offsetOf(last) + (last.end() - last.position());
        assertThat(tail).as("the sealed segment has an unused tail").isLessThan(SEGMENT_SIZE - WalFormat.FRAME_HEADER_LENGTH);
        flip(sealed, tail + 1, 0x16); // a frame length of 5,632, which does not validate there
        flip(sealed, SEGMENT_SIZE - 1, 0x40);

        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertThat(wal.recoveryReport().tornTailBytes()).isZero();
            assertRecords(wal, written);
        }
    }

    /**
     * A record of a sealed segment zeroed out (frame length 0) ends that segment's scan early. It
     * is damage in that segment at that offset, not a missing segment.
     */
    @Test
    void openFailsOnZeroedRecordInSealedSegmentNamingThatSegment() {
        var written = writeSegments(dir, 3);
        var sealed = segments(dir).get(1);
        var inSealed = recordsIn(sealed, written);
        var hole = inSealed.get(inSealed.size() / 2);
        long offset = offsetOf(hole);
        zero(sealed, offset, offset + (hole.end() - hole.position()));
        var before = snapshot(dir);

        var e = catchThrowableOfType(WalCorruptionException.class, () -> WriteAheadLog.open(dir, small().build()));

        assertThat(e).isNotNull();
        assertThat(e.file()).isEqualTo(sealed);
        assertThat(e.fileOffset()).isEqualTo(offset);
        assertThat(e.getMessage()).contains(sealed.toString()).contains("file offset " + offset)
                .contains("frame length 0").doesNotContain("missing");
        assertNothingChanged(before);
    }

    /** A sealed segment whose records were zeroed from some record to its end. */
    @Test
    void openFailsOnSealedSegmentZeroedFromARecordToItsEnd() {
        var written = writeSegments(dir, 3);
        var sealed = segments(dir).get(1);
        var inSealed = recordsIn(sealed, written);
        var first = inSealed.get(inSealed.size() / 2);
        zero(sealed, offsetOf(first), SEGMENT_SIZE);
        var before = snapshot(dir);

        assertThatThrownBy(() -> WriteAheadLog.open(dir, small().build()))
                .isInstanceOf(WalCorruptionException.class)
                .hasMessageContaining(sealed.toString())
                .hasMessageContaining("file offset " + offsetOf(first))
                .hasMessageContaining("were zeroed");
        assertNothingChanged(before);
    }

    @Test
    void openFailsWhenASegmentIsMissingFromTheMiddle() throws IOException {
        writeSegments(dir, 4);
        var segments = segments(dir);
        Files.delete(segments.get(1));
        var before = snapshot(dir);

        var e = catchThrowableOfType(WalCorruptionException.class, () -> WriteAheadLog.open(dir, small().build()));

        assertThat(e).isNotNull();
        assertThat(e.getMessage())
                .contains(segments.get(0).toString())
                .contains("ends at position " + base(segments.get(1)))
                .contains(segments.get(2).getFileName() + ", starts at " + base(segments.get(2)))
                .contains("missing")
                .contains("corruptionPolicy=TRUNCATE");
        assertNothingChanged(before);
    }

    @Test
    void openFailsWhenASegmentHeaderDoesNotMatchItsFileName() throws IOException {
        writeSegments(dir, 3);
        var segment = segments(dir).get(1);
        long realBase = base(segment);
        var renamed = WalTestFiles.segmentPath(dir, realBase + 8);
        Files.move(segment, renamed);
        var before = snapshot(dir);

        var e = catchThrowableOfType(WalCorruptionException.class, () -> WriteAheadLog.open(dir, small().build()));

        assertThat(e).isNotNull();
        assertThat(e.file()).isEqualTo(renamed);
        assertThat(e.getMessage())
                .contains(renamed.toString())
                .contains("the header says base position " + realBase + " but the file name says " + (realBase + 8))
                .contains("corruptionPolicy=TRUNCATE");
        assertNothingChanged(before);
    }

    @Test
    void openFailsWhenTheNewestSegmentIsRenamedToAnotherBase() throws IOException {
        writeSegments(dir, 3);
        var newest = segments(dir).get(2);
        var renamed = WalTestFiles.segmentPath(dir, base(newest) + 4096);
        Files.move(newest, renamed);

        assertThatThrownBy(() -> WriteAheadLog.open(dir, small().build()))
                .isInstanceOf(WalCorruptionException.class)
                .hasMessageContaining(renamed.toString())
                .hasMessageContaining("the header says base position " + base(newest));
    }

    /**
     * @param headerByte 0: the magic number; 20: the base position; 44: a reserved byte; 61: the
     *                   header checksum itself
     */
    @ParameterizedTest
    @ValueSource(ints = {0, 20, 44, 61})
    void openFailsOnDamagedSegmentHeader(int headerByte) {
        writeSegments(dir, 3);
        for (int damaged = 0; damaged < 3; damaged++) {
            var sub = dir.resolve("copy-" + damaged);
            WalTestFiles.copyDirectory(dir, sub);
            var segment = segments(sub).get(damaged);
            flip(segment, headerByte);
            var before = snapshot(sub);

            var e = catchThrowableOfType(WalCorruptionException.class, () -> WriteAheadLog.open(sub, small().build()));

            assertThat(e).as("damaged header of segment %d", damaged).isNotNull();
            assertThat(e.file()).isEqualTo(segment);
            assertThat(e.getMessage())
                    .contains(segment.toString())
                    .contains("segment header is damaged")
                    .contains(headerByte == 0 ? "magic number" : "header checksum does not match")
                    .contains("corruptionPolicy=TRUNCATE");
            assertThat(snapshot(sub)).as("files after a failed open").containsOnlyKeys(before.keySet());
            before.forEach((name, bytes) -> assertThat(snapshot(sub).get(name)).as(name).isEqualTo(bytes));
        }
    }

    @Test
    void openFailsOnASegmentOfAnotherLog() throws IOException {
        var other = dir.resolve("other");
        var log = dir.resolve("log");
        writeSegments(log, 3);
        writeSegments(other, 3); // the same records, so the same segment bases, but another log id
        var segment = segments(log).get(1);
        Files.copy(segments(other).get(1), segment, java.nio.file.StandardCopyOption.REPLACE_EXISTING);

        assertThatThrownBy(() -> WriteAheadLog.open(log, small().build()))
                .isInstanceOf(WalCorruptionException.class)
                .hasMessageContaining(segment.toString())
                .hasMessageContaining("belongs to another log");
    }

    @Test
    void openFailsOnAFileNamedLikeASegmentThatIsNotOne() throws IOException {
        var written = writeDurable(dir, 5);
        var impostor = WalTestFiles.segmentPath(dir, written.get(4).end() + 4096);
        Files.write(impostor, "I am not a WAL segment, but I have a name like one. ".repeat(3).getBytes());

        assertThatThrownBy(() -> WriteAheadLog.open(dir, small().build()))
                .isInstanceOf(WalCorruptionException.class)
                .hasMessageContaining(impostor.toString())
                .hasMessageContaining("not a laminar WAL segment");
    }

    private void assertNothingChanged(Map<String, byte[]> before) {
        var after = snapshot(dir);
        assertThat(after.keySet()).as("files after a failed open").containsExactlyElementsOf(before.keySet());
        before.forEach((name, bytes) -> assertThat(after.get(name)).as("bytes of %s", name).isEqualTo(bytes));
    }

    // ---- CorruptionPolicy.TRUNCATE ---------------------------------------------------------------

    @Test
    void truncatePolicyCutsAtTheFirstBadRecordAndKeepsEveryCutByte() throws IOException {
        var written = writeSegments(dir, 4);
        var segments = segments(dir);
        var damagedSegment = segments.get(1);
        var inDamaged = recordsIn(damagedSegment, written);
        int bad = written.indexOf(inDamaged.get(inDamaged.size() / 3));
        var badRecord = written.get(bad);
        long offset = offsetOf(badRecord);
        flip(damagedSegment, offset + 30);
        var lastInDamaged = inDamaged.get(inDamaged.size() - 1);
        long cutBytes = lastInDamaged.end() - badRecord.position();
        var recordsPerSegment = segments.stream().map(s -> recordsIn(s, written).size()).toList();
        var before = snapshot(dir);

        try (var wal = WriteAheadLog.open(dir, small().corruptionPolicy(CorruptionPolicy.TRUNCATE).build())) {
            var report = wal.recoveryReport();
            var dropped = report.dropped();
            assertThat(dropped).hasSize(1 + segments.size() - 2);

            var cut = dropped.get(0);
            assertThat(cut.file()).isEqualTo(damagedSegment);
            assertThat(cut.fromPosition()).isEqualTo(badRecord.position());
            assertThat(cut.bytes()).isEqualTo(cutBytes);
            assertThat(cut.validRecords()).isEqualTo(inDamaged.size() - inDamaged.indexOf(badRecord) - 1);
            assertThat(cut.keptAs()).isEqualTo(dir.resolve(damagedSegment.getFileName() + ".dropped-" + offset));
            assertThat(cut.reason()).contains("file offset " + offset).contains("CRC32C");
            var original = before.get(damagedSegment.getFileName().toString());
            assertThat(Files.readAllBytes(cut.keptAs()))
                    .isEqualTo(java.util.Arrays.copyOfRange(original, (int) offset, (int) (offset + cutBytes)));

            for (int i = 2; i < segments.size(); i++) {
                var whole = dropped.get(i - 1);
                var segment = segments.get(i);
                assertThat(whole.file()).isEqualTo(segment);
                assertThat(whole.fromPosition()).isEqualTo(base(segment));
                assertThat(whole.bytes()).isEqualTo(SEGMENT_SIZE);
                assertThat(whole.validRecords()).isEqualTo((long) recordsPerSegment.get(i));
                assertThat(whole.keptAs()).isEqualTo(dir.resolve(segment.getFileName() + ".dropped"));
                assertThat(segment).doesNotExist();
                assertThat(Files.readAllBytes(whole.keptAs())).isEqualTo(before.get(segment.getFileName().toString()));
            }

            var kept = written.subList(0, bad);
            assertRecords(wal, kept);
            assertThat(report.tornTailBytes()).isZero();
            assertThat(wal.statistics().tornTailRepairs()).isZero();
            assertThat(wal.statistics().truncatedBytes())
                    .isEqualTo(dropped.stream().mapToLong(WalRecoveryReport.DroppedRegion::bytes).sum());
            assertThat(report.endPosition()).isEqualTo(badRecord.position());
            assertThat(report.segments()).isEqualTo(2);
            // The cut region is zeros on disk now.
            assertThat(read(damagedSegment, offset, (int) cutBytes)).containsOnly(0);

            assertThat(wal.appendDurable(payload(5000)).join()).isEqualTo(badRecord.position());
        }
        var expected = new ArrayList<>(written.subList(0, bad));
        expected.add(new Written(badRecord.position(), payload(5000)));
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertThat(wal.recoveryReport().dropped()).isEmpty();
            assertThat(wal.recoveryReport().tornTailBytes()).isZero();
            assertRecords(wal, expected);
        }
    }

    @Test
    void truncatePolicyCutsADamagedRecordOutOfTheNewestSegment() throws IOException {
        var written = writeDurable(dir, 20);
        var bad = written.get(10);
        var segment = segmentFor(dir, bad.position());
        long offset = offsetOf(bad);
        flip(segment, offset + 24);
        long cutBytes = written.get(19).end() - bad.position();
        var cutRegion = read(segment, offset, (int) cutBytes);

        try (var wal = WriteAheadLog.open(dir, small().corruptionPolicy(CorruptionPolicy.TRUNCATE).build())) {
            var dropped = wal.recoveryReport().dropped();
            assertThat(dropped).hasSize(1);
            var cut = dropped.get(0);
            assertThat(cut.file()).isEqualTo(segment);
            assertThat(cut.fromPosition()).isEqualTo(bad.position());
            assertThat(cut.bytes()).isEqualTo(cutBytes);
            assertThat(cut.validRecords()).isEqualTo(9);
            assertThat(Files.readAllBytes(cut.keptAs())).isEqualTo(cutRegion);
            assertThat(wal.recoveryReport().tornTailBytes()).isZero();
            assertRecords(wal, written.subList(0, 10));
            assertThat(wal.append(payload(77))).isEqualTo(bad.position());
        }
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            var expected = new ArrayList<>(written.subList(0, 10));
            expected.add(new Written(bad.position(), payload(77)));
            assertRecords(wal, expected);
        }
    }

    @Test
    void truncatePolicyKeepsTheRecordsOfASealedSegmentAfterAZeroedRecord() throws IOException {
        var written = writeSegments(dir, 3);
        var sealed = segments(dir).get(0);
        var inSealed = recordsIn(sealed, written);
        var hole = inSealed.get(inSealed.size() / 2);
        long offset = offsetOf(hole);
        zero(sealed, offset, offset + (hole.end() - hole.position()));
        var last = inSealed.get(inSealed.size() - 1);
        var region = read(sealed, offset, (int) (last.end() - hole.position()));

        try (var wal = WriteAheadLog.open(dir, small().corruptionPolicy(CorruptionPolicy.TRUNCATE).build())) {
            var cut = wal.recoveryReport().dropped().get(0);
            assertThat(cut.file()).isEqualTo(sealed);
            assertThat(cut.fromPosition()).isEqualTo(hole.position());
            assertThat(cut.validRecords()).isEqualTo(inSealed.size() - inSealed.indexOf(hole) - 1);
            assertThat(Files.readAllBytes(cut.keptAs())).isEqualTo(region);
            assertThat(wal.recoveryReport().tornTailBytes()).isZero();
            assertRecords(wal, written.subList(0, written.indexOf(hole)));
        }
    }

    @Test
    void truncatePolicyRestartsTheLogWhereItsFirstSegmentBeganWhenEverySegmentIsCut() throws IOException {
        writeSegments(dir, 2);
        var segments = segments(dir);
        flip(segments.get(0), 0);
        var before = snapshot(dir);

        try (var wal = WriteAheadLog.open(dir, small().corruptionPolicy(CorruptionPolicy.TRUNCATE).build())) {
            var dropped = wal.recoveryReport().dropped();
            assertThat(dropped).hasSize(segments.size());
            for (int i = 0; i < segments.size(); i++) {
                assertThat(dropped.get(i).file()).isEqualTo(segments.get(i));
                assertThat(Files.readAllBytes(dropped.get(i).keptAs()))
                        .isEqualTo(before.get(segments.get(i).getFileName().toString()));
            }
            assertThat(readAll(wal)).isEmpty();
            assertThat(wal.startPosition()).isZero();
            assertThat(wal.append(payload(1))).isZero();
        }
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertRecords(wal, List.of(new Written(0, payload(1))));
        }
    }

    /** Two cuts at the same place (a bad sector, say) keep both cut regions: nothing is overwritten. */
    @Test
    void truncatePolicyNeverOverwritesBytesThatAnEarlierCutKept() throws IOException {
        var truncate = small().corruptionPolicy(CorruptionPolicy.TRUNCATE).build();
        var written = writeDurable(dir, 20);
        var bad = written.get(10);
        var segment = segmentFor(dir, bad.position());
        long offset = offsetOf(bad);
        flip(segment, offset + 24);
        Path firstKept;
        byte[] firstRegion;
        try (var wal = WriteAheadLog.open(dir, truncate)) {
            firstKept = wal.recoveryReport().dropped().get(0).keptAs();
            firstRegion = Files.readAllBytes(firstKept);
            for (int i = 0; i < 5; i++) {
                wal.appendDurable(payload(100 + i)).join();
            }
        }
        flip(segment, offset + 24);
        try (var wal = WriteAheadLog.open(dir, truncate)) {
            var secondKept = wal.recoveryReport().dropped().get(0).keptAs();
            assertThat(secondKept).isNotEqualTo(firstKept);
            assertThat(secondKept.getFileName().toString()).contains(".dropped");
            assertThat(Files.readAllBytes(firstKept)).isEqualTo(firstRegion);
            assertThat(Files.size(secondKept)).isEqualTo(wal.recoveryReport().dropped().get(0).bytes());
        }

        // The same for whole segments: a log cut away completely, twice.
        var whole = dir.resolve("whole");
        writeDurable(whole, 3);
        flip(segments(whole).get(0), 0);
        Path firstSegmentKept;
        try (var wal = WriteAheadLog.open(whole, truncate)) {
            firstSegmentKept = wal.recoveryReport().dropped().get(0).keptAs();
        }
        byte[] firstSegmentBytes = Files.readAllBytes(firstSegmentKept);
        flip(segments(whole).get(0), 0);
        try (var wal = WriteAheadLog.open(whole, truncate)) {
            var secondSegmentKept = wal.recoveryReport().dropped().get(0).keptAs();
            assertThat(secondSegmentKept).isNotEqualTo(firstSegmentKept);
            assertThat(Files.readAllBytes(firstSegmentKept)).isEqualTo(firstSegmentBytes);
        }
    }

    // ---- random damage ---------------------------------------------------------------------------

    /**
     * Flips 1 to 3 random bytes anywhere in the segment files of a fresh copy of a pristine
     * multi-segment log and checks the open against a model of the format: a damaged header or a
     * damaged record of a sealed segment fails the open, and so does a damaged record of the newest
     * segment when an intact later record's durable mark passes it; otherwise the log opens to the
     * records before the first damaged one, byte for byte, and keeps working. Padding bytes and the
     * zero tail of sealed segments are not data. A failed open changes nothing on disk; no read
     * returns altered bytes.
     *
     * <p>Run with {@code -Dlaminar.flip.seed=<seed>} to repeat a run, {@code -Dlaminar.flip.rounds=<n>}
     * for more rounds.
     */
    @Test
    void randomByteFlipsAreDetectedOrOpenToAPrefixOfTheOriginalRecords() throws IOException {
        long seed = Long.getLong("laminar.flip.seed", new Random().nextLong());
        int rounds = Integer.getInteger("laminar.flip.rounds", 200);
        System.out.println("WalCorruptionTest random byte flips: seed " + seed + " (-Dlaminar.flip.seed=" + seed
                + "), " + rounds + " rounds");
        var random = new Random(seed);

        var pristine = dir.resolve("pristine");
        var written = new ArrayList<Written>();
        try (var wal = WriteAheadLog.open(pristine, small().syncPolicy(SyncPolicy.none()).build())) {
            // Two sealed segments, then 40 records more in the newest one (about a third of it). The
            // sealed ones get a sync now and then; the newest one a single sync after its 20th
            // record, so that damage to its first 20 is proven synced and damage after is not.
            for (int i = 0, more = 40; more > 0; i++) {
                var bytes = payload(random.nextInt(1000));
                boolean inNewest = wal.segments().size() >= 3;
                boolean sync = inNewest ? more == 21 : i % 9 == 4;
                written.add(new Written(sync ? wal.appendDurable(bytes).join() : wal.append(bytes), bytes));
                if (inNewest) {
                    more--;
                }
            }
        }
        var files = segments(pristine);
        int newest = files.size() - 1;
        // Where each record's frame lies, and its durable mark.
        int[] segmentOf = new int[written.size()];
        long[] frameOffset = new long[written.size()];
        long[] durableMark = new long[written.size()];
        for (int r = 0; r < written.size(); r++) {
            var segment = segmentFor(pristine, written.get(r).position());
            segmentOf[r] = files.indexOf(segment);
            frameOffset[r] = fileOffset(segment, written.get(r).position());
            durableMark[r] = WalTestFiles.readLongLittleEndian(segment, frameOffset[r] + WalFormat.OFFSET_DURABLE);
        }
        long newestDataEnd = fileOffset(files.get(newest), written.get(written.size() - 1).end());
        assertThat(java.util.Arrays.stream(segmentOf).filter(s -> s == newest).count()).isGreaterThan(20);

        int failedOpens = 0;
        int tornTails = 0;
        int recordsCut = 0;
        for (int round = 0; round < rounds; round++) {
            var copy = dir.resolve("round-" + round);
            WalTestFiles.copyDirectory(pristine, copy);
            var copyFiles = segments(copy);
            int flips = 1 + random.nextInt(3);
            var flipped = new HashSet<String>();
            boolean headerHit = false;
            boolean newestTailHit = false;
            var hitRecords = new java.util.TreeSet<Integer>();
            var description = new StringBuilder();
            // Half the rounds damage only the newest segment, where torn tails and durable marks matter.
            boolean newestOnly = random.nextBoolean();
            while (flipped.size() < flips) {
                int file = newestOnly ? newest : random.nextInt(copyFiles.size());
                long offset = random.nextInt(SEGMENT_SIZE);
                if (!flipped.add(file + ":" + offset)) {
                    continue;
                }
                int mask = 1 + random.nextInt(255);
                flip(copyFiles.get(file), offset, mask);
                description.append(String.format(" [segment %d offset %d xor 0x%02x]", file, offset, mask));
                headerHit |= offset < WalFormat.SEGMENT_HEADER_LENGTH;
                newestTailHit |= file == newest && offset >= newestDataEnd;
                for (int r = 0; r < written.size(); r++) {
                    long frameLength = WalTestFiles.frameLength(written.get(r).payload().length);
                    if (segmentOf[r] == file && offset >= frameOffset[r] && offset < frameOffset[r] + frameLength) {
                        hitRecords.add(r); // padding after the frame is not covered, and is never data
                    }
                }
            }
            var context = "seed " + seed + ", round " + round + ", flips" + description;

            // The model: what the open must do.
            int firstHit = hitRecords.isEmpty() ? written.size() : hitRecords.first();
            boolean sealedHit = hitRecords.stream().anyMatch(r -> segmentOf[r] != newest);
            boolean provenSynced = false;
            for (int r = firstHit + 1; r < written.size(); r++) {
                provenSynced |= !hitRecords.contains(r) && durableMark[r] > written.get(firstHit).position();
            }
            boolean expectCorruption = headerHit || sealedHit || provenSynced;
            boolean expectTornTail = firstHit < written.size() || newestTailHit;

            if (expectCorruption) {
                var before = snapshot(copy);
                assertThatThrownBy(() -> WriteAheadLog.open(copy, small().build())).as(context)
                        .isInstanceOf(WalCorruptionException.class);
                var after = snapshot(copy);
                assertThat(after.keySet()).as(context).isEqualTo(before.keySet());
                before.forEach((name, bytes) -> assertThat(after.get(name)).as(context).isEqualTo(bytes));
                failedOpens++;
            } else {
                var expected = new ArrayList<>(written.subList(0, firstHit));
                try (var wal = WriteAheadLog.open(copy, small().build())) {
                    assertThat(wal.recoveryReport().tornTailBytes() > 0).as(context).isEqualTo(expectTornTail);
                    assertRecordsOrFail(wal, expected, context);
                    long next = wal.append(payload(7777));
                    assertThat(next).as(context).isEqualTo(firstHit == 0
                            ? written.get(0).position() : written.get(firstHit - 1).end());
                    expected.add(new Written(next, payload(7777)));
                }
                try (var wal = WriteAheadLog.open(copy, small().build())) {
                    assertThat(wal.recoveryReport().tornTailBytes()).as(context).isZero();
                    assertRecordsOrFail(wal, expected, context);
                }
                tornTails += expectTornTail ? 1 : 0;
                recordsCut += firstHit < written.size() ? 1 : 0;
            }
            deleteDirectory(copy);
        }
        System.out.println("WalCorruptionTest random byte flips: " + failedOpens + " opens refused as corrupt, "
                + tornTails + " torn tails cut (" + recordsCut + " of them with records), "
                + (rounds - failedOpens - tornTails) + " harmless");
    }

    private static void assertRecordsOrFail(WriteAheadLog wal, List<Written> expected, String context) {
        List<Written> actual;
        try {
            actual = readAll(wal);
        } catch (WalCorruptionException e) {
            throw new AssertionError(context + ": the open succeeded but a read found corruption: " + e, e);
        }
        assertThat(actual).as(context).hasSameSizeAs(expected);
        for (int i = 0; i < expected.size(); i++) {
            assertThat(actual.get(i).position()).as(context).isEqualTo(expected.get(i).position());
            assertThat(actual.get(i).payload()).as(context).isEqualTo(expected.get(i).payload());
        }
    }

    private static void deleteDirectory(Path directory) throws IOException {
        try (Stream<Path> walk = Files.walk(directory)) {
            for (var path : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }

    // ---- the reader --------------------------------------------------------------------------------

    @Test
    void readerRefusesARecordDamagedWhileTheLogIsOpen() {
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            var written = new ArrayList<Written>();
            for (int i = 0; i < 20; i++) {
                written.add(new Written(wal.append(payload(i)), payload(i)));
            }
            wal.sync().join();
            var damaged = written.get(7);
            var segment = segmentFor(dir, damaged.position());
            long offset = fileOffset(segment, damaged.position());
            flip(segment, offset + 30); // through a channel of its own, as a failing disk would

            try (var reader = wal.reader()) {
                for (int i = 0; i < 7; i++) {
                    assertThat(reader.next().payloadBytes()).isEqualTo(payload(i));
                }
                for (int attempt = 0; attempt < 2; attempt++) {
                    var e = catchThrowableOfType(WalCorruptionException.class, reader::next);
                    assertThat(e).isNotNull();
                    assertThat(e.file()).isEqualTo(segment);
                    assertThat(e.fileOffset()).isEqualTo(offset);
                    assertThat(e.getMessage()).contains(segment.toString()).contains("file offset " + offset)
                            .contains("CRC32C");
                }
                assertThat(reader.position()).isEqualTo(damaged.position());
            }
            try (var reader = wal.reader(damaged.position())) {
                assertThatThrownBy(reader::next).isInstanceOf(WalCorruptionException.class)
                        .hasMessageContaining("file offset " + offset);
            }
            // Records after the damage can still be read by a reader that starts past it.
            try (var reader = wal.reader(written.get(8).position())) {
                assertThat(reader.next().payloadBytes()).isEqualTo(payload(8));
            }
        }
    }

    /**
     * A reader asked to start at a record whose header is damaged reports corruption, not a bad
     * start position: the position is a record's, as the frames before it show.
     *
     * @param byteInFrame 0: the length; 9: the position field
     */
    @ParameterizedTest
    @ValueSource(ints = {0, 9})
    void readerStartingAtARecordWithADamagedHeaderReportsCorruption(int byteInFrame) {
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            var positions = new ArrayList<Long>();
            for (int i = 0; i < 20; i++) {
                positions.add(wal.append(payload(i)));
            }
            wal.sync().join();
            long damaged = positions.get(12);
            var segment = segmentFor(dir, damaged);
            flip(segment, fileOffset(segment, damaged) + byteInFrame, 0x40);

            try (var reader = wal.reader(damaged)) {
                assertThatThrownBy(reader::next).isInstanceOf(WalCorruptionException.class)
                        .hasMessageContaining(segment.toString())
                        .hasMessageContaining("file offset " + fileOffset(segment, damaged));
            }
        }
    }
}

package io.laminar.storage.wal;

import static io.laminar.storage.wal.WalTestFiles.Written;
import static io.laminar.storage.wal.WalTestFiles.readAll;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Bad input to the log: records too large, reader positions that are not records, invalid
 * options, unusable directories and a second open of one log. Each is refused with a message that
 * names the value and the setting, and leaves the log as it was.
 */
class WalBadInputTest {

    @TempDir
    Path dir;

    private static WalOptions.Builder small() {
        return WalTestBackend.options().segmentSize(64 * 1024).maxRecordSize(4096).writeBufferSize(16 * 1024);
    }

    private static byte[] payload(int i) {
        return WalCorruptionTest.payload(i);
    }

    private static List<Written> append(WriteAheadLog wal, int count) {
        var written = new ArrayList<Written>();
        for (int i = 0; i < count; i++) {
            written.add(new Written(wal.append(payload(i)), payload(i)));
        }
        wal.sync().join();
        return written;
    }

    // ---- records --------------------------------------------------------------------------------

    @Test
    void appendRejectsARecordLargerThanMaxRecordSize() {
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            var before = append(wal, 3);
            long end = wal.endPosition();

            for (var tooLarge : List.<Runnable>of(
                    () -> wal.append(new byte[4097]),
                    () -> wal.append(ByteBuffer.allocateDirect(4097)),
                    () -> wal.appendDurable(new byte[4097]),
                    () -> wal.append(new byte[1 << 20]))) {
                assertThatThrownBy(tooLarge::run).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("bytes is larger than maxRecordSize (4096 bytes)")
                        .hasMessageContaining(dir.toString());
            }
            assertThatThrownBy(() -> wal.append(new byte[4097])).hasMessageContaining("a record of 4097 bytes");

            // Nothing was reserved for the refused records; a record of exactly maxRecordSize is fine.
            assertThat(wal.endPosition()).isEqualTo(end);
            var largest = new byte[4096];
            java.util.Arrays.fill(largest, (byte) 7);
            long position = wal.appendDurable(largest).join();
            assertThat(position).isEqualTo(end);
            var all = readAll(wal);
            assertThat(all).hasSize(4);
            assertThat(all.get(0).payload()).isEqualTo(before.get(0).payload());
            assertThat(all.get(3).payload()).isEqualTo(largest);
        }
    }

    @Test
    void emptyRecordsAreAccepted() {
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            long position = wal.appendDurable(new byte[0]).join();
            assertThat(wal.endPosition()).isEqualTo(position + WalFormat.FRAME_HEADER_LENGTH);
            try (var reader = wal.reader()) {
                assertThat(reader.next().payloadBytes()).isEmpty();
            }
        }
    }

    // ---- reader positions -----------------------------------------------------------------------

    @Test
    void readerRejectsAPositionBeyondTheEnd() {
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            append(wal, 5);
            long end = wal.endPosition();
            for (long beyond : new long[] {end + 8, end + 4096, Long.MAX_VALUE & -8}) {
                assertThatThrownBy(() -> wal.reader(beyond)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("starts at position " + beyond)
                        .hasMessageContaining("holds positions 0 to " + end);
            }
            // The end itself is where the next record will be: a reader there has nothing to read yet.
            try (var reader = wal.reader(end)) {
                assertThat(reader.next()).isNull();
                long next = wal.appendDurable(payload(9)).join();
                assertThat(reader.next().position()).isEqualTo(next);
            }
        }
    }

    @Test
    void readerRejectsAMisalignedPosition() {
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            var written = append(wal, 5);
            for (long misaligned : new long[] {1, 3, written.get(2).position() + 4, written.get(4).position() - 1}) {
                assertThatThrownBy(() -> wal.reader(misaligned)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("starts at position " + misaligned);
            }
        }
    }

    @Test
    void readerRejectsANegativePosition() {
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            append(wal, 2);
            assertThatThrownBy(() -> wal.reader(-8)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("-8");
        }
    }

    /**
     * An aligned position inside a record is not a record: the bytes there are part of another
     * record's header or payload. That is a bad argument, not corruption of the log.
     */
    @Test
    void readerRejectsAPositionInsideARecord() {
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            var written = append(wal, 30);
            for (var record : List.of(written.get(0), written.get(1), written.get(17), written.get(29))) {
                for (long inside = record.position() + 8; inside < record.end(); inside += 8) {
                    long position = inside;
                    assertThatThrownBy(() -> {
                        try (var reader = wal.reader(position)) {
                            reader.next();
                        }
                    }).as("position %d inside the record at %d", position, record.position())
                            .isInstanceOf(IllegalArgumentException.class)
                            .hasMessageContaining("no record of the WAL in " + dir + " starts at position " + position);
                }
            }
            // Every real record start still works.
            for (var record : written) {
                try (var reader = wal.reader(record.position())) {
                    assertThat(reader.next().payloadBytes()).isEqualTo(record.payload());
                }
            }
        }
    }

    @Test
    void readerRejectsAPositionThatWasTruncatedAway() {
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            var written = new ArrayList<Written>();
            while (wal.segments().size() < 3) {
                written.addAll(append(wal, 20));
            }
            long secondSegment = wal.segments().higherKey(0L);
            assertThat(wal.truncateBefore(secondSegment)).isEqualTo(1);
            for (var record : written) {
                if (record.position() < secondSegment) {
                    assertThatThrownBy(() -> wal.reader(record.position()))
                            .isInstanceOf(IllegalArgumentException.class)
                            .hasMessageContaining("position " + record.position())
                            .hasMessageContaining("truncated away")
                            .hasMessageContaining("oldest position still in the log is " + secondSegment);
                }
            }
            try (var reader = wal.reader()) {
                assertThat(reader.position()).isEqualTo(secondSegment);
                assertThat(reader.next()).isNotNull();
            }
        }
    }

    // ---- options ------------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(longs = {0, -1, 4096, 65528, 65537, 65540, (1L << 30) + 8, Long.MAX_VALUE})
    void optionsRejectAnInvalidSegmentSize(long segmentSize) {
        assertThatThrownBy(() -> WalTestBackend.options().segmentSize(segmentSize).maxRecordSize(1024).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("segmentSize")
                .hasMessageContaining("but was " + segmentSize);
    }

    @Test
    void optionsRejectAMaxRecordSizeThatDoesNotFitInASegment() {
        // 64 bytes of segment header and 24 of frame header leave 65448 bytes for one record.
        assertThat(WalTestBackend.options().segmentSize(65536).maxRecordSize(65448).build().maxRecordSize())
                .isEqualTo(65448);
        for (int tooLarge : new int[] {65449, 65536, Integer.MAX_VALUE}) {
            assertThatThrownBy(() -> WalTestBackend.options().segmentSize(65536).maxRecordSize(tooLarge).build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("maxRecordSize (" + tooLarge + ") must fit in one segment")
                    .hasMessageContaining("segmentSize was 65536");
        }
        // The default segment size with a too-large maxRecordSize.
        assertThatThrownBy(() -> WalTestBackend.options().maxRecordSize(128 << 20).build())
                .hasMessageContaining("maxRecordSize (" + (128 << 20) + ")");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, Integer.MIN_VALUE})
    void optionsRejectANonPositiveMaxRecordSize(int maxRecordSize) {
        assertThatThrownBy(() -> WalTestBackend.options().maxRecordSize(maxRecordSize).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maxRecordSize must be at least 1, but was " + maxRecordSize);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "a/b", "../up", "-x", "x-", "a--b", "a b", "wal.log", "ö", "*"})
    void optionsRejectABadName(String name) {
        assertThatThrownBy(() -> WalTestBackend.options().name(name).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("name must be")
                .hasMessageContaining("but was '" + name + "'");
    }

    @Test
    void optionsRejectANullOrTooLongName() {
        assertThatThrownBy(() -> WalTestBackend.options().name(null).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("but was 'null'");
        var tooLong = "n".repeat(65);
        assertThatThrownBy(() -> WalTestBackend.options().name(tooLong).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("but was '" + tooLong + "'");
        assertThat(WalTestBackend.options().name("n".repeat(64)).build().name()).hasSize(64);
        assertThat(WalTestBackend.options().name("orders-v2_eu").build().name()).isEqualTo("orders-v2_eu");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 4095, -1, (1 << 30) + 1})
    void optionsRejectAnInvalidWriteBufferSize(int writeBufferSize) {
        assertThatThrownBy(() -> WalTestBackend.options().writeBufferSize(writeBufferSize).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("writeBufferSize")
                .hasMessageContaining("but was " + writeBufferSize);
    }

    @Test
    void optionsRejectMissingPolicies() {
        assertThatThrownBy(() -> WalTestBackend.options().syncPolicy(null).build()).hasMessageContaining("syncPolicy");
        assertThatThrownBy(() -> WalTestBackend.options().corruptionPolicy(null).build())
                .hasMessageContaining("corruptionPolicy");
    }

    // ---- directories and the lock -------------------------------------------------------------------

    @Test
    void openRefusesARegularFileAsTheDirectory() throws IOException {
        var file = Files.write(dir.resolve("not-a-directory"), new byte[] {1, 2, 3});

        assertThatThrownBy(() -> WriteAheadLog.open(file, small().build()))
                .isInstanceOfSatisfying(WalDirectoryException.class, e -> assertThat(e.directory()).isEqualTo(file))
                .hasMessageContaining("cannot create the WAL directory " + file)
                .hasMessageContaining("check that the path is a directory");
        assertThat(Files.readAllBytes(file)).containsExactly(1, 2, 3);
    }

    @Test
    void openRefusesADirectoryBelowARegularFile() throws IOException {
        var file = Files.write(dir.resolve("plain-file"), new byte[] {1});
        var below = file.resolve("wal");

        assertThatThrownBy(() -> WriteAheadLog.open(below, small().build()))
                .isInstanceOfSatisfying(WalDirectoryException.class, e -> assertThat(e.directory()).isEqualTo(below))
                .hasMessageContaining("cannot create the WAL directory " + below);
    }

    @Test
    void secondOpenOfTheSameLogIsRefusedAndLeavesTheFirstWorking() {
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            var written = append(wal, 5);
            for (var policy : CorruptionPolicy.values()) {
                assertThatThrownBy(() -> WriteAheadLog.open(dir, small().corruptionPolicy(policy).build()))
                        .isInstanceOfSatisfying(WalLockedException.class,
                                e -> assertThat(e.lockFile()).isEqualTo(dir.resolve("wal.lock")))
                        .hasMessageContaining("already open")
                        .hasMessageContaining(dir.resolve("wal.lock").toString());
            }
            written.add(new Written(wal.appendDurable(payload(5)).join(), payload(5)));
            assertThat(readAll(wal)).hasSize(6);
        }
        // Closed: the lock is free again, and nothing was lost.
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertThat(readAll(wal)).hasSize(6);
        }
    }

    @Test
    void logsWithDifferentNamesShareADirectory() {
        try (var a = WriteAheadLog.open(dir, small().name("a").build());
             var b = WriteAheadLog.open(dir, small().name("a-b").build())) {
            a.appendDurable(payload(1)).join();
            b.appendDurable(payload(2)).join();
            b.appendDurable(payload(3)).join();
        }
        try (var a = WriteAheadLog.open(dir, small().name("a").build());
             var b = WriteAheadLog.open(dir, small().name("a-b").build())) {
            assertThat(readAll(a)).hasSize(1);
            assertThat(readAll(b)).hasSize(2);
        }
    }

    @Test
    void aFailedOpenReleasesTheLock() {
        List<Written> written;
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            written = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                written.add(new Written(wal.appendDurable(payload(i)).join(), payload(i)));
            }
        }
        var segment = WalTestFiles.segments(dir).get(0);
        WalTestFiles.flip(segment, WalTestFiles.fileOffset(segment, written.get(4).position()) + 24);

        assertThatThrownBy(() -> WriteAheadLog.open(dir, small().build())).isInstanceOf(WalCorruptionException.class);
        assertThatThrownBy(() -> WriteAheadLog.open(dir, small().build())).isInstanceOf(WalCorruptionException.class);
        try (var wal = WriteAheadLog.open(dir, small().corruptionPolicy(CorruptionPolicy.TRUNCATE).build())) {
            assertThat(readAll(wal)).hasSize(4);
        }
    }
}

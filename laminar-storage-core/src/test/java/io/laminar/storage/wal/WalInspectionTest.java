package io.laminar.storage.wal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** WalInspection classifies as WriteAheadLog.open does, and changes nothing. */
class WalInspectionTest {

    @TempDir
    Path dir;

    private WalOptions options(CorruptionPolicy policy) {
        return WalTestBackend.options().segmentSize(64 * 1024).maxRecordSize(4096).corruptionPolicy(policy).build();
    }

    private void write(int records) {
        try (var wal = WriteAheadLog.open(dir, options(CorruptionPolicy.FAIL))) {
            for (int i = 0; i < records; i++) {
                wal.appendDurable(("record-" + i + "-" + "x".repeat(200)).getBytes(StandardCharsets.UTF_8)).join();
            }
        }
    }

    @Test
    void cleanLogAndItsRecords() throws IOException {
        write(600); // several segments
        var before = snapshot();
        var inspection = WalInspection.of(dir, "wal");
        assertThat(snapshot()).isEqualTo(before);
        assertThat(inspection.clean()).isTrue();
        assertThat(inspection.segments()).hasSizeGreaterThan(1);
        assertThat(inspection.records()).isEqualTo(600);
        var read = new ArrayList<String>();
        inspection.forEachRecord(0, (record, crc, segment) -> read.add(new String(record.payloadBytes(),
                StandardCharsets.UTF_8).substring(0, 10)));
        assertThat(read).hasSize(600).startsWith("record-0-x");
        try (var wal = WriteAheadLog.open(dir, options(CorruptionPolicy.FAIL))) {
            assertThat(wal.recoveryReport().records()).isEqualTo(inspection.records());
            assertThat(wal.endPosition()).isEqualTo(inspection.endPosition());
        }
    }

    @Test
    void tornTailAsOpenSeesIt() throws IOException {
        write(3);
        var segment = dir.resolve(WalFileNames.segmentFileName("wal", 0));
        var inspected = WalInspection.of(dir, "wal");
        try (var raf = new RandomAccessFile(segment.toFile(), "rw")) {
            raf.seek(64 + inspected.endPosition());
            raf.write(new byte[] {40, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
        }
        var inspection = WalInspection.of(dir, "wal");
        assertThat(inspection.corruption()).isNull();
        assertThat(inspection.tornTail()).isNotNull();
        try (var wal = WriteAheadLog.open(dir, options(CorruptionPolicy.FAIL))) {
            assertThat(wal.recoveryReport().tornTailBytes()).isEqualTo(inspection.tornTail().bytes());
        }
    }

    @Test
    void corruptionAndTheTruncationPlanAsOpenSeesThem() throws IOException {
        write(600);
        var segment = dir.resolve(WalFileNames.segmentFileName("wal", 0));
        try (var raf = new RandomAccessFile(segment.toFile(), "rw")) {
            raf.seek(64 + 30);
            int b = raf.read();
            raf.seek(64 + 30);
            raf.write(b ^ 0xff);
        }
        var before = snapshot();
        var inspection = WalInspection.of(dir, "wal");
        assertThat(snapshot()).isEqualTo(before);
        var corruption = inspection.corruption();
        assertThat(corruption.file()).isEqualTo(segment);
        assertThat(corruption.fileOffset()).isEqualTo(64);
        assertThat(corruption.storedCrc()).isNotNull().isNotEqualTo(corruption.computedCrc());
        assertThatThrownBy(() -> WriteAheadLog.open(dir, options(CorruptionPolicy.FAIL)))
                .isInstanceOfSatisfying(WalCorruptionException.class, e -> {
                    assertThat(e.file()).isEqualTo(corruption.file());
                    assertThat(e.fileOffset()).isEqualTo(corruption.fileOffset());
                    assertThat(e.getMessage()).isEqualTo(corruption.message());
                });
        try (var wal = WriteAheadLog.open(dir, options(CorruptionPolicy.TRUNCATE))) {
            assertThat(wal.recoveryReport().dropped()).isEqualTo(inspection.truncationPlan());
            assertThat(wal.endPosition()).isEqualTo(inspection.endPosition());
        }
    }

    private Map<String, Long> snapshot() throws IOException {
        var map = new TreeMap<String, Long>();
        try (var files = Files.list(dir)) {
            for (var file : files.toList()) {
                var crc = new CRC32C();
                crc.update(Files.readAllBytes(file));
                map.put(file.getFileName().toString(), crc.getValue());
            }
        }
        return map;
    }
}

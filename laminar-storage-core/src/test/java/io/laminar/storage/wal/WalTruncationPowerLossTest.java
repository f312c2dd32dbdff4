package io.laminar.storage.wal;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.io.DiskModel;
import io.laminar.storage.io.FileIO;
import io.laminar.storage.io.PowerCut;
import io.laminar.storage.io.PowerLossFileIO;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A power cut while {@link WriteAheadLog#truncateBefore} deletes several segments: whatever the file
 * system kept of the deletions, the log opens, and every record from the truncation position on is
 * there. With deletions that persist each on its own ({@link PowerCut.Dir#EACH}), an older segment
 * may come back while a newer one stays deleted; the log must never be left with such a gap.
 */
class WalTruncationPowerLossTest {

    @TempDir
    Path tmp;

    @Test
    void aPowerCutDuringTruncationLeavesAnOpenableLogWithEveryRecordFromTheTruncationPosition() throws Exception {
        var io = new PowerLossFileIO(tmp.resolve("disk"));
        var dir = io.root().resolve("wal");
        var options = WalTestBackend.options().name("log").segmentSize(64 * 1024).maxRecordSize(8192)
                .writeBufferSize(32 * 1024).fileIO(io).build();
        long keepFrom;
        int records = 0;
        int firstKept;
        int truncationStart;
        try (var wal = WriteAheadLog.open(dir, options)) {
            var payload = new byte[4000];
            for (; records < 80; records++) {
                wal.append(payload);
            }
            keepFrom = wal.append(payload); // in the fourth segment or later
            firstKept = records++;
            for (; records < 100; records++) {
                wal.append(payload);
            }
            wal.sync().get(10, TimeUnit.SECONDS);
            truncationStart = io.position();
            assertThat(wal.truncateBefore(keepFrom)).isGreaterThanOrEqualTo(3);
        }
        int truncationEnd = io.position();
        int crashes = 0;
        for (int point = truncationStart; point <= truncationEnd; point++) {
            for (long seed = 0; seed < 8; seed++) {
                var image = DiskModel.replay(io.trace(), point).crash(new PowerCut(PowerCut.Data.KEPT,
                        PowerCut.Dir.EACH, seed));
                var target = tmp.resolve("crash-" + point + "-" + seed);
                image.writeTo(target);
                try (var wal = WriteAheadLog.open(target.resolve("wal"),
                        options.toBuilder().fileIO(FileIO.system()).build())) {
                    int found = 0;
                    boolean sawKeepFrom = false;
                    try (var reader = wal.reader()) {
                        for (WalRecord r; (r = reader.next()) != null; found++) {
                            sawKeepFrom |= r.position() == keepFrom;
                        }
                    }
                    assertThat(sawKeepFrom).as("record at %d after a cut at trace point %d (%s)", keepFrom, point,
                            image).isTrue();
                    assertThat(wal.startPosition()).isLessThanOrEqualTo(keepFrom);
                    assertThat(found).isGreaterThanOrEqualTo(records - firstKept);
                }
                crashes++;
            }
        }
        assertThat(crashes).isPositive();
        assertThat(Files.exists(dir)).isTrue();
    }
}

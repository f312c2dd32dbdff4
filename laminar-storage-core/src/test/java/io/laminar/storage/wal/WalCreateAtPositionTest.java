package io.laminar.storage.wal;

import static io.laminar.storage.wal.WriteAheadLogTest.readAll;
import static io.laminar.storage.wal.WriteAheadLogTest.record;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A log created at a position other than 0: what a WAL that adopts a checkpoint taken elsewhere needs. */
class WalCreateAtPositionTest {

    @TempDir
    Path dir;

    private static WalOptions options() {
        return WalTestBackend.options().segmentSize(64 * 1024).maxRecordSize(4096).writeBufferSize(16 * 1024).build();
    }

    @Test
    void aLogCreatedAtAPositionStartsThereRotatesAndReopensThere() throws Exception {
        long first = 5_000_000_000L; // beyond 4 GiB, a multiple of 8
        long last;
        try (var wal = WriteAheadLog.create(dir, options(), first)) {
            assertThat(wal.startPosition()).isEqualTo(first);
            assertThat(wal.endPosition()).isEqualTo(first);
            // A new log's report says where it starts, as the log does (it once said -1).
            assertThat(wal.recoveryReport().startPosition()).isEqualTo(first);
            assertThat(wal.recoveryReport().endPosition()).isEqualTo(first);
            assertThat(wal.recoveryReport().segments()).isOne();
            assertThat(wal.append(record(0))).isEqualTo(first);
            for (int i = 1; i < 500; i++) {
                last = wal.append(record(i));
                assertThat(last).isGreaterThan(first);
            }
            wal.sync().get(10, TimeUnit.SECONDS);
        }
        try (var wal = WriteAheadLog.open(dir, options())) {
            assertThat(wal.startPosition()).isEqualTo(first);
            var records = readAll(wal);
            assertThat(records).hasSize(500);
            assertThat(records.get(499)).isEqualTo(record(499));
            assertThat(wal.recoveryReport().tornTailBytes()).isZero();
        }
    }

    @Test
    void aLogThatExistsIsNeverCreatedAgainAndAPositionMustBeARecordBoundary() throws Exception {
        try (var wal = WriteAheadLog.open(dir, options())) {
            wal.append(record(1));
        }
        assertThatThrownBy(() -> WriteAheadLog.create(dir, options(), 4096)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("already holds segments");
        try (var wal = WriteAheadLog.open(dir, options())) {
            assertThat(readAll(wal)).hasSize(1); // untouched, and the lock was released
        }
        var other = dir.resolve("other");
        assertThatThrownBy(() -> WriteAheadLog.create(other, options(), 12)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("multiple of 8");
        assertThatThrownBy(() -> WriteAheadLog.create(other, options(), -8)).isInstanceOf(IllegalArgumentException.class);
    }
}

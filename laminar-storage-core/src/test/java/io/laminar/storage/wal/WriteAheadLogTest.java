package io.laminar.storage.wal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WriteAheadLogTest {

    @TempDir
    Path dir;

    private WalOptions.Builder small() {
        return WalOptions.builder().segmentSize(64 * 1024).maxRecordSize(4096).writeBufferSize(16 * 1024);
    }

    static byte[] record(int i) {
        return ("record-" + i + "-" + "x".repeat(i % 97)).getBytes(StandardCharsets.UTF_8);
    }

    static List<byte[]> readAll(WriteAheadLog wal) {
        var out = new ArrayList<byte[]>();
        try (var reader = wal.reader()) {
            for (WalRecord r; (r = reader.next()) != null; ) {
                out.add(r.payloadBytes());
            }
        }
        return out;
    }

    @Test
    void recordsRoundTripAcrossRotationAndReopen() throws Exception {
        var positions = new ArrayList<Long>();
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            for (int i = 0; i < 2000; i++) {
                positions.add(wal.append(record(i)));
            }
            wal.sync().get(10, TimeUnit.SECONDS);
            assertThat(readAll(wal)).hasSize(2000);
        }
        assertThat(Files.list(dir).filter(p -> p.toString().endsWith(".wal")).count()).isGreaterThanOrEqualTo(3);
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            var records = readAll(wal);
            assertThat(records).hasSize(2000);
            for (int i = 0; i < 2000; i++) {
                assertThat(records.get(i)).isEqualTo(record(i));
            }
            assertThat(wal.recoveryReport().tornTailBytes()).isZero();
            long next = wal.append(record(2000));
            assertThat(next).isGreaterThan(positions.get(1999));
            assertThat(wal.endPosition()).isGreaterThan(next);
        }
    }

    @Test
    void durableAppendsCompleteAfterSyncWithEveryPolicy() throws Exception {
        for (var policy : List.of(SyncPolicy.everyAppend(), SyncPolicy.groupCommit(), SyncPolicy.none(),
                SyncPolicy.interval(java.time.Duration.ofMillis(5)))) {
            var sub = dir.resolve(policy.getClass().getSimpleName());
            try (var wal = WriteAheadLog.open(sub, small().syncPolicy(policy).build())) {
                var futures = new ArrayList<CompletableFuture<Long>>();
                for (int i = 0; i < 100; i++) {
                    futures.add(wal.appendDurable(record(i)));
                }
                for (var f : futures) {
                    long p = f.get(10, TimeUnit.SECONDS);
                    assertThat(wal.durablePosition()).isGreaterThan(p);
                }
                assertThat(wal.statistics().syncs()).isPositive();
            }
        }
    }

    @Test
    void syncPolicyNoneNeverSyncsWhenTheWriteBufferFills() throws Exception {
        var options = WalOptions.builder().segmentSize(1 << 20).maxRecordSize(4096).writeBufferSize(4096)
                .syncPolicy(SyncPolicy.none()).build();
        try (var wal = WriteAheadLog.open(dir, options)) {
            var payload = new byte[200];
            for (int i = 0; i < 2000; i++) {
                wal.append(payload);
            }
            assertThat(wal.statistics().bufferFullWaits()).isPositive();
            assertThat(wal.statistics().syncs()).isZero();
            wal.sync().get(10, TimeUnit.SECONDS);
            assertThat(wal.statistics().syncs()).isEqualTo(1);
            assertThat(wal.durablePosition()).isEqualTo(wal.endPosition());
        }
    }

    @Test
    void concurrentAppendersLoseNothing() throws Exception {
        int threads = 8;
        int perThread = 3000;
        var seen = ConcurrentHashMap.<String>newKeySet();
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            var workers = new ArrayList<Thread>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                var worker = new Thread(() -> {
                    for (int i = 0; i < perThread; i++) {
                        var payload = ("t" + id + "-" + i).getBytes(StandardCharsets.UTF_8);
                        if (i % 100 == 0) {
                            wal.appendDurable(payload).join();
                        } else {
                            wal.append(payload);
                        }
                    }
                });
                workers.add(worker);
                worker.start();
            }
            for (var w : workers) {
                w.join();
            }
        }
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            for (var r : readAll(wal)) {
                seen.add(new String(r, StandardCharsets.UTF_8));
            }
        }
        assertThat(seen).hasSize(threads * perThread);
    }

    @Test
    void truncateBeforeDeletesOnlyWholeSegmentsBeforeThePosition() throws Exception {
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            long middle = 0;
            for (int i = 0; i < 3000; i++) {
                long p = wal.append(record(i));
                if (i == 1500) {
                    middle = p;
                }
            }
            wal.sync().join();
            int deleted = wal.truncateBefore(middle);
            assertThat(deleted).isPositive();
            assertThat(wal.startPosition()).isLessThanOrEqualTo(middle);
            try (var reader = wal.reader(middle)) {
                assertThat(reader.next().payloadBytes()).isEqualTo(record(1500));
            }
            long start = wal.startPosition();
            assertThatThrownBy(() -> wal.reader(start - 8)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("truncated");
        }
    }

    @Test
    void secondOpenOfTheSameLogIsRefused() {
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertThatThrownBy(() -> WriteAheadLog.open(dir, small().build()))
                    .hasMessageContaining("already open").hasMessageContaining("wal.lock");
        }
    }
}

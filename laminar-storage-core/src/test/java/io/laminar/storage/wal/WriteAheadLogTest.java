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
        return WalTestBackend.options().segmentSize(64 * 1024).maxRecordSize(4096).writeBufferSize(16 * 1024);
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
        var options = WalTestBackend.options().segmentSize(1 << 20).maxRecordSize(4096).writeBufferSize(4096)
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
    void positionsBeyondFourGibibytesWorkAcrossRotationAndReopen() throws Exception {
        long base = 5L << 30; // a log that has already written 5 GiB: int offsets would overflow here
        var segment = dir.resolve(WalFileNames.segmentFileName("wal", base));
        try (var channel = java.nio.channels.FileChannel.open(segment, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            channel.write(WalFormat.encodeSegmentHeader(base, 42, 64 * 1024), 0);
            channel.write(java.nio.ByteBuffer.allocate(1), 64 * 1024 - 1);
        }
        var positions = new ArrayList<Long>();
        try (var wal = WriteAheadLog.open(dir, small().build())) {
            assertThat(wal.startPosition()).isEqualTo(base);
            for (int i = 0; i < 1500; i++) {
                positions.add(wal.append(record(i)));
            }
            wal.sync().get(10, TimeUnit.SECONDS);
        }
        assertThat(positions.get(0)).isEqualTo(base);
        try (var wal = WriteAheadLog.open(dir, small().build()); var reader = wal.reader(positions.get(700))) {
            for (int i = 700; i < 1500; i++) {
                var r = reader.next();
                assertThat(r.position()).isEqualTo(positions.get(i));
                assertThat(r.payloadBytes()).isEqualTo(record(i));
            }
            assertThat(reader.next()).isNull();
        }
    }

    @Test
    void aReaderTailingConcurrentAppendersSeesEveryRecordInOrderAndNothingPartial() throws Exception {
        int writers = 4;
        int perWriter = 5000;
        try (var wal = WriteAheadLog.open(dir, small().syncPolicy(SyncPolicy.none()).build())) {
            var threads = new ArrayList<Thread>();
            for (int t = 0; t < writers; t++) {
                int id = t;
                threads.add(new Thread(() -> {
                    for (int i = 0; i < perWriter; i++) {
                        wal.append(("w" + id + "-" + i + "-" + "p".repeat(i % 300)).getBytes(StandardCharsets.UTF_8));
                    }
                }));
            }
            threads.forEach(Thread::start);
            var lastSeen = new int[writers];
            java.util.Arrays.fill(lastSeen, -1);
            int seen = 0;
            long previous = -1;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            try (var reader = wal.reader()) {
                while (seen < writers * perWriter && System.nanoTime() < deadline) {
                    var r = reader.next();
                    if (r == null) {
                        Thread.onSpinWait();
                        continue;
                    }
                    assertThat(r.position()).isGreaterThan(previous);
                    previous = r.position();
                    var parts = new String(r.payloadBytes(), StandardCharsets.UTF_8).split("-", -1);
                    int writer = Integer.parseInt(parts[0].substring(1));
                    int sequence = Integer.parseInt(parts[1]);
                    assertThat(parts[2]).isEqualTo("p".repeat(sequence % 300));
                    assertThat(sequence).isEqualTo(lastSeen[writer] + 1); // each writer's records in its order
                    lastSeen[writer] = sequence;
                    seen++;
                }
            }
            for (var thread : threads) {
                thread.join();
            }
            assertThat(seen).isEqualTo(writers * perWriter);
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

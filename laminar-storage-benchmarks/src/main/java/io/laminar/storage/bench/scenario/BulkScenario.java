package io.laminar.storage.bench.scenario;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.ClosedLoop;
import io.laminar.storage.bench.Payloads;
import io.laminar.storage.bench.RawFile;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Rounds;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalOptions;
import io.laminar.storage.wal.WriteAheadLog;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.HdrHistogram.Histogram;

/**
 * {@code bulk}: throughput of 1 KiB records with an fdatasync after every 1 MiB, one writer. Each
 * MiB is durable before the next is written, for both systems: laminar appends 1024 records and
 * waits for {@code sync()}; raw collects the same 1024 records in a 1 MiB buffer, writes it with one
 * {@code FileChannel.write} and calls {@code force(false)} (the cheapest way to write those bytes).
 * laminar's segments are 64 MiB, pre-written with zeros by a background thread, so its numbers
 * include that pre-writing and the rotations.
 */
public final class BulkScenario implements Scenario {

    public static final String NAME = "bulk";
    static final int RECORD_BYTES = 1024;
    static final int RECORDS_PER_SYNC = (1 << 20) / RECORD_BYTES;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        byte[] payload = Payloads.random(RECORD_BYTES, 1024);
        var systems = new ArrayList<Callable<Result>>();
        for (var backend : context.backends()) {
            systems.add(() -> laminar(context, payload, backend));
        }
        systems.add(() -> raw(context, payload));
        return Rounds.interleaved(context.settings().bulkRounds(), systems, Result::mbPerSec, "runsMbPerSec");
    }

    private long batches(long bytes) {
        return Math.max(1, bytes / ((long) RECORDS_PER_SYNC * RECORD_BYTES));
    }

    private Result laminar(BenchContext context, byte[] payload, WalIoBackend backend) throws Exception {
        var dir = context.newDirectory(NAME + "-laminar-" + backend.propertyValue());
        var options = WalOptions.builder().syncPolicy(SyncPolicy.none()).ioBackend(backend).build();
        try (var wal = WriteAheadLog.open(dir, options)) {
            BenchContext.settleAfterOpen();
            var buffer = ByteBuffer.wrap(payload);
            Batch batch = () -> {
                for (int i = 0; i < RECORDS_PER_SYNC; i++) {
                    wal.append(buffer);
                }
                wal.sync().join();
            };
            runBatches(batch, batches(context.settings().bulkWarmupBytes()), null);
            var stats = wal.statistics();
            long syncsBefore = stats.syncs();
            long syncNanosBefore = stats.syncNanosTotal();
            var result = measure(context, DurableSingleScenario.laminarRow(NAME, backend, 1, RECORD_BYTES), batch);
            long syncs = stats.syncs() - syncsBefore;
            return result.extra("syncs", syncs)
                    .extra("syncMicros", Result.round((stats.syncNanosTotal() - syncNanosBefore) / 1e3 / syncs, 1))
                    .extra("segmentBytes", options.segmentSize());
        } finally {
            BenchContext.deleteTree(dir);
        }
    }

    private Result raw(BenchContext context, byte[] payload) throws Exception {
        var dir = context.newDirectory(NAME + "-raw");
        try (var file = new RawFile(dir.resolve("raw.log"))) {
            BenchContext.settleAfterOpen();
            var chunk = ByteBuffer.allocateDirect(RECORDS_PER_SYNC * RECORD_BYTES);
            Batch batch = () -> {
                chunk.clear();
                for (int i = 0; i < RECORDS_PER_SYNC; i++) {
                    chunk.put(payload);
                }
                file.write(chunk.flip());
                file.sync();
            };
            runBatches(batch, batches(context.settings().bulkWarmupBytes()), null);
            return measure(context, new Result(NAME, "raw", 1, RECORD_BYTES), batch);
        } finally {
            BenchContext.deleteTree(dir);
        }
    }

    /** Writes 1 MiB (1024 records) and waits until it is durable. */
    @FunctionalInterface
    private interface Batch {
        void run() throws Exception;
    }

    /** Times the measured batches: MB/s over all of them, and the latency of each 1 MiB batch as extras. */
    private Result measure(BenchContext context, Result row, Batch batch) throws Exception {
        long count = batches(context.settings().bulkBytes());
        var histogram = ClosedLoop.newHistogram();
        long start = System.nanoTime();
        runBatches(batch, count, histogram);
        double seconds = (System.nanoTime() - start) / 1e9;
        return row.throughput(count * RECORDS_PER_SYNC, seconds)
                .extra("batchP50Micros", histogram.getValueAtPercentile(50) / 1e3)
                .extra("batchP99Micros", histogram.getValueAtPercentile(99) / 1e3)
                .extra("batchMaxMicros", histogram.getMaxValue() / 1e3);
    }

    private static void runBatches(Batch batch, long count, Histogram latencies) throws Exception {
        for (long i = 0; i < count; i++) {
            long t0 = System.nanoTime();
            batch.run();
            if (latencies != null) {
                latencies.recordValue(System.nanoTime() - t0);
            }
        }
    }
}

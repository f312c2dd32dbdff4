package io.laminar.storage.bench.scenario;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.ClosedLoop;
import io.laminar.storage.bench.Payloads;
import io.laminar.storage.bench.RawPrewritten;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Rounds;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalOptions;
import io.laminar.storage.wal.WriteAheadLog;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code durable-group}: 1, 8 and 64 closed-loop writers, each waiting for its 128 B record to be
 * durable before writing the next ({@code appendDurable(..).join()}), so concurrent writers share
 * fdatasyncs through group commit. RocksDB sync puts with the same thread counts (its WAL groups
 * concurrent writes as well); one raw writer with an fdatasync per record is the reference. The
 * {@code raw-prewritten} rows are the disk's ceiling for a 64-writer group commit: one thread
 * syncing {@value #CEILING_BATCH} frames at a time with each primitive on a pre-written file. The
 * systems run interleaved in {@link io.laminar.storage.bench.Settings#durableRounds()} rounds.
 */
public final class DurableGroupScenario implements Scenario {

    public static final String NAME = "durable-group";
    static final int[] THREADS = {1, 8, 64};
    /**
     * Frames per sync of the disk-ceiling rows: about what group commit gathers per fdatasync with
     * 64 writers (59 in the idle default run of 2026-12-05).
     */
    static final int CEILING_BATCH = 64;
    /** The library's default group commit, spelled out: linger at most 1 ms, at most 4096 records. */
    static final SyncPolicy GROUP_COMMIT = SyncPolicy.groupCommit(Duration.ofMillis(1), 4096);

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        byte[] payload = Payloads.random(DurableSingleScenario.RECORD_BYTES, 256);
        var systems = new ArrayList<Callable<Result>>();
        for (int threads : THREADS) {
            for (var backend : context.backends()) {
                systems.add(() -> laminar(context, payload, threads, backend));
            }
            systems.add(() -> DurableSingleScenario.rocksDb(context, payload, NAME, threads));
        }
        systems.add(() -> DurableSingleScenario.raw(context, payload, NAME));
        for (var primitive : RawPrewritten.Primitive.runnable()) {
            systems.add(() -> DurableSingleScenario.rawPrewritten(context, payload, NAME, primitive, CEILING_BATCH));
        }
        return Rounds.interleaved(context.settings().durableRounds(), systems, Result::recordsPerSec,
                DurableSingleScenario.RUNS_FIELD);
    }

    private Result laminar(BenchContext context, byte[] payload, int threads, WalIoBackend backend) throws Exception {
        var dir = context.newDirectory(NAME + "-laminar-" + threads + "-" + backend.propertyValue());
        var options = WalOptions.builder().segmentSize(DurableSingleScenario.SEGMENT_SIZE).syncPolicy(GROUP_COMMIT)
                .ioBackend(backend).build();
        try (var wal = WriteAheadLog.open(dir, options)) {
            BenchContext.settleAfterOpen();
            var syncs = new SyncCounter(wal.statistics());
            var m = ClosedLoop.run(threads, t -> {
                var buffer = ByteBuffer.wrap(payload);
                return () -> wal.appendDurable(buffer).join();
            }, DurableSingleScenario.warmup(context), DurableSingleScenario.measure(context), syncs);
            return syncs.addTo(DurableSingleScenario.laminarRow(NAME, backend, threads, payload.length)
                    .throughput(m.ops(), m.seconds())
                    .latency(m.nanos()), m.seconds());
        } finally {
            BenchContext.deleteTree(dir);
        }
    }
}

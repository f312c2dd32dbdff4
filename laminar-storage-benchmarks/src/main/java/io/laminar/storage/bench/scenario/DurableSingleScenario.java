package io.laminar.storage.bench.scenario;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.ClosedLoop;
import io.laminar.storage.bench.ClosedLoop.Phase;
import io.laminar.storage.bench.Payloads;
import io.laminar.storage.bench.RawFile;
import io.laminar.storage.bench.RawPrewritten;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.RocksDbSync;
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

/**
 * {@code durable-single}: one writer, every 128 B record durable before the next is written.
 * laminar with {@link SyncPolicy#everyAppend()} writes into a segment pre-written with zeros, so
 * its fdatasync flushes data only; the raw comparison appends to a growing file, so each of its
 * fdatasyncs must also journal the new file size. RocksDB puts with {@code sync=true}. The
 * systems run interleaved in {@link io.laminar.storage.bench.Settings#durableRounds()} rounds.
 */
public final class DurableSingleScenario implements Scenario {

    public static final String NAME = "durable-single";
    static final int RECORD_BYTES = 128;
    /** Large enough that a measured phase never rotates: no segment pre-writing is measured. */
    static final long SEGMENT_SIZE = 64L << 20;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        byte[] payload = Payloads.random(RECORD_BYTES, 128);
        var systems = new ArrayList<Callable<Result>>();
        for (var backend : context.backends()) {
            systems.add(() -> laminar(context, payload, backend));
        }
        systems.add(() -> raw(context, payload, NAME));
        for (var primitive : RawPrewritten.Primitive.runnable()) {
            systems.add(() -> rawPrewritten(context, payload, NAME, primitive, 1));
        }
        systems.add(() -> rocksDb(context, payload, NAME, 1));
        return Rounds.interleaved(context.settings().durableRounds(), systems, Result::recordsPerSec, RUNS_FIELD);
    }

    /** Every run's records/s when a system ran in several rounds. */
    static final String RUNS_FIELD = "runsRecordsPerSec";

    static Phase warmup(BenchContext context) {
        return Phase.of(context.settings().durableWarmup());
    }

    static Phase measure(BenchContext context) {
        return Phase.of(context.settings().durableMeasure());
    }

    /** A laminar row of {@code scenario}: system {@code laminar} and the backend it ran with. */
    static Result laminarRow(String scenario, WalIoBackend backend, int threads, int recordBytes) {
        return new Result(scenario, "laminar", threads, recordBytes).extra("backend", backend.propertyValue());
    }

    private Result laminar(BenchContext context, byte[] payload, WalIoBackend backend) throws Exception {
        var dir = context.newDirectory(NAME + "-laminar-" + backend.propertyValue());
        var options = WalOptions.builder().segmentSize(SEGMENT_SIZE).syncPolicy(SyncPolicy.everyAppend())
                .ioBackend(backend).build();
        try (var wal = WriteAheadLog.open(dir, options)) {
            BenchContext.settleAfterOpen();
            var buffer = ByteBuffer.wrap(payload);
            var syncs = new SyncCounter(wal.statistics());
            var m = ClosedLoop.run(1, t -> () -> wal.append(buffer), warmup(context), measure(context), syncs);
            return syncs.addTo(laminarRow(NAME, backend, 1, RECORD_BYTES).throughput(m.ops(), m.seconds())
                    .latency(m.nanos()), m.seconds());
        } finally {
            BenchContext.deleteTree(dir);
        }
    }

    /** One thread: write + fdatasync per record to a growing file. Also the durable-group reference. */
    static Result raw(BenchContext context, byte[] payload, String scenario) throws Exception {
        var dir = context.newDirectory(scenario + "-raw");
        try (var file = new RawFile(dir.resolve("raw.log"))) {
            BenchContext.settleAfterOpen();
            var buffer = Payloads.direct(payload);
            var m = ClosedLoop.run(1, t -> () -> {
                file.write(buffer);
                file.sync();
            }, warmup(context), measure(context));
            return new Result(scenario, "raw", 1, payload.length).throughput(m.ops(), m.seconds())
                    .latency(m.nanos()).extra("recordsPerSync", 1.0);
        } finally {
            BenchContext.deleteTree(dir);
        }
    }

    /**
     * The disk's ceiling with {@code primitive}: one thread making {@code recordsPerSync} frames of
     * {@link #FRAME_BYTES} durable at a time in a pre-written file ({@link RawPrewritten}). The row's
     * records are the frames.
     */
    static Result rawPrewritten(BenchContext context, byte[] payload, String scenario, RawPrewritten.Primitive primitive,
                                int recordsPerSync) throws Exception {
        var dir = context.newDirectory(scenario + "-raw-prewritten-" + primitive.label() + "-" + recordsPerSync);
        try (var file = new RawPrewritten(dir.resolve("raw.log"), SEGMENT_SIZE, primitive, payload, FRAME_BYTES,
                recordsPerSync)) {
            BenchContext.settleAfterOpen();
            var m = ClosedLoop.run(1, t -> file::writeBatch, warmup(context), measure(context));
            return new Result(scenario, RAW_PREWRITTEN, 1, payload.length)
                    .throughput(m.ops() * recordsPerSync, m.seconds()).latency(m.nanos())
                    .extra(PRIMITIVE, primitive.label()).extra("recordsPerSync", (double) recordsPerSync);
        } finally {
            BenchContext.deleteTree(dir);
        }
    }

    /** The system of the disk-ceiling rows. */
    public static final String RAW_PREWRITTEN = "raw-prewritten";
    /** The field of a {@value #RAW_PREWRITTEN} row that names its primitive. */
    public static final String PRIMITIVE = "primitive";
    /**
     * The bytes a 128 B record takes in a WAL segment: a 24-byte frame header, the payload, padded
     * to a multiple of 8 ({@code WalFormat}); what every backend writes and syncs per record.
     */
    static final int FRAME_BYTES = (24 + RECORD_BYTES + 7) & -8;

    /** RocksDB sync puts from {@code threads} closed-loop writers. */
    static Result rocksDb(BenchContext context, byte[] payload, String scenario, int threads) throws Exception {
        var dir = context.newDirectory(scenario + "-rocksdb-" + threads);
        try (var db = new RocksDbSync(dir)) {
            BenchContext.settleAfterOpen();
            var m = ClosedLoop.run(threads, t -> db.writer(t, payload), warmup(context), measure(context));
            return new Result(scenario, "rocksdb", threads, payload.length).throughput(m.ops(), m.seconds())
                    .latency(m.nanos());
        } finally {
            BenchContext.deleteTree(dir);
        }
    }
}

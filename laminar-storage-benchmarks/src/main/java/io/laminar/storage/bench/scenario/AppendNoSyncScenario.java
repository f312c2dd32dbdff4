package io.laminar.storage.bench.scenario;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.ClosedLoop;
import io.laminar.storage.bench.ClosedLoop.Phase;
import io.laminar.storage.bench.Payloads;
import io.laminar.storage.bench.RawFile;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalOptions;
import io.laminar.storage.wal.WriteAheadLog;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;

/**
 * {@code append-nosync}: the latency of one append that does not wait for a sync, from one thread,
 * for 16 B to 1 KiB records. laminar with {@link SyncPolicy#none()} (the append copies and
 * checksums the record into its write buffer; a background thread writes it out) against a raw
 * {@code FileChannel.write} per record and a Chronicle Queue appender (memory-mapped) writing the
 * same bytes.
 */
public final class AppendNoSyncScenario implements Scenario {

    public static final String NAME = "append-nosync";
    static final int[] RECORD_SIZES = {16, 64, 256, 1024};

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        var results = new ArrayList<Result>();
        for (int size : RECORD_SIZES) {
            byte[] payload = Payloads.random(size, size);
            for (var backend : context.backends()) {
                results.add(laminar(context, payload, backend));
            }
            results.add(raw(context, payload));
            results.add(chronicleQueue(context, payload));
        }
        return results;
    }

    private Phase warmup(BenchContext context, int size) {
        var s = context.settings();
        return new Phase(s.latencyWarmup(), s.latencyPhaseBytes() / 4 / size);
    }

    private Phase measure(BenchContext context, int size) {
        var s = context.settings();
        return new Phase(s.latencyMeasure(), s.latencyPhaseBytes() / size);
    }

    private Result laminar(BenchContext context, byte[] payload, WalIoBackend backend) throws Exception {
        var dir = context.newDirectory(NAME + "-laminar-" + payload.length + "-" + backend.propertyValue());
        var options = WalOptions.builder().syncPolicy(SyncPolicy.none()).ioBackend(backend).build();
        try (var wal = WriteAheadLog.open(dir, options)) {
            BenchContext.settleAfterOpen();
            ByteBuffer buffer = ByteBuffer.wrap(payload);
            var stats = wal.statistics();
            long[] fullWaits = new long[2];
            var m = ClosedLoop.run(1, t -> () -> wal.append(buffer),
                    warmup(context, payload.length), measure(context, payload.length),
                    new ClosedLoop.PhaseListener() {
                        @Override
                        public void measureStarted() {
                            fullWaits[0] = stats.bufferFullWaits();
                        }

                        @Override
                        public void measureEnded() {
                            fullWaits[1] = stats.bufferFullWaits();
                        }
                    });
            return DurableSingleScenario.laminarRow(NAME, backend, 1, payload.length).throughput(m.ops(), m.seconds())
                    .latency(m.nanos())
                    .extra("bufferFullWaits", fullWaits[1] - fullWaits[0]);
        } finally {
            BenchContext.deleteTree(dir);
        }
    }

    private Result raw(BenchContext context, byte[] payload) throws Exception {
        var dir = context.newDirectory(NAME + "-raw-" + payload.length);
        try (var file = new RawFile(dir.resolve("raw.log"))) {
            BenchContext.settleAfterOpen();
            var buffer = Payloads.direct(payload);
            var m = ClosedLoop.run(1, t -> () -> file.write(buffer),
                    warmup(context, payload.length), measure(context, payload.length));
            return new Result(NAME, "raw", 1, payload.length).throughput(m.ops(), m.seconds()).latency(m.nanos());
        } finally {
            BenchContext.deleteTree(dir);
        }
    }

    private Result chronicleQueue(BenchContext context, byte[] payload) throws Exception {
        var dir = context.newDirectory(NAME + "-chronicle-" + payload.length);
        try (var queue = SingleChronicleQueueBuilder.binary(dir).build()) {
            BenchContext.settleAfterOpen();
            var m = ClosedLoop.run(1, t -> {
                var appender = queue.createAppender(); // appenders belong to the thread that made them
                return () -> {
                    try (DocumentContext document = appender.writingDocument()) {
                        document.wire().bytes().write(payload);
                    }
                };
            }, warmup(context, payload.length), measure(context, payload.length));
            return new Result(NAME, "chronicle-queue", 1, payload.length).throughput(m.ops(), m.seconds())
                    .latency(m.nanos());
        } finally {
            BenchContext.deleteTree(dir);
        }
    }
}

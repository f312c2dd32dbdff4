package io.laminar.storage.bench.percore;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.ClosedLoop;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Rounds;
import io.laminar.storage.bench.Scenario;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code ring0-put}: the latency of one {@code ChangelogAwareStateStore.put} (16 B key from a fixed
 * space of {@value Ring0Fixture#KEY_SPACE} keys, so every measured put overwrites, 64 B value) on
 * the core thread, in a closed loop, while the changelog drainer appends every change to the
 * per-core WAL and that WAL's syncer group-commits it (system {@code laminar}); beside it the same
 * store with {@code ChangelogSink.NONE} (system {@code none}).
 *
 * <p>To show that no fdatasync stalls Ring 0, the laminar row carries the distribution of the WAL's
 * fdatasyncs during the measured phase ({@code fsyncP50Micros}, {@code fsyncMaxMicros}, timed at
 * the file channel), the number of puts that took at least as long as the median fdatasync
 * ({@code putsSlowerThanFsyncP50}) and the backpressure waits (the only way the disk can reach the
 * core thread is a full changelog queue).
 */
public final class Ring0PutScenario implements Scenario {

    public static final String NAME = "ring0-put";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        var s = PerCoreSettings.forRun(context.settings().quick());
        List<Callable<Result>> systems = List.of(() -> laminar(context, s), () -> none(s));
        return Rounds.interleaved(s.putRounds(), systems, r -> r.p99Micros() == null ? 0 : r.p99Micros(),
                "runsP99Micros");
    }

    private static Result none(PerCoreSettings s) throws Exception {
        var putters = new Ring0Fixture.Putter[1];
        var m = ClosedLoop.run(1, t -> {
            var putter = Ring0Fixture.volatilePutter();
            putter.fill();
            putters[0] = putter;
            return putter::put;
        }, ClosedLoop.Phase.of(s.putWarmup()), ClosedLoop.Phase.of(s.putMeasure()));
        return row("none", m).extra("storeSize", putters[0].store().size());
    }

    private static Result laminar(BenchContext context, PerCoreSettings s) throws Exception {
        var dir = context.newDirectory(NAME + "-laminar", s.quietDiskWaitMillis());
        try (var fixture = Ring0Fixture.open(dir, 1)) {
            BenchContext.settleAfterOpen(s.quietDiskWaitMillis());
            var stats = fixture.walStatistics(0);
            var putters = new Ring0Fixture.Putter[1];
            var counters = new long[6];
            var m = ClosedLoop.run(1, t -> {
                var putter = fixture.putter(0);
                putter.fill();
                putters[0] = putter;
                return putter::put;
            }, ClosedLoop.Phase.of(s.putWarmup()), ClosedLoop.Phase.of(s.putMeasure()), new ClosedLoop.PhaseListener() {
                @Override
                public void measureStarted() {
                    fixture.io.reset();
                    counters[0] = fixture.backpressureWaits();
                    counters[1] = fixture.backpressureWaitNanos();
                    counters[2] = stats.bufferFullWaits();
                }

                @Override
                public void measureEnded() {
                    counters[3] = fixture.backpressureWaits();
                    counters[4] = fixture.backpressureWaitNanos();
                    counters[5] = stats.bufferFullWaits();
                }
            });
            var fsync = fixture.io.snapshot();
            long preallocMax = fixture.io.otherMaxNanos();
            long puts = putters[0].puts();
            boolean durable = fixture.awaitDurable(0, puts, 60);
            var row = row("laminar", m);
            long fsyncP50 = fsync.getTotalCount() == 0 ? 0 : fsync.getValueAtPercentile(50);
            long slower = fsync.getTotalCount() == 0 ? 0
                    : m.nanos().getCountBetweenValues(fsyncP50, Math.max(fsyncP50, m.nanos().getMaxValue()));
            return row.extra("fsyncs", fsync.getTotalCount())
                    .extra("fsyncP50Micros", fsync.getTotalCount() == 0 ? null : Result.round(fsyncP50 / 1e3, 1))
                    .extra("fsyncMaxMicros", fsync.getTotalCount() == 0 ? null
                            : Result.round(fsync.getMaxValue() / 1e3, 1))
                    .extra("preallocFsyncMaxMicros", Result.round(preallocMax / 1e3, 1))
                    .extra("putsSlowerThanFsyncP50", slower)
                    .extra("backpressureWaits", counters[3] - counters[0])
                    .extra("backpressureWaitMicros", Result.round((counters[4] - counters[1]) / 1e3, 1))
                    .extra("bufferFullWaits", counters[5] - counters[2])
                    .extra("queueHighWater", fixture.queueHighWater())
                    .extra("allDurable", durable)
                    .extra("storeSize", putters[0].store().size());
        } finally {
            BenchContext.deleteTree(dir);
        }
    }

    private static Result row(String system, ClosedLoop.Measurement m) {
        return new Result(NAME, system, 1, Ring0Fixture.VALUE_BYTES).recordsPerSecond(m.ops(), m.seconds())
                .latency(m.nanos()).extra("keyBytes", Ring0Fixture.KEY_BYTES).extra("keySpace", Ring0Fixture.KEY_SPACE);
    }
}

package io.laminar.storage.bench.percore;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import java.util.List;

/**
 * {@code ring0-sustained}: one core thread over the durable store for the whole measured phase
 * (30 s in the default run). First as fast as it can (system {@code laminar}, {@code mode}
 * {@code max}): {@code recordsPerSec} counts the changes that became durable during the phase,
 * {@code publishedPerSec} the puts the core thread made. Then paced at 500,000 puts/s
 * ({@code mode} {@code paced}): the backpressure waits must stay 0, and the row also gives the
 * latency of every put at that rate.
 */
public final class Ring0SustainedScenario implements Scenario {

    public static final String NAME = "ring0-sustained";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        var s = PerCoreSettings.forRun(context.settings().quick());
        return List.of(max(context, s), paced(context, s));
    }

    private static Result max(BenchContext context, PerCoreSettings s) throws Exception {
        var dir = context.newDirectory(NAME + "-max", s.quietDiskWaitMillis());
        try (var fixture = Ring0Fixture.open(dir, 1)) {
            BenchContext.settleAfterOpen(s.quietDiskWaitMillis());
            var run = CoreLoops.flatOut(fixture, s.sustainedWarmup(), s.sustainedMeasure());
            return row(NAME, fixture, run, "max", null);
        } finally {
            BenchContext.deleteTree(dir);
        }
    }

    private static Result paced(BenchContext context, PerCoreSettings s) throws Exception {
        var dir = context.newDirectory(NAME + "-paced", s.quietDiskWaitMillis());
        try (var fixture = Ring0Fixture.open(dir, 1)) {
            BenchContext.settleAfterOpen(s.quietDiskWaitMillis());
            var run = CoreLoops.paced(fixture, s.sustainedWarmup(), s.sustainedMeasure(), s.pacedRate());
            return row(NAME, fixture, run, "paced", s.pacedRate()).latency(run.latency())
                    .extra("maxLateMicros", Result.round(run.maxLateNanos() / 1e3, 1));
        } finally {
            BenchContext.deleteTree(dir);
        }
    }

    static Result row(String scenario, Ring0Fixture fixture, CoreLoops.Run run, String mode, Integer targetRate) {
        var fsync = fixture.io.snapshot();
        var r = new Result(scenario, "laminar", fixture.cores(), Ring0Fixture.VALUE_BYTES);
        r.recordsPerSecond(run.durable(), run.seconds());
        return r.extra("mode", mode)
                .extra("targetRate", targetRate)
                .extra("publishedPerSec", Result.round(run.publishedPerSec(), 1))
                .extra("seconds", Result.round(run.seconds(), 2))
                .extra("backpressureWaits", run.backpressureWaits())
                .extra("backpressureWaitMicros", Result.round(run.backpressureWaitMicros(), 1))
                .extra("bufferFullWaits", run.bufferFullWaits())
                .extra("drainLagMillis", Result.round(run.drainLagMillis(), 1))
                .extra("fsyncs", fsync.getTotalCount())
                .extra("fsyncP50Micros", fsync.getTotalCount() == 0 ? null
                        : Result.round(fsync.getValueAtPercentile(50) / 1e3, 1))
                .extra("fsyncMaxMicros", fsync.getTotalCount() == 0 ? null
                        : Result.round(fsync.getMaxValue() / 1e3, 1))
                .extra("durablePutsPerFsync", fsync.getTotalCount() == 0 ? null
                        : Result.round((double) run.durable() / fsync.getTotalCount(), 1))
                .extra("preallocFsyncMaxMicros", Result.round(fixture.io.otherMaxNanos() / 1e3, 1))
                .extra("putsSlowerThanFsyncP50", run.latency() == null || fsync.getTotalCount() == 0 ? null
                        : run.latency().getCountBetweenValues(fsync.getValueAtPercentile(50),
                                Math.max(fsync.getValueAtPercentile(50), run.latency().getMaxValue())))
                .extra("logBytesPerPut", run.durable() == 0 ? null
                        : Result.round((double) run.logBytes() / run.durable(), 1))
                .extra("queueHighWater", fixture.queueHighWater());
    }
}

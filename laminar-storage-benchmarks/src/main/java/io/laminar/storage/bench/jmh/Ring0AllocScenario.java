package io.laminar.storage.bench.jmh;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.bench.percore.PerCoreSettings;
import io.laminar.storage.bench.percore.Ring0Fixture;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * {@code ring0-alloc}: bytes allocated per Ring 0 put in steady state. Runs
 * {@link Ring0PutBenchmark#put} through the JMH Runner API in one forked JVM with the GC profiler
 * and reports its {@code gc.alloc.rate.norm} as {@code bytesPerOp} (the whole JVM's allocation,
 * drainer and syncer included, divided by the puts), its average time per put as {@code avgNanos}
 * and its {@code gc.count}.
 */
public final class Ring0AllocScenario implements Scenario {

    public static final String NAME = "ring0-alloc";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        var s = PerCoreSettings.forRun(context.settings().quick());
        var dir = context.newDirectory(NAME, s.quietDiskWaitMillis());
        try {
            var time = TimeValue.milliseconds(s.jmhIterationTime().toMillis());
            var options = new OptionsBuilder()
                    .include(java.util.regex.Pattern.quote(Ring0PutBenchmark.class.getName()) + "\\.put$")
                    .mode(org.openjdk.jmh.annotations.Mode.AverageTime)
                    .timeUnit(TimeUnit.NANOSECONDS)
                    .forks(1)
                    .warmupIterations(s.jmhWarmups())
                    .warmupTime(time)
                    .measurementIterations(s.jmhIterations())
                    .measurementTime(time)
                    .addProfiler(GCProfiler.class)
                    .jvmArgsAppend("-Dlaminar.bench.dir=" + dir.toAbsolutePath())
                    .verbosity(VerboseMode.SILENT)
                    .build();
            var results = new Runner(options).run();
            if (results.isEmpty()) {
                throw new IllegalStateException("JMH ran no benchmark for " + Ring0PutBenchmark.class.getName());
            }
            RunResult run = results.iterator().next();
            var secondary = run.getAggregatedResult().getSecondaryResults();
            BenchmarkParams params = run.getParams();
            Double bytesPerOp = score(secondary, "gc.alloc.rate.norm");
            var row = new Result(NAME, "laminar", params.getThreads(), Ring0Fixture.VALUE_BYTES);
            double avgNanos = run.getPrimaryResult().getScore();
            row.recordsPerSecond(1, avgNanos / 1e9);
            return List.of(row.extra("bytesPerOp", bytesPerOp == null ? null : Result.round(bytesPerOp, 3))
                    .extra("bytesPerOpError", round(error(secondary, "gc.alloc.rate.norm")))
                    .extra("avgNanos", Result.round(avgNanos, 1))
                    .extra("gcCount", score(secondary, "gc.count"))
                    .extra("jmhIterations", s.jmhIterations())
                    .extra("jmhIterationMillis", s.jmhIterationTime().toMillis()));
        } finally {
            BenchContext.deleteTree(dir);
        }
    }

    private static Double round(Double value) {
        return Result.round(value, 3);
    }

    /** The secondary result whose label ends with {@code name} (JMH may prefix labels with a middle dot). */
    private static Double score(Map<String, org.openjdk.jmh.results.Result> secondary, String name) {
        var result = find(secondary, name);
        return result == null ? null : result.getScore();
    }

    private static Double error(Map<String, org.openjdk.jmh.results.Result> secondary, String name) {
        var result = find(secondary, name);
        return result == null || Double.isNaN(result.getScoreError()) ? null : result.getScoreError();
    }

    private static org.openjdk.jmh.results.Result find(Map<String, org.openjdk.jmh.results.Result> secondary, String name) {
        for (var entry : secondary.entrySet()) {
            if (entry.getKey().endsWith(name)) {
                return entry.getValue();
            }
        }
        return null;
    }
}

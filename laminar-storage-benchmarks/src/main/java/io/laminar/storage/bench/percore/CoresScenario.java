package io.laminar.storage.bench.percore;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Rounds;
import io.laminar.storage.bench.Scenario;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code cores}: 1 and 2 cores, each core its own thread putting into its own durable store as
 * fast as it can, one per-core WAL and one drainer for all of them. {@code recordsPerSec} is the
 * total of changes that became durable during the measured phase; the 2-core row adds
 * {@code scaling}, its throughput over the 1-core row's. Runs interleave over
 * {@link PerCoreSettings#coresRounds()} rounds; the median is reported.
 */
public final class CoresScenario implements Scenario {

    public static final String NAME = "cores";
    static final int[] CORES = {1, 2};

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        var s = PerCoreSettings.forRun(context.settings().quick());
        var systems = new ArrayList<Callable<Result>>();
        for (int cores : CORES) {
            systems.add(() -> run(context, s, cores));
        }
        var rows = Rounds.interleaved(s.coresRounds(), systems, Result::recordsPerSec, "runsRecordsPerSec");
        double one = rows.get(0).recordsPerSec();
        for (var row : rows.subList(1, rows.size())) {
            row.extra("scaling", Result.round(row.recordsPerSec() / one, 2));
        }
        return rows;
    }

    private static Result run(BenchContext context, PerCoreSettings s, int cores) throws Exception {
        var dir = context.newDirectory(NAME + "-" + cores, s.quietDiskWaitMillis());
        try (var fixture = Ring0Fixture.open(dir, cores)) {
            BenchContext.settleAfterOpen(s.quietDiskWaitMillis());
            var run = CoreLoops.flatOut(fixture, s.coresWarmup(), s.coresMeasure());
            return Ring0SustainedScenario.row(NAME, fixture, run, "max", null);
        } finally {
            BenchContext.deleteTree(dir);
        }
    }
}

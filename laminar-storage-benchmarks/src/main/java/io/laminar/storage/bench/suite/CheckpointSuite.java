package io.laminar.storage.bench.suite;

import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.bench.checkpoint.FullScenario;
import io.laminar.storage.bench.checkpoint.IncrementalScenario;
import io.laminar.storage.bench.checkpoint.RescaleScenario;
import io.laminar.storage.bench.checkpoint.RestoreScenario;
import io.laminar.storage.bench.checkpoint.Ring0DuringCheckpointScenario;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The {@code checkpoint} command: full and incremental checkpoints of the per-core state, restore
 * plus WAL replay, and Ring 0 put latency while a checkpoint runs. Same table, targets and JSON as
 * the other suites.
 */
public final class CheckpointSuite {

    private static final List<Scenario> SCENARIOS = List.of(new FullScenario(), new IncrementalScenario(),
            new RestoreScenario(), new RescaleScenario(), new Ring0DuringCheckpointScenario());

    private static final long GIB = 1L << 30;
    private static final long TARGET_STATE_BYTES = GIB;

    private static final String ROW = "%-24s %-8s %5s %9s %10s %14s %14s %10s %9s %9s  %s%n";

    private CheckpointSuite() {
    }

    static List<String> scenarioNames() {
        return SCENARIOS.stream().map(Scenario::name).toList();
    }

    static int run(String[] args) throws Exception {
        return SuiteRunner.run(new SuiteRunner.Suite("checkpoint", "laminar-storage checkpoint suite", SCENARIOS,
                rows -> { }, CheckpointSuite::evaluate, CheckpointSuite::printTable), args);
    }

    // ---- table ---------------------------------------------------------------------------------

    static void printTable(List<Result> results, PrintStream out) {
        out.printf(ROW, "scenario", "system", "cores", "seconds", "MB/s", "bytesWritten", "stateBytes", "puts/s",
                "p50 us", "p99 us", "notes");
        out.println("-".repeat(150));
        String previous = null;
        for (var r : results) {
            if (previous != null && !previous.equals(r.scenario())) {
                out.println();
            }
            previous = r.scenario();
            boolean ring0 = r.scenario().equals(Ring0DuringCheckpointScenario.NAME);
            out.printf(ROW, r.scenario(), r.system(), r.threads(), number(r.extra("seconds"), "%.3f"),
                    r.mbPerSec() == null ? "-" : String.format("%,.1f", r.mbPerSec()),
                    number(r.extra("bytesWritten"), "%,.0f"), number(r.extra("stateBytes"), "%,.0f"),
                    ring0 && r.recordsPerSec() != null ? String.format("%,.0f", r.recordsPerSec()) : "-",
                    micros(r.p50Micros()), micros(r.p99Micros()), notes(r));
        }
        out.println("(MB/s: full = bytes written; restore = state file + WAL bytes read; puts/s: the core threads' "
                + "puts in the phase)");
    }

    private static String notes(Result r) {
        var notes = new ArrayList<String>();
        if (r.scenario().equals(RestoreScenario.NAME)) {
            notes.add(r.recordBytes() + " B values");
        }
        add(notes, r, "vsRaw", "%sx raw");
        add(notes, r, "vsPlain", "%sx plain");
        add(notes, r, "stateFilesSeconds", "state files %s s");
        add(notes, r, "writtenFraction", "written/full %s");
        add(notes, r, "keysChanged", "keys changed %s");
        add(notes, r, "walBytesReplayed", "WAL replayed %s B");
        add(notes, r, "openMillis", "open %s ms");
        add(notes, r, "recoverMillis", "recover %s ms");
        add(notes, r, "complete", "complete %s");
        add(notes, r, "heapBytesPerStateByte", "heap %s B per key+value B");
        add(notes, r, "gcMillis", "GC %s ms");
        add(notes, r, "inserts", "map inserts %s");
        add(notes, r, "p99Ratio", "p99 %sx none");
        add(notes, r, "p99RatioBetween", "%sx between");
        add(notes, r, "checkpointSeconds", "checkpoints %s s");
        add(notes, r, "backpressureWaits", "bp waits %s");
        add(notes, r, "runsSeconds", "runs %s s");
        add(notes, r, "runsP99Micros", "runs p99 %s us");
        return String.join("; ", notes);
    }

    private static void add(List<String> notes, Result r, String field, String format) {
        var value = r.extra(field);
        if (value != null) {
            notes.add(String.format(format, value));
        }
    }

    private static String number(Object value, String format) {
        return value instanceof Number n ? String.format(format, n.doubleValue()) : "-";
    }

    private static String micros(Double value) {
        if (value == null) {
            return "-";
        }
        return value < 10 ? String.format("%.3f", value) : String.format("%,.1f", value);
    }

    // ---- targets -------------------------------------------------------------------------------

    static List<Targets.Check> evaluate(List<Result> results) {
        var checks = new ArrayList<Targets.Check>();
        var full = find(results, FullScenario.NAME, "laminar");
        var raw = find(results, FullScenario.NAME, "raw");
        checks.add(check(full.filter(r -> raw.isPresent()), "full: checkpoint >= 70% of a raw write of the same bytes",
                r -> String.format("%s x raw: %.2f s vs raw %.2f s for %s (%,.0f vs %,.0f MB/s; state files %.2f s)",
                        r.extra("vsRaw"), dbl(r, "seconds"), dbl(raw.get(), "seconds"), size(dbl(r, "bytesWritten")),
                        r.mbPerSec(), raw.get().mbPerSec(), dbl(r, "stateFilesSeconds")),
                r -> dbl(r, "vsRaw") >= 0.70));

        var inc = find(results, IncrementalScenario.NAME, "laminar");
        checks.add(check(inc, "incremental-1pct: bytes written <= 3% of the full state",
                r -> String.format("%.2f%%: %,.0f of %,.0f bytes (%s keys changed, delta %s, %.2f s)",
                        100 * dbl(r, "writtenFraction"), dbl(r, "bytesWritten"), dbl(r, "fullBytes"),
                        r.extra("keysChanged"), r.extra("delta"), dbl(r, "seconds")),
                r -> dbl(r, "writtenFraction") <= 0.03 && Boolean.TRUE.equals(r.extra("delta"))));

        var restore = find(results, RestoreScenario.NAME, "laminar");
        // The target is for 1 GiB + 256 MiB; a smaller (quick) run gets the same time per byte.
        double scale = restore.map(r -> Math.min(1.0, dbl(r, "stateBytes") / TARGET_STATE_BYTES)).orElse(1.0);
        double budget = 3.0 * scale;
        String restoreTarget = scale >= 0.99 ? "restore: 1 GiB state + 256 MiB WAL <= 3 s"
                : String.format("restore: %s state + %s WAL <= %.2f s (3 s scaled)",
                        size(dbl(restore.get(), "stateBytes")), size(dbl(restore.get(), "walBytesReplayed")), budget);
        checks.add(check(restore, restoreTarget,
                r -> String.format("%.2f s (open %s ms, recover %s ms; %s state + %s WAL, %,.0f MB/s; complete %s)",
                        dbl(r, "seconds"), r.extra("openMillis"), r.extra("recoverMillis"),
                        size(dbl(r, "stateBytes")), size(dbl(r, "walBytesReplayed")), r.mbPerSec(),
                        r.extra("complete")),
                r -> dbl(r, "seconds") <= budget && Boolean.TRUE.equals(r.extra("complete"))));
        var rawRestore = find(results, RestoreScenario.NAME, "raw");
        checks.add(check(restore.filter(r -> rawRestore.isPresent()),
                "restore: <= 1.3x a raw read of the same bytes + the same number of map inserts",
                r -> String.format("%.2fx: %.2f s vs raw %.2f s (heap per key+value byte %s vs raw %s)",
                        dbl(r, "seconds") / dbl(rawRestore.get(), "seconds"), dbl(r, "seconds"),
                        dbl(rawRestore.get(), "seconds"), r.extra("heapBytesPerStateByte"),
                        rawRestore.get().extra("heapBytesPerStateByte")),
                r -> dbl(r, "seconds") <= 1.3 * dbl(rawRestore.get(), "seconds")));

        for (var to : List.of("to-1", "to-4")) {
            checks.add(check(find(results, RescaleScenario.NAME, to), "rescale " + to + ": <= 1.5x the plain restore",
                    r -> String.format("%s x plain: %.2f s (rescale %s ms, %s key groups moved, complete %s)",
                            r.extra("vsPlain"), dbl(r, "seconds"), r.extra("rescaleMillis"),
                            r.extra("keyGroupsMoved"), r.extra("complete")),
                    r -> dbl(r, "vsPlain") <= 1.5 && Boolean.TRUE.equals(r.extra("complete"))));
        }

        var during = find(results, Ring0DuringCheckpointScenario.NAME, "laminar");
        var baseline = find(results, Ring0DuringCheckpointScenario.NAME, "none");
        checks.add(check(during.filter(r -> baseline.isPresent()),
                "ring0-during-checkpoint: put p99 <= 2x no checkpoint",
                r -> String.format("%sx: p99 %.3f us vs %.3f us never checkpointing (%sx between checkpoints; max "
                                + "%.1f vs %.1f us; bp waits %s vs %s)",
                        r.extra("p99Ratio"), r.p99Micros(), baseline.get().p99Micros(), r.extra("p99RatioBetween"),
                        r.maxMicros(), baseline.get().maxMicros(), r.extra("backpressureWaits"),
                        baseline.get().extra("backpressureWaits")),
                r -> dbl(r, "p99Ratio") <= 2.0));
        return checks;
    }

    private static String size(double bytes) {
        return bytes >= GIB ? String.format("%.2f GiB", bytes / GIB) : String.format("%.0f MiB", bytes / (1 << 20));
    }

    private static double dbl(Result r, String field) {
        return r.extra(field) instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    private static Targets.Check check(Optional<Result> row, String target, Function<Result, String> measured,
                                       Predicate<Result> pass) {
        return row.map(r -> new Targets.Check(target, measured.apply(r), pass.test(r)))
                .orElse(new Targets.Check(target, "-", null));
    }

    private static Optional<Result> find(List<Result> results, String scenario, String system) {
        return results.stream().filter(r -> r.scenario().equals(scenario) && r.system().equals(system)).findFirst();
    }
}

package io.laminar.storage.bench.suite;

import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.bench.jmh.Ring0AllocScenario;
import io.laminar.storage.bench.percore.CoresScenario;
import io.laminar.storage.bench.percore.Ring0PutScenario;
import io.laminar.storage.bench.percore.Ring0SustainedScenario;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The {@code percore} command: Ring 0 (a core thread's {@code ChangelogAwareStateStore.put}) with
 * the changelog drainer, the per-core WAL and group commit running behind it. Prints a table and
 * the targets, and optionally writes the rows as JSON (same format as the {@code wal} suite).
 */
public final class PerCoreSuite {

    private static final List<Scenario> SCENARIOS = List.of(new Ring0PutScenario(), new Ring0SustainedScenario(),
            new Ring0AllocScenario(), new CoresScenario());

    private static final String ROW = "%-16s %-8s %5s %-6s %12s %9s %9s %9s %10s %7s  %s%n";

    private PerCoreSuite() {
    }

    static List<String> scenarioNames() {
        return SCENARIOS.stream().map(Scenario::name).toList();
    }

    static int run(String[] args) throws Exception {
        return SuiteRunner.run(new SuiteRunner.Suite("percore", "laminar-storage per-core (Ring 0) suite", SCENARIOS,
                rows -> { }, PerCoreSuite::evaluate, PerCoreSuite::printTable), args);
    }

    // ---- table ---------------------------------------------------------------------------------

    static void printTable(List<Result> results, PrintStream out) {
        out.printf(ROW, "scenario", "system", "cores", "mode", "puts/s", "p50 us", "p99 us", "p99.9 us", "max us",
                "B/op", "notes");
        out.println("-".repeat(150));
        String previous = null;
        for (var r : results) {
            if (previous != null && !previous.equals(r.scenario())) {
                out.println();
            }
            previous = r.scenario();
            out.printf(ROW, r.scenario(), r.system(), r.threads(), r.extra("mode") == null ? "" : r.extra("mode"),
                    r.recordsPerSec() == null ? "-" : String.format("%,.0f", r.recordsPerSec()),
                    micros(r.p50Micros()), micros(r.p99Micros()), micros(r.p999Micros()), micros(r.maxMicros()),
                    r.extra("bytesPerOp") instanceof Number n ? String.format("%.2f", n.doubleValue()) : "-",
                    notes(r));
        }
        out.println("(puts/s: ring0-put = puts on the core thread; ring0-sustained and cores = changes that became "
                + "durable in the measured phase; ring0-alloc = 1 / JMH average)");
    }

    private static String notes(Result r) {
        var notes = new ArrayList<String>();
        if (r.extra("fsyncP50Micros") != null) {
            notes.add(String.format("fsync p50/max %s/%s us", r.extra("fsyncP50Micros"), r.extra("fsyncMaxMicros")));
        }
        if (r.extra("putsSlowerThanFsyncP50") != null) {
            notes.add("puts >= fsync p50: " + r.extra("putsSlowerThanFsyncP50"));
        }
        if (r.extra("publishedPerSec") instanceof Number n) {
            notes.add(String.format("published %,.0f/s", n.doubleValue()));
        }
        if (r.extra("backpressureWaits") != null) {
            notes.add("bp waits " + r.extra("backpressureWaits"));
        }
        if (r.extra("bufferFullWaits") instanceof Number n && n.longValue() > 0) {
            notes.add("wal buffer-full waits " + n);
        }
        if (r.extra("maxLateMicros") != null) {
            notes.add("max late " + r.extra("maxLateMicros") + " us");
        }
        if (r.extra("avgNanos") != null) {
            notes.add("JMH avg " + r.extra("avgNanos") + " ns/put, gc.count " + r.extra("gcCount"));
        }
        if (r.extra("scaling") != null) {
            notes.add("scaling " + r.extra("scaling") + "x vs 1 core");
        }
        return String.join("; ", notes);
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
        var put = find(results, Ring0PutScenario.NAME, "laminar", null);
        var none = find(results, Ring0PutScenario.NAME, "none", null);
        String vsNone = none.map(n -> String.format(" (none: %.3f)", n.p50Micros())).orElse("");
        checks.add(check(put, "ring0-put: laminar p50 <= 0.100 us",
                r -> String.format("p50 %.3f us%s", r.p50Micros(), vsNone), r -> r.p50Micros() <= 0.100));
        String vsNone99 = none.map(n -> String.format(" (none: %.3f)", n.p99Micros())).orElse("");
        checks.add(check(put, "ring0-put: laminar p99 <= 2 us",
                r -> String.format("p99 %.3f us, p99.9 %.3f us, max %.1f us%s", r.p99Micros(), p999(r),
                        max(r), vsNone99), r -> r.p99Micros() <= 2.0));
        // The core thread does no I/O: the one way an fdatasync can reach it is a full changelog queue,
        // a backpressure wait. Slow puts without one are the OS or the JIT, not the disk.
        checks.add(check(put, "ring0-put: no fsync stall reaches Ring 0 (0 bp waits)",
                r -> String.format("bp waits %s (%s us); max put %.1f us vs max fsync %s us; %s puts >= fsync p50 (%s us)",
                        r.extra("backpressureWaits"), r.extra("backpressureWaitMicros"), max(r),
                        r.extra("fsyncMaxMicros"), r.extra("putsSlowerThanFsyncP50"), r.extra("fsyncP50Micros")),
                r -> longOf(r, "backpressureWaits") == 0));

        var max = find(results, Ring0SustainedScenario.NAME, "laminar", "max");
        checks.add(check(max, "ring0-sustained: >= 1,000,000 durable puts/s, one core",
                r -> String.format("%,.0f durable puts/s over %s s (core published %,.0f/s; bp waits %s)",
                        r.recordsPerSec(), r.extra("seconds"), ((Number) r.extra("publishedPerSec")).doubleValue(),
                        r.extra("backpressureWaits")),
                r -> r.recordsPerSec() >= 1_000_000));
        var paced = find(results, Ring0SustainedScenario.NAME, "laminar", "paced");
        checks.add(check(paced, "ring0-sustained: 0 backpressure waits at 500,000 puts/s",
                r -> String.format("%s waits at %,.0f puts/s published, %,.0f durable/s; max put %.1f us, "
                                + "max fsync %s us", r.extra("backpressureWaits"),
                        ((Number) r.extra("publishedPerSec")).doubleValue(), r.recordsPerSec(), max(r),
                        r.extra("fsyncMaxMicros")),
                r -> longOf(r, "backpressureWaits") == 0
                        && ((Number) r.extra("publishedPerSec")).doubleValue() >= 0.99 * intOf(r, "targetRate")));

        var alloc = find(results, Ring0AllocScenario.NAME, "laminar", null);
        checks.add(check(alloc, "ring0-alloc: ~0 B allocated per put (< 1 B/op)",
                r -> String.format("%s B/op (gc.alloc.rate.norm), %s GCs", r.extra("bytesPerOp"), r.extra("gcCount")),
                r -> r.extra("bytesPerOp") instanceof Number n && n.doubleValue() < 1.0));

        var one = results.stream().filter(r -> r.scenario().equals(CoresScenario.NAME) && r.threads() == 1).findFirst();
        var two = results.stream().filter(r -> r.scenario().equals(CoresScenario.NAME) && r.threads() == 2).findFirst();
        String coresTarget = "cores: durable puts/s, 1 vs 2 cores (report only; "
                + Runtime.getRuntime().availableProcessors() + " CPUs here)";
        if (one.isPresent() && two.isPresent()) {
            checks.add(Targets.Check.info(coresTarget, String.format("1 core %,.0f/s, 2 cores %,.0f/s: %.2fx",
                    one.get().recordsPerSec(), two.get().recordsPerSec(),
                    two.get().recordsPerSec() / one.get().recordsPerSec())));
        } else {
            checks.add(new Targets.Check(coresTarget, "-", null));
        }
        return checks;
    }

    private static Targets.Check check(Optional<Result> row, String target,
                                       java.util.function.Function<Result, String> measured,
                                       java.util.function.Predicate<Result> pass) {
        return row.map(r -> new Targets.Check(target, measured.apply(r), pass.test(r)))
                .orElse(new Targets.Check(target, "-", null));
    }

    private static Optional<Result> find(List<Result> results, String scenario, String system, String mode) {
        return results.stream().filter(r -> r.scenario().equals(scenario) && r.system().equals(system)
                && (mode == null || mode.equals(r.extra("mode")))).findFirst();
    }

    private static long longOf(Result r, String field) {
        return r.extra(field) instanceof Number n ? n.longValue() : Long.MAX_VALUE;
    }

    private static int intOf(Result r, String field) {
        return r.extra(field) instanceof Number n ? n.intValue() : Integer.MAX_VALUE;
    }

    private static double p999(Result r) {
        return r.p999Micros() == null ? Double.NaN : r.p999Micros();
    }

    private static double max(Result r) {
        return r.maxMicros() == null ? Double.NaN : r.maxMicros();
    }
}

package io.laminar.storage.bench.suite;

import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.bench.s3.RestoreScenario;
import io.laminar.storage.bench.s3.UploadScenario;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The {@code s3} command: checkpoints into the S3 checkpoint store and restores from it, against an
 * S3Proxy server in this JVM, each beside plain S3 requests of the same bytes (system {@code raw}).
 * Same table, targets and JSON as the other suites; rows add {@code seconds} and {@code bytes}.
 */
public final class S3Suite {

    private static final List<Scenario> SCENARIOS = List.of(new UploadScenario(), RestoreScenario.direct(),
            RestoreScenario.limitedConnections());

    private static final String ROW = "%-15s %-20s %5s %9s %15s %10s  %s%n";

    private S3Suite() {
    }

    static List<String> scenarioNames() {
        return SCENARIOS.stream().map(Scenario::name).toList();
    }

    static int run(String[] args) throws Exception {
        return SuiteRunner.run(new SuiteRunner.Suite("s3", "laminar-storage S3 suite (S3Proxy in this JVM)", SCENARIOS,
                rows -> { }, S3Suite::evaluate, S3Suite::printTable), args);
    }

    static void printTable(List<Result> results, PrintStream out) {
        out.printf(ROW, "scenario", "system", "cores", "seconds", "bytes", "MB/s", "notes");
        out.println("-".repeat(121));
        String previous = null;
        for (var r : results) {
            if (previous != null && !previous.equals(r.scenario())) {
                out.println();
            }
            previous = r.scenario();
            out.printf(ROW, r.scenario(), r.system(), r.threads(), number(r.extra("seconds"), "%.3f"),
                    number(r.extra("bytes"), "%,.0f"), r.mbPerSec() == null ? "-" : String.format("%,.1f", r.mbPerSec()),
                    notes(r));
        }
        out.println("(MB/s: the checkpoint's state file bytes over the time; restore reads every state file once)");
    }

    private static String notes(Result r) {
        var notes = new ArrayList<String>();
        add(notes, r, "vsRaw", "%sx raw");
        add(notes, r, "vsRawMultipart", "%sx raw-multipart");
        add(notes, r, "vsRawMultipartCrc32c", "%sx raw-multipart-crc32c");
        add(notes, r, "vsRawInserts", "%sx raw-inserts");
        add(notes, r, "vsOneGet", "%sx laminar-one-get");
        add(notes, r, "connectionMBps", "%s MB/s per connection");
        add(notes, r, "cpuSeconds", "CPU %s s");
        add(notes, r, "serverCpuSeconds", "of it server %s s");
        add(notes, r, "stateFilesSeconds", "state files %s s");
        add(notes, r, "partSize", "part size %s B");
        add(notes, r, "recoverMillis", "recover %s ms");
        add(notes, r, "complete", "complete %s");
        add(notes, r, "runsSeconds", "runs %s s");
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

    static List<Targets.Check> evaluate(List<Result> results) {
        var checks = new ArrayList<Targets.Check>();
        var upload = find(results, UploadScenario.NAME, "laminar");
        var put = find(results, UploadScenario.NAME, "raw");
        var uploadTarget = "upload: checkpoint >= 80% of the server's raw PUT throughput for the same bytes";
        checks.add(upload.filter(r -> put.isPresent())
                .map(r -> new Targets.Check(uploadTarget, String.format(
                        "%sx raw: %.2f s vs %.2f s for %s (%,.0f vs %,.0f MB/s; %sx raw-multipart, %sx"
                                + " raw-multipart-crc32c)", r.extra("vsRaw"),
                        dbl(r, "seconds"), dbl(put.get(), "seconds"), size(dbl(r, "bytes")), r.mbPerSec(),
                        put.get().mbPerSec(), r.extra("vsRawMultipart"), r.extra("vsRawMultipartCrc32c")),
                        dbl(r, "vsRaw") >= 0.80))
                .orElse(new Targets.Check(uploadTarget, "-", null)));

        var restore = find(results, RestoreScenario.NAME, "laminar");
        var get = find(results, RestoreScenario.NAME, "raw");
        var getInserts = find(results, RestoreScenario.NAME, "raw-inserts");
        var restoreTarget = "restore: time to restore that checkpoint on an empty machine (report)";
        checks.add(restore.map(r -> Targets.Check.info(restoreTarget, String.format(
                        "%.2f s for %s (%,.0f MB/s; raw GETs %s s, with the map inserts %s s; complete %s)",
                        dbl(r, "seconds"), size(dbl(r, "bytes")), r.mbPerSec(),
                        get.map(g -> g.extra("seconds")).orElse("-"),
                        getInserts.map(g -> g.extra("seconds")).orElse("-"), r.extra("complete"))))
                .orElse(new Targets.Check(restoreTarget, "-", null)));

        var limited = find(results, RestoreScenario.LIMITED_NAME, "laminar");
        var limitedOneGet = find(results, RestoreScenario.LIMITED_NAME, "laminar-one-get");
        var limitedGet = find(results, RestoreScenario.LIMITED_NAME, "raw");
        var limitedTarget = "restore-limited: the same over connections of " + RestoreScenario.LIMITED_MB_PER_SECOND
                + " MB/s each, as S3's (report)";
        checks.add(limited.map(r -> Targets.Check.info(limitedTarget, String.format(
                        "%.2f s in ranges (%sx one GET per file: %s s; %sx raw GETs: %s s)", dbl(r, "seconds"),
                        r.extra("vsOneGet"), limitedOneGet.map(g -> g.extra("seconds")).orElse("-"), r.extra("vsRaw"),
                        limitedGet.map(g -> g.extra("seconds")).orElse("-"))))
                .orElse(new Targets.Check(limitedTarget, "-", null)));
        return checks;
    }

    private static String size(double bytes) {
        return bytes >= (1L << 30) ? String.format("%.2f GiB", bytes / (1L << 30))
                : String.format("%.0f MiB", bytes / (1 << 20));
    }

    private static double dbl(Result r, String field) {
        return r.extra(field) instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    private static Optional<Result> find(List<Result> results, String scenario, String system) {
        return results.stream().filter(r -> r.scenario().equals(scenario) && r.system().equals(system)).findFirst();
    }
}

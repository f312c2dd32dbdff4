package io.laminar.storage.bench.suite;

import io.laminar.storage.bench.Result;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The suite's targets and the comparison each laminar row is measured against. Ratios are what
 * count: they are stable across machines where absolute numbers are not.
 */
public final class Targets {

    /**
     * One target: what it asks, what was measured, and whether it held ({@code null}: not run). A
     * report-only check ({@code info}) has no threshold: it shows INFO once measured.
     */
    public record Check(String target, String measured, Boolean pass, boolean info) {
        public Check(String target, String measured, Boolean pass) {
            this(target, measured, pass, false);
        }

        /** A report-only line: what was measured, without a threshold. */
        static Check info(String target, String measured) {
            return new Check(target, measured, Boolean.TRUE, true);
        }

        String verdict() {
            return pass == null ? "NOT RUN" : info ? "INFO" : pass ? "PASS" : "MISS";
        }
    }

    private Targets() {
    }

    /**
     * Sets on every laminar row its ratio against the target comparison, oriented so that above 1
     * means laminar is better: the comparison's p50 over laminar's for append latency, laminar's
     * throughput over the comparison's otherwise.
     */
    static void addRatios(List<Result> results) {
        for (var r : results) {
            if (!r.system().equals("laminar")) {
                continue;
            }
            switch (r.scenario()) {
                case "append-nosync" -> find(results, r.scenario(), "chronicle-queue", r.threads(), r.recordBytes())
                        .filter(c -> c.p50Micros() != null && r.p50Micros() != null && r.p50Micros() > 0)
                        .ifPresent(c -> r.ratio(c.p50Micros() / r.p50Micros(), "chronicle-queue p50"));
                case "durable-single" -> find(results, r.scenario(), "raw", 1, r.recordBytes())
                        .ifPresent(c -> r.ratio(r.recordsPerSec() / c.recordsPerSec(), "raw rec/s"));
                case "durable-group" -> find(results, r.scenario(), "rocksdb", r.threads(), r.recordBytes())
                        .ifPresent(c -> r.ratio(r.recordsPerSec() / c.recordsPerSec(), "rocksdb rec/s"));
                case "bulk", "replay" -> find(results, r.scenario(), "raw", 1, r.recordBytes())
                        .ifPresent(c -> r.ratio(r.mbPerSec() / c.mbPerSec(), "raw MB/s"));
                default -> {
                }
            }
            var backend = r.extra(BACKEND);
            if (backend != null && !FILE_CHANNEL.equals(backend)) {
                laminar(results, r.scenario(), r.threads(), r.recordBytes(), FILE_CHANNEL)
                        .ifPresent(fc -> r.extra(VS_FILE_CHANNEL, Result.round(backendAdvantage(r, fc), 3)));
            }
        }
    }

    /** The field of a laminar row that names its WAL I/O backend. */
    static final String BACKEND = "backend";
    /** The field of a laminar row with another backend: its advantage over file-channel (above 1: better). */
    static final String VS_FILE_CHANNEL = "vsFileChannel";
    private static final String FILE_CHANNEL = "file-channel";

    /** {@code row}'s advantage over {@code fileChannel}, by the metric its scenario is judged on. */
    private static double backendAdvantage(Result row, Result fileChannel) {
        return switch (row.scenario()) {
            case "append-nosync" -> fileChannel.p50Micros() / row.p50Micros();
            case "bulk", "replay" -> row.mbPerSec() / fileChannel.mbPerSec();
            default -> row.recordsPerSec() / fileChannel.recordsPerSec();
        };
    }

    /**
     * The laminar row of a scenario with {@code backend}; with a null backend the file-channel row if
     * there is one (the default, which the targets against other systems are about), else the first.
     */
    static Optional<Result> laminar(List<Result> results, String scenario, int threads, int bytes, String backend) {
        var rows = results.stream()
                .filter(r -> r.scenario().equals(scenario) && r.system().equals("laminar") && r.threads() == threads
                        && r.recordBytes() == bytes)
                .toList();
        var wanted = backend != null ? backend : FILE_CHANNEL;
        var exact = rows.stream().filter(r -> wanted.equals(r.extra(BACKEND))).findFirst();
        return backend != null || exact.isPresent() ? exact : rows.stream().findFirst();
    }

    /**
     * The backend target: the best backend of a scenario at least {@code atLeast} times
     * file-channel in the same run; not run unless file-channel and another backend were measured.
     */
    private static Check backendCheck(List<Result> results, String scenario, int threads, int bytes, String label,
                                      double atLeast) {
        var target = label + ": best WAL I/O backend >= " + atLeast + "x file-channel";
        var others = results.stream()
                .filter(r -> r.scenario().equals(scenario) && r.system().equals("laminar") && r.threads() == threads
                        && r.recordBytes() == bytes && r.extra(VS_FILE_CHANNEL) instanceof Number)
                .toList();
        if (others.isEmpty()) {
            return notRun(target);
        }
        var best = others.stream().max((a, b) -> Double.compare(((Number) a.extra(VS_FILE_CHANNEL)).doubleValue(),
                ((Number) b.extra(VS_FILE_CHANNEL)).doubleValue())).orElseThrow();
        double ratio = ((Number) best.extra(VS_FILE_CHANNEL)).doubleValue();
        boolean fileChannelBest = ratio < 1;
        var measured = String.format("best %s: %.2fx file-channel", fileChannelBest ? FILE_CHANNEL : best.extra(BACKEND),
                Math.max(1.0, ratio)) + (fileChannelBest ? String.format(" (%s %.2fx)", best.extra(BACKEND), ratio) : "");
        return new Check(target, measured, Math.max(1.0, ratio) >= atLeast);
    }

    /** Checks every target against the rows (after {@link #addRatios}). */
    static List<Check> evaluate(List<Result> results) {
        var checks = new ArrayList<Check>();
        var append64 = laminar(results, "append-nosync", 1, 64, null);
        checks.add(append64.map(r -> new Check("append-nosync 64 B: laminar p50 <= 0.150 us",
                        String.format("p50 %.3f us", r.p50Micros()), r.p50Micros() <= 0.150))
                .orElse(notRun("append-nosync 64 B: laminar p50 <= 0.150 us")));
        checks.add(append64.map(r -> new Check("append-nosync 64 B: laminar p99 <= 1 us",
                        String.format("p99 %.3f us", r.p99Micros()), r.p99Micros() <= 1.0))
                .orElse(notRun("append-nosync 64 B: laminar p99 <= 1 us")));
        checks.add(ratioCheck(append64, "append-nosync 64 B: laminar p50 below chronicle-queue's", 1.0, true));

        var single = laminar(results, "durable-single", 1, 128, null);
        checks.add(ratioCheck(single, "durable-single: laminar >= 1.4x raw records/s", 1.4, false));

        var group64 = laminar(results, "durable-group", 64, 128, null);
        checks.add(group64.map(r -> new Check("durable-group 64 writers: laminar >= 150,000 durable records/s",
                        String.format("%,.0f rec/s, %s records per fdatasync", r.recordsPerSec(),
                                r.extra("recordsPerSync")), r.recordsPerSec() >= 150_000))
                .orElse(notRun("durable-group 64 writers: laminar >= 150,000 durable records/s")));
        checks.add(ratioCheck(group64, "durable-group 64 writers: laminar >= 2x rocksdb", 2.0, false));

        var bulk = laminar(results, "bulk", 1, 1024, null);
        checks.add(ratioCheck(bulk, "bulk: laminar >= 80% of raw MB/s", 0.8, false));

        var replay = laminar(results, "replay", 1, 1024, null);
        checks.add(replay.map(r -> new Check("replay: laminar cold open + verified read >= 1 GB/s",
                        String.format("%,.0f MB/s (%.2fx raw read)", r.mbPerSec(),
                                Objects.requireNonNullElse(r.ratio(), Double.NaN)), r.mbPerSec() >= 1000))
                .orElse(notRun("replay: laminar cold open + verified read >= 1 GB/s")));

        checks.add(backendCheck(results, "durable-single", 1, 128, "durable-single", 1.2));
        checks.add(backendCheck(results, "durable-group", 64, 128, "durable-group 64 writers", 1.2));
        checks.add(backendCheck(results, "bulk", 1, 1024, "bulk", 1.0));
        checks.add(ceilingCheck(results, "durable-single", 1, "durable-single"));
        checks.add(ceilingCheck(results, "durable-group", 64, "durable-group 64 writers"));
        return checks;
    }

    /**
     * Report-only: the disk's ceiling for a scenario's backend target, from its {@code raw-prewritten}
     * rows: the best primitive against buffered pwrite + fdatasync (the best ratio any backend could
     * reach against file-channel, were the log free), and how close laminar's file-channel row comes
     * to its own primitive.
     */
    private static Check ceilingCheck(List<Result> results, String scenario, int threads, String label) {
        var target = label + ": disk ceiling, best raw primitive on a pre-written file vs pwrite";
        var rows = results.stream()
                .filter(r -> r.scenario().equals(scenario) && r.system().equals(RAW_PREWRITTEN))
                .toList();
        var pwrite = rows.stream().filter(r -> "pwrite".equals(r.extra(PRIMITIVE))).findFirst();
        if (pwrite.isEmpty()) {
            return notRun(target);
        }
        var best = rows.stream().max((a, b) -> Double.compare(a.recordsPerSec(), b.recordsPerSec())).orElseThrow();
        double base = pwrite.get().recordsPerSec();
        var measured = new StringBuilder(String.format("best %s: %.2fx pwrite", best.extra(PRIMITIVE),
                best.recordsPerSec() / base));
        for (var row : rows) {
            if (row != best && row != pwrite.get()) {
                measured.append(String.format(", %s %.2fx", row.extra(PRIMITIVE), row.recordsPerSec() / base));
            }
        }
        laminar(results, scenario, threads, pwrite.get().recordBytes(), FILE_CHANNEL).ifPresent(fc ->
                measured.append(String.format("; laminar file-channel %.2fx pwrite", fc.recordsPerSec() / base)));
        return Check.info(target, measured.toString());
    }

    /** The system of the disk-ceiling rows, and their field naming the primitive. */
    private static final String RAW_PREWRITTEN = "raw-prewritten";
    static final String PRIMITIVE = "primitive";

    private static Check ratioCheck(Optional<Result> row, String target, double atLeast, boolean strictly) {
        return row.filter(r -> r.ratio() != null)
                .map(r -> new Check(target, String.format("%.2fx %s", r.ratio(), r.ratioVs()),
                        strictly ? r.ratio() > atLeast : r.ratio() >= atLeast))
                .orElse(notRun(target));
    }

    private static Check notRun(String target) {
        return new Check(target, "-", null);
    }

    static Optional<Result> find(List<Result> results, String scenario, String system, int threads, int bytes) {
        return results.stream()
                .filter(r -> r.scenario().equals(scenario) && r.system().equals(system) && r.threads() == threads
                        && r.recordBytes() == bytes)
                .findFirst();
    }
}

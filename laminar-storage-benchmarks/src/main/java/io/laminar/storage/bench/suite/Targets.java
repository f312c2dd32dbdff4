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
        }
    }

    /** Checks every target against the rows (after {@link #addRatios}). */
    static List<Check> evaluate(List<Result> results) {
        var checks = new ArrayList<Check>();
        var append64 = find(results, "append-nosync", "laminar", 1, 64);
        checks.add(append64.map(r -> new Check("append-nosync 64 B: laminar p50 <= 0.150 us",
                        String.format("p50 %.3f us", r.p50Micros()), r.p50Micros() <= 0.150))
                .orElse(notRun("append-nosync 64 B: laminar p50 <= 0.150 us")));
        checks.add(append64.map(r -> new Check("append-nosync 64 B: laminar p99 <= 1 us",
                        String.format("p99 %.3f us", r.p99Micros()), r.p99Micros() <= 1.0))
                .orElse(notRun("append-nosync 64 B: laminar p99 <= 1 us")));
        checks.add(ratioCheck(append64, "append-nosync 64 B: laminar p50 below chronicle-queue's", 1.0, true));

        var single = find(results, "durable-single", "laminar", 1, 128);
        checks.add(ratioCheck(single, "durable-single: laminar >= 1.4x raw records/s", 1.4, false));

        var group64 = find(results, "durable-group", "laminar", 64, 128);
        checks.add(group64.map(r -> new Check("durable-group 64 writers: laminar >= 150,000 durable records/s",
                        String.format("%,.0f rec/s, %s records per fdatasync", r.recordsPerSec(),
                                r.extra("recordsPerSync")), r.recordsPerSec() >= 150_000))
                .orElse(notRun("durable-group 64 writers: laminar >= 150,000 durable records/s")));
        checks.add(ratioCheck(group64, "durable-group 64 writers: laminar >= 2x rocksdb", 2.0, false));

        var bulk = find(results, "bulk", "laminar", 1, 1024);
        checks.add(ratioCheck(bulk, "bulk: laminar >= 80% of raw MB/s", 0.8, false));

        var replay = find(results, "replay", "laminar", 1, 1024);
        checks.add(replay.map(r -> new Check("replay: laminar cold open + verified read >= 1 GB/s",
                        String.format("%,.0f MB/s (%.2fx raw read)", r.mbPerSec(),
                                Objects.requireNonNullElse(r.ratio(), Double.NaN)), r.mbPerSec() >= 1000))
                .orElse(notRun("replay: laminar cold open + verified read >= 1 GB/s")));
        return checks;
    }

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

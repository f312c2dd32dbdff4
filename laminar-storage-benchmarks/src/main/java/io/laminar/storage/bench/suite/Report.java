package io.laminar.storage.bench.suite;

import io.laminar.storage.bench.Result;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

/** Prints the result table and the targets, and writes the rows as JSON. */
final class Report {

    private static final String ROW = "%-15s %-16s %-13s %4s %6s %14s %10s %10s %10s %9s  %s%n";

    private Report() {
    }

    static void printTable(List<Result> results, PrintStream out) {
        out.printf(ROW, "scenario", "system", "backend/prim.", "thr", "bytes", "rec/s", "MB/s", "p50 us", "p99 us", "rec/sync",
                "vs target comparison (>1: laminar better)");
        out.println("-".repeat(144));
        String previous = null;
        for (var r : results) {
            if (previous != null && !previous.equals(r.scenario())) {
                out.println();
            }
            previous = r.scenario();
            out.printf(ROW, r.scenario(), r.system(), Objects.toString(r.extra(Targets.BACKEND),
                    Objects.toString(r.extra(Targets.PRIMITIVE), "-")), r.threads(), r.recordBytes(), count(r.recordsPerSec()),
                    decimal(r.mbPerSec()), micros(r.p50Micros()), micros(r.p99Micros()),
                    decimalOrDash(r.extra("recordsPerSync")),
                    (r.ratio() == null ? "" : String.format("%.2fx %s", r.ratio(), r.ratioVs()))
                            + (r.extra(Targets.VS_FILE_CHANNEL) instanceof Number n
                            ? String.format("; %.2fx file-channel", n.doubleValue()) : ""));
        }
    }

    static void printTargets(List<Targets.Check> checks, PrintStream out) {
        out.println("targets:");
        for (var check : checks) {
            out.printf("  %-8s %-64s %s%n", check.verdict(), check.target(), check.measured());
        }
    }

    static void writeJson(List<Result> results, Path file) throws java.io.IOException {
        var mapper = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();
        var rows = results.stream().map(Result::toJson).toList();
        var parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(file, mapper.writeValueAsString(rows) + System.lineSeparator());
    }

    private static String count(Double value) {
        return value == null ? "-" : String.format("%,.0f", value);
    }

    private static String decimal(Double value) {
        return value == null ? "-" : String.format("%,.1f", value);
    }

    private static String decimalOrDash(Object value) {
        return value instanceof Number n ? String.format("%.1f", n.doubleValue()) : "-";
    }

    /** Three decimals below 10 us, so a 150 ns append shows as 0.150. */
    private static String micros(Double value) {
        if (value == null) {
            return "-";
        }
        return value < 10 ? String.format("%.3f", value) : String.format("%,.1f", value);
    }
}

package io.laminar.storage.bench;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import org.HdrHistogram.Histogram;

/**
 * One row of the suite's output: one system in one scenario at one thread count and record size.
 * Values that were not measured stay {@code null} (and are written as JSON {@code null}).
 * Latencies are in microseconds; MB is 10^6 bytes of payload.
 */
public final class Result {

    private final String scenario;
    private final String system;
    private final int threads;
    private final int recordBytes;
    private Double recordsPerSec;
    private Double mbPerSec;
    private Double p50Micros;
    private Double p99Micros;
    private Double p999Micros;
    private Double maxMicros;
    private Double ratio;
    private String ratioVs;
    /** Scenario-specific fields (records per fdatasync, open time, ...), in insertion order. */
    private final Map<String, Object> extra = new LinkedHashMap<>();

    public Result(String scenario, String system, int threads, int recordBytes) {
        this.scenario = scenario;
        this.system = system;
        this.threads = threads;
        this.recordBytes = recordBytes;
    }

    /** Sets records/s and MB/s from a count of records of {@code recordBytes} over {@code seconds}. */
    public Result throughput(long records, double seconds) {
        recordsPerSec = records / seconds;
        mbPerSec = (double) records * recordBytes / seconds / 1e6;
        return this;
    }

    /** Sets MB/s from bytes that are not {@code records x recordBytes} (file bytes, framed log bytes). */
    public Result bytesPerSecond(long bytes, double seconds) {
        mbPerSec = bytes / seconds / 1e6;
        return this;
    }

    /** Sets records/s only. */
    public Result recordsPerSecond(long records, double seconds) {
        recordsPerSec = records / seconds;
        return this;
    }

    /** Sets p50/p99/p99.9/max from a histogram of nanoseconds. */
    public Result latency(Histogram nanos) {
        if (nanos.getTotalCount() > 0) {
            p50Micros = nanos.getValueAtPercentile(50) / 1e3;
            p99Micros = nanos.getValueAtPercentile(99) / 1e3;
            p999Micros = nanos.getValueAtPercentile(99.9) / 1e3;
            maxMicros = nanos.getMaxValue() / 1e3;
        }
        return this;
    }

    public Result extra(String field, Object value) {
        extra.put(field, value);
        return this;
    }

    /** laminar's advantage over {@code vs}: above 1 means laminar is better (faster or lower latency). */
    public void ratio(double value, String vs) {
        ratio = value;
        ratioVs = vs;
    }

    public String scenario() {
        return scenario;
    }

    public String system() {
        return system;
    }

    public int threads() {
        return threads;
    }

    public int recordBytes() {
        return recordBytes;
    }

    public Double recordsPerSec() {
        return recordsPerSec;
    }

    public Double mbPerSec() {
        return mbPerSec;
    }

    public Double p50Micros() {
        return p50Micros;
    }

    public Double p99Micros() {
        return p99Micros;
    }

    public Double p999Micros() {
        return p999Micros;
    }

    public Double maxMicros() {
        return maxMicros;
    }

    public Double ratio() {
        return ratio;
    }

    public String ratioVs() {
        return ratioVs;
    }

    public Object extra(String field) {
        return extra.get(field);
    }

    /** The row as the JSON object the suite writes: the fixed fields first, then the extras. */
    public Map<String, Object> toJson() {
        var row = new LinkedHashMap<String, Object>();
        row.put("scenario", scenario);
        row.put("system", system);
        row.put("threads", threads);
        row.put("recordBytes", recordBytes);
        row.put("recordsPerSec", round(recordsPerSec, 1));
        row.put("mbPerSec", round(mbPerSec, 2));
        row.put("p50Micros", round(p50Micros, 3));
        row.put("p99Micros", round(p99Micros, 3));
        row.put("p999Micros", round(p999Micros, 3));
        row.put("maxMicros", round(maxMicros, 3));
        row.putAll(extra);
        if (ratio != null) {
            row.put("ratio", round(ratio, 3));
            row.put("ratioVs", ratioVs);
        }
        return row;
    }

    /**
     * The run with the median {@code metric} (the upper one of an even count); with more than one
     * run, every run's value is added as {@code runsField} so the spread stays visible.
     */
    public static Result median(List<Result> runs, ToDoubleFunction<Result> metric, String runsField) {
        var sorted = new ArrayList<>(runs);
        sorted.sort(Comparator.comparingDouble(metric));
        var median = sorted.get(sorted.size() / 2);
        if (runs.size() > 1) {
            median.extra(runsField, runs.stream().map(r -> round(metric.applyAsDouble(r), 1)).toList());
        }
        return median;
    }

    /** {@code value} rounded to {@code decimals} places; null stays null. */
    public static Double round(Double value, int decimals) {
        if (value == null) {
            return null;
        }
        double scale = Math.pow(10, decimals);
        return Math.round(value * scale) / scale;
    }
}

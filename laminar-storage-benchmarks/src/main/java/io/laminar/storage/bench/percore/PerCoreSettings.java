package io.laminar.storage.bench.percore;

import java.time.Duration;

/**
 * How long each phase of the {@code percore} suite runs: the quick smoke run or the default run.
 *
 * @param putWarmup         warm-up of each ring0-put measurement (after one pass over the key space)
 * @param putMeasure        measured phase of each ring0-put measurement
 * @param putRounds         ring0-put runs per system, interleaved; the run with the median p99 is reported
 * @param sustainedWarmup   warm-up of each ring0-sustained run
 * @param sustainedMeasure  measured phase of each ring0-sustained run (as fast as possible, then paced)
 * @param pacedRate         puts per second of the paced ring0-sustained run
 * @param coresWarmup       warm-up of each cores run
 * @param coresMeasure      measured phase of each cores run
 * @param coresRounds       cores runs per core count, interleaved; the median throughput is reported
 * @param jmhWarmups        ring0-alloc: JMH warm-up iterations
 * @param jmhIterations     ring0-alloc: JMH measurement iterations
 * @param jmhIterationTime  ring0-alloc: length of each JMH iteration
 * @param quietDiskWaitMillis the longest wait for a quiet disk before each system (see
 *                          {@code BenchContext.awaitQuietDisk}); short in the quick run, so other
 *                          processes' write-back cannot stretch it beyond two minutes
 */
public record PerCoreSettings(
        Duration putWarmup,
        Duration putMeasure,
        int putRounds,
        Duration sustainedWarmup,
        Duration sustainedMeasure,
        int pacedRate,
        Duration coresWarmup,
        Duration coresMeasure,
        int coresRounds,
        int jmhWarmups,
        int jmhIterations,
        Duration jmhIterationTime,
        long quietDiskWaitMillis) {

    public static PerCoreSettings forRun(boolean quick) {
        return quick ? quickRun() : defaultRun();
    }

    /** The smoke run: about a minute. */
    static PerCoreSettings quickRun() {
        return new PerCoreSettings(Duration.ofMillis(500), Duration.ofSeconds(2), 1,
                Duration.ofMillis(500), Duration.ofSeconds(3), 500_000,
                Duration.ofMillis(500), Duration.ofSeconds(2), 1,
                2, 3, Duration.ofMillis(500), 2_000);
    }

    /** The run to quote: about four minutes on a quiet machine. */
    static PerCoreSettings defaultRun() {
        return new PerCoreSettings(Duration.ofSeconds(2), Duration.ofSeconds(5), 3,
                Duration.ofSeconds(3), Duration.ofSeconds(30), 500_000,
                Duration.ofSeconds(2), Duration.ofSeconds(8), 3,
                5, 5, Duration.ofSeconds(1), 10_000);
    }
}

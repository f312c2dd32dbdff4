package io.laminar.storage.bench;

import java.time.Duration;

/**
 * How long each phase of the suite runs: the quick smoke run or the default run to quote.
 *
 * <p>Timed phases end at their duration or at their operation cap, whichever comes first; the cap
 * keeps fast systems with big records from filling the disk.
 *
 * @param quick              whether this is the smoke run
 * @param latencyWarmup      warm-up of each append-nosync measurement
 * @param latencyMeasure     measured phase of each append-nosync measurement
 * @param latencyPhaseBytes  payload bytes after which an append-nosync phase stops early
 * @param durableWarmup      warm-up of each durable-single / durable-group measurement
 * @param durableMeasure     measured phase of each durable-single / durable-group measurement
 * @param durableRounds      how often each durable system runs, interleaved with the others; the
 *                           median run is reported
 * @param bulkWarmupBytes    bytes written (and synced) before the bulk measurement
 * @param bulkBytes          bytes written in the bulk measurement
 * @param bulkRounds         how often each bulk system runs, alternating with the other; the median is reported
 * @param replayBytes        size of the log the replay scenario writes and then reads
 * @param replayRepeats      how often each replay system reads it; the median run is reported
 */
public record Settings(
        boolean quick,
        Duration latencyWarmup,
        Duration latencyMeasure,
        long latencyPhaseBytes,
        Duration durableWarmup,
        Duration durableMeasure,
        int durableRounds,
        long bulkWarmupBytes,
        long bulkBytes,
        int bulkRounds,
        long replayBytes,
        int replayRepeats) {

    private static final long MIB = 1 << 20;

    /** A smoke run: every scenario and system, in well under two minutes. */
    public static Settings quickRun() {
        return new Settings(true, Duration.ofMillis(300), Duration.ofSeconds(1), 256 * MIB,
                Duration.ofMillis(500), Duration.ofMillis(1500), 1, 32 * MIB, 256 * MIB, 1, 256 * MIB, 3);
    }

    /** The run to quote: about six minutes on a quiet machine. */
    public static Settings defaultRun() {
        return new Settings(false, Duration.ofSeconds(2), Duration.ofSeconds(5), 1024 * MIB,
                Duration.ofSeconds(2), Duration.ofSeconds(5), 3, 128 * MIB, 1024 * MIB, 3, 1024 * MIB, 3);
    }
}

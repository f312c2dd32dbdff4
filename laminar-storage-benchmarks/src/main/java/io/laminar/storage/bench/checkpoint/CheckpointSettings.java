package io.laminar.storage.bench.checkpoint;

import java.time.Duration;

/**
 * Sizes and phase lengths of the {@code checkpoint} suite: the quick smoke run or the default run.
 *
 * @param stateBytes        logical state (key + value bytes) across all cores
 * @param walBytes          restore: key + value bytes put after the checkpoint, replayed by recovery
 * @param fullRounds        full: checkpoint and raw write each run this often, alternating; median reported
 * @param ring0Baseline     ring0-during-checkpoint: length of each no-checkpoint phase
 * @param ring0Rounds       ring0-during-checkpoint: baseline + checkpoint phases, alternating
 * @param ring0RatePerCore  ring0-during-checkpoint: puts per second on each core thread
 * @param quietDiskWaitMillis longest wait for the kernel's write-back before each measurement
 */
public record CheckpointSettings(long stateBytes, long walBytes, int fullRounds, Duration ring0Baseline,
                                 int ring0Rounds, int ring0RatePerCore, long quietDiskWaitMillis) {

    static final long MIB = 1 << 20;
    /** The sizes the targets are stated for. */
    static final long TARGET_STATE_BYTES = 1024 * MIB;
    static final long TARGET_WAL_BYTES = 256 * MIB;

    static CheckpointSettings forRun(boolean quick) {
        return quick
                ? new CheckpointSettings(64 * MIB, 16 * MIB, 1, Duration.ofSeconds(1), 1, 20_000, 2_000)
                : new CheckpointSettings(TARGET_STATE_BYTES, TARGET_WAL_BYTES, 3, Duration.ofSeconds(5), 3, 20_000,
                        10_000);
    }

    /** This run's state as a fraction of the 1 GiB the targets name. */
    double scale() {
        return (double) stateBytes / TARGET_STATE_BYTES;
    }
}

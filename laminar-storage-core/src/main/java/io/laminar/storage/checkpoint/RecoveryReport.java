package io.laminar.storage.checkpoint;

import java.time.Duration;
import java.util.List;

/**
 * What a recovery did. Immutable.
 *
 * @param checkpointId           the checkpoint restored, or null if none was (recovery from the WAL only)
 * @param skipped                newer checkpoints that were not usable, newest first, each with the reason
 * @param recordsReplayed        the WAL data records replayed onto the restored state, all cores
 * @param bytesReplayed          the WAL bytes those records (and the barriers among them) take
 * @param recordsReplayedPerCore per core, the data records replayed
 * @param duration               how long the recovery took
 */
public record RecoveryReport(Long checkpointId, List<SkippedCheckpoint> skipped, long recordsReplayed,
        long bytesReplayed, List<Long> recordsReplayedPerCore, Duration duration) {

    public RecoveryReport {
        skipped = List.copyOf(skipped);
        recordsReplayedPerCore = List.copyOf(recordsReplayedPerCore);
    }
}

package io.laminar.storage.checkpoint;

import java.time.Duration;
import java.util.List;

/**
 * What a recovery did. Immutable.
 *
 * @param checkpointId           the checkpoint restored, or null if none was (recovery from the WAL only)
 * @param adoptedCheckpoint      whether that checkpoint was taken with another WAL (typically another
 *                               machine's, restored from a shared store into an empty data directory):
 *                               this WAL had no history of its own and adopted the checkpoint's positions
 *                               and epoch (see {@link RecoveryManager}). The state is exactly the
 *                               checkpoint's; what the other machine changed after it is not restored,
 *                               and sources resume from its offsets. Always false without a checkpoint
 * @param skipped                newer checkpoints that were not usable, newest first, each with the reason
 * @param recordsReplayed        the WAL data records replayed onto the restored state, all cores
 * @param bytesReplayed          the WAL bytes those records (and the barriers among them) take
 * @param recordsReplayedPerCore per core, the data records replayed
 * @param duration               how long the recovery took
 * @param recordsFromReplication the changes restored from the replicated log (Kafka) after the
 *                               checkpoint, at a takeover of the shard by a new owner; 0 otherwise
 * @param rescale                what the {@link Rescaler} did before this recovery, when the directory or
 *                               checkpoint was written with another number of cores (the checkpoint
 *                               restored is then the rescale's); null if there was no rescale
 */
public record RecoveryReport(Long checkpointId, boolean adoptedCheckpoint, List<SkippedCheckpoint> skipped,
        long recordsReplayed, long bytesReplayed, List<Long> recordsReplayedPerCore, Duration duration,
        long recordsFromReplication, RescaleReport rescale) {

    /** A report of a recovery that restored nothing from a replicated log, without a rescale. */
    public RecoveryReport(Long checkpointId, boolean adoptedCheckpoint, List<SkippedCheckpoint> skipped,
            long recordsReplayed, long bytesReplayed, List<Long> recordsReplayedPerCore, Duration duration) {
        this(checkpointId, adoptedCheckpoint, skipped, recordsReplayed, bytesReplayed, recordsReplayedPerCore,
                duration, 0, null);
    }

    /** This report with what the rescale before the recovery did (null: none). */
    public RecoveryReport withRescale(RescaleReport rescale) {
        return new RecoveryReport(checkpointId, adoptedCheckpoint, skipped, recordsReplayed, bytesReplayed,
                recordsReplayedPerCore, duration, recordsFromReplication, rescale);
    }

    /**
     * @throws IllegalArgumentException if {@code adoptedCheckpoint} is set without a {@code checkpointId}
     */
    public RecoveryReport {
        if (adoptedCheckpoint && checkpointId == null) {
            throw new IllegalArgumentException("adoptedCheckpoint needs the id of the checkpoint adopted, but "
                    + "checkpointId was null");
        }
        skipped = List.copyOf(skipped);
        recordsReplayedPerCore = List.copyOf(recordsReplayedPerCore);
        if (recordsFromReplication < 0) {
            throw new IllegalArgumentException("recordsFromReplication must not be negative, but was "
                    + recordsFromReplication);
        }
    }

    /** This report with {@code records} changes restored from the replicated log and {@code duration}. */
    public RecoveryReport withReplication(long records, Duration duration) {
        return new RecoveryReport(checkpointId, adoptedCheckpoint, skipped, recordsReplayed, bytesReplayed,
                recordsReplayedPerCore, duration, records, rescale);
    }
}

package io.laminar.storage.store;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The description of one completed checkpoint: everything recovery needs to restore state and
 * resume sources, and the list of every file the checkpoint depends on. Stored as a versioned JSON
 * document ({@code ManifestCodec}); published last, atomically, once every file it references is
 * durable. Immutable.
 *
 * @param checkpointId         monotonic id; a newer checkpoint has a larger id
 * @param epoch                the epoch of the cut: the checkpoint holds every record of earlier epochs
 * @param createdAt            when the checkpoint was started
 * @param walPositions         per core, the WAL position replay starts from (the epoch barrier)
 * @param sources              per connector name, its offsets at the cut
 * @param operators            per operator name, its state: small state inline, larger state in files
 * @param files                every state file this checkpoint needs (its own and inherited ones)
 * @param parentCheckpointId   the checkpoint whose files this one builds on, or null for a full one
 * @param stateBytes           the logical size of the whole state this checkpoint represents, all
 *                             cores: the sum of the lengths of every key and value, without any file
 *                             framing, whether this checkpoint wrote it or inherits it
 * @param writtenBytes         the bytes of the state files this checkpoint wrote (its deltas or full
 *                             files, with their framing): what it cost
 * @param watermark            the event-time watermark at the cut, or {@link Long#MIN_VALUE} if none
 */
public record CheckpointManifest(
        long checkpointId,
        long epoch,
        Instant createdAt,
        List<Long> walPositions,
        Map<String, ConnectorCheckpoint> sources,
        Map<String, OperatorCheckpoint> operators,
        List<StateFileRef> files,
        Long parentCheckpointId,
        long stateBytes,
        long writtenBytes,
        long watermark) {

    /** The manifest format this library writes: a newer major is refused, a newer minor is read. */
    public static final int FORMAT_MAJOR = 2;
    public static final int FORMAT_MINOR = 0;

    public CheckpointManifest {
        Objects.requireNonNull(createdAt, "createdAt");
        walPositions = List.copyOf(walPositions);
        sources = Map.copyOf(sources);
        operators = Map.copyOf(operators);
        files = List.copyOf(files);
        if (checkpointId < 0) {
            throw new IllegalArgumentException("checkpointId must not be negative, but was " + checkpointId);
        }
    }
}

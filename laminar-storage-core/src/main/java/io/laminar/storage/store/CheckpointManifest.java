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
 * @param keyGroups            how many key groups the keys of the state are spread over
 *                             ({@code io.laminar.storage.KeyGroups}): state file {@code core-NNNN} holds
 *                             the key groups that core owned among {@code walPositions.size()} cores.
 *                             0 for a manifest written before key groups (format 2.0), whose keys were
 *                             placed by an older hash: restoring it re-places every key
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
        long watermark,
        int keyGroups) {

    /** The manifest format this library writes: a newer major is refused, a newer minor is read. */
    public static final int FORMAT_MAJOR = 2;
    /** 1: adds {@code keyGroups}. */
    public static final int FORMAT_MINOR = 1;

    public CheckpointManifest {
        Objects.requireNonNull(createdAt, "createdAt");
        walPositions = List.copyOf(walPositions);
        sources = Map.copyOf(sources);
        operators = Map.copyOf(operators);
        files = List.copyOf(files);
        if (checkpointId < 0) {
            throw new IllegalArgumentException("checkpointId must not be negative, but was " + checkpointId);
        }
        if (keyGroups < 0) {
            throw new IllegalArgumentException("keyGroups must not be negative, but was " + keyGroups);
        }
    }

    /** A manifest that records no key groups ({@code keyGroups} 0: written before key groups). */
    public CheckpointManifest(long checkpointId, long epoch, Instant createdAt, List<Long> walPositions,
            Map<String, ConnectorCheckpoint> sources, Map<String, OperatorCheckpoint> operators,
            List<StateFileRef> files, Long parentCheckpointId, long stateBytes, long writtenBytes, long watermark) {
        this(checkpointId, epoch, createdAt, walPositions, sources, operators, files, parentCheckpointId, stateBytes,
                writtenBytes, watermark, 0);
    }
}

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
 * @param baseChains           per core chain name ({@code core-NNNN}), the chains of an older
 *                             checkpoint this one reads again instead of rewriting them (empty for
 *                             every checkpoint but the one a rescale writes): the state of such a core
 *                             is the entries of each base chain in that base chain's key groups
 *                             (core-local entries of a base chain are never taken), then the core's
 *                             own chain ({@code operators}' {@code core-NNNN}: DELTA files only) applied
 *                             on top. Every base file is listed in {@code files}, so retention keeps
 *                             it while this manifest is retained. Written as format 3.0
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
        int keyGroups,
        Map<String, List<BaseChain>> baseChains) {

    /**
     * The newest manifest format this library writes: a newer major is refused, a newer minor is
     * read. 3.0 (adds {@code baseChains}) is written only for a manifest that has base chains, which
     * a reader of format 2 must not restore (it would ignore them); others are written as 2.1 (2.0
     * without key groups).
     */
    public static final int FORMAT_MAJOR = 3;
    /** 0. */
    public static final int FORMAT_MINOR = 0;

    public CheckpointManifest {
        Objects.requireNonNull(createdAt, "createdAt");
        walPositions = List.copyOf(walPositions);
        sources = Map.copyOf(sources);
        operators = Map.copyOf(operators);
        files = List.copyOf(files);
        var chains = new java.util.TreeMap<String, List<BaseChain>>();
        Objects.requireNonNull(baseChains, "baseChains").forEach((name, list) -> chains.put(name, List.copyOf(list)));
        baseChains = java.util.Collections.unmodifiableMap(chains);
        if (checkpointId < 0) {
            throw new IllegalArgumentException("checkpointId must not be negative, but was " + checkpointId);
        }
        if (keyGroups < 0) {
            throw new IllegalArgumentException("keyGroups must not be negative, but was " + keyGroups);
        }
    }

    /** A manifest without base chains (every checkpoint but a rescale's). */
    public CheckpointManifest(long checkpointId, long epoch, Instant createdAt, List<Long> walPositions,
            Map<String, ConnectorCheckpoint> sources, Map<String, OperatorCheckpoint> operators,
            List<StateFileRef> files, Long parentCheckpointId, long stateBytes, long writtenBytes, long watermark,
            int keyGroups) {
        this(checkpointId, epoch, createdAt, walPositions, sources, operators, files, parentCheckpointId, stateBytes,
                writtenBytes, watermark, keyGroups, Map.of());
    }

    /** Whether some core's state is read from base chains of an older checkpoint ({@link #baseChains()}). */
    public boolean hasBaseChains() {
        return !baseChains.isEmpty();
    }

    /** A manifest that records no key groups ({@code keyGroups} 0: written before key groups). */
    public CheckpointManifest(long checkpointId, long epoch, Instant createdAt, List<Long> walPositions,
            Map<String, ConnectorCheckpoint> sources, Map<String, OperatorCheckpoint> operators,
            List<StateFileRef> files, Long parentCheckpointId, long stateBytes, long writtenBytes, long watermark) {
        this(checkpointId, epoch, createdAt, walPositions, sources, operators, files, parentCheckpointId, stateBytes,
                writtenBytes, watermark, 0, Map.of());
    }
}

package io.laminar.storage.checkpoint;

import io.laminar.storage.state.StateSnapshot;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.ConnectorCheckpoint;
import io.laminar.storage.store.OperatorCheckpoint;
import java.util.List;
import java.util.Map;

/**
 * The result of {@link RecoveryManager#recover()}: the state of every core as of the last durable
 * WAL record, and where sources resume. Immutable (the snapshots are immutable views: start each
 * core's store with {@code ChangelogAwareStateStore.fromSnapshot}).
 *
 * @param coreStates per core, its state: the checkpoint's state plus every durable change after it
 * @param sources    the source offsets recorded at the checkpoint's cut (empty without a checkpoint)
 * @param operators  the operator states of the checkpoint, including the {@code core-NNNN} chain
 *                   entries (empty without a checkpoint)
 * @param epoch      the checkpoint's epoch, or -1 without a checkpoint
 * @param report     what was restored, skipped and replayed
 * @param checkpoint the manifest of the checkpoint restored, or null without a checkpoint
 * @param checkpointStates per core, the state the checkpoint's files hold, before the WAL replay
 *                   (empty without a checkpoint): what {@link StateCheckpointCoordinator.Builder#resumeFrom}
 *                   continues the checkpoint chains from, so the next checkpoint writes only deltas.
 *                   They share their cells and every node the replay did not reshape with
 *                   {@code coreStates}, but pin the values the replay replaced: drop this object once
 *                   the coordinator is built (the
 *                   coordinator keeps them only until its first checkpoint after the restart commits)
 */
public record RecoveredState(List<StateSnapshot> coreStates, Map<String, ConnectorCheckpoint> sources,
        Map<String, OperatorCheckpoint> operators, long epoch, RecoveryReport report, CheckpointManifest checkpoint,
        List<StateSnapshot> checkpointStates) {

    public RecoveredState {
        coreStates = List.copyOf(coreStates);
        sources = Map.copyOf(sources);
        operators = Map.copyOf(operators);
        checkpointStates = List.copyOf(checkpointStates);
        if (checkpoint != null && checkpointStates.size() != coreStates.size()) {
            throw new IllegalArgumentException("a recovered checkpoint needs one checkpoint state per core: "
                    + checkpointStates.size() + " for " + coreStates.size() + " cores");
        }
    }

    /** The event-time watermark recorded at the checkpoint's cut, or {@link Long#MIN_VALUE} (none, or no checkpoint). */
    public long watermark() {
        return checkpoint == null ? Long.MIN_VALUE : checkpoint.watermark();
    }
}

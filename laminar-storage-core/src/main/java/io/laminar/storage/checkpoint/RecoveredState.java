package io.laminar.storage.checkpoint;

import io.laminar.storage.state.StateSnapshot;
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
 */
public record RecoveredState(List<StateSnapshot> coreStates, Map<String, ConnectorCheckpoint> sources,
        Map<String, OperatorCheckpoint> operators, long epoch, RecoveryReport report) {

    public RecoveredState {
        coreStates = List.copyOf(coreStates);
        sources = Map.copyOf(sources);
        operators = Map.copyOf(operators);
    }
}

package io.laminar.storage.percore;

/**
 * The epoch cut that {@link EpochCoordinator#prepareCheckpoint} made: every core wrote a
 * barrier for {@code epoch} and it is durable.
 *
 * @param epoch      the epoch the barriers open. A checkpoint taken at this cut must hold the
 *                   effect of every record of earlier epochs; replay after it starts at the barriers
 * @param replayFrom per core, the position of its barrier: the positions replay starts from (and,
 *                   once the checkpoint is complete, the positions each core's log may be truncated to)
 */
public record PreparedCheckpoint(long epoch, CorePositions replayFrom) {
}

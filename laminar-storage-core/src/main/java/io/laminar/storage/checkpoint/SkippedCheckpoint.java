package io.laminar.storage.checkpoint;

/**
 * A checkpoint recovery did not use, and why. Immutable.
 *
 * @param checkpointId the checkpoint
 * @param reason       what is wrong with it (unreadable manifest, missing or damaged file, missing WAL)
 */
public record SkippedCheckpoint(long checkpointId, String reason) {
}

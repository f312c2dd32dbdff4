package io.laminar.storage.checkpoint;

import java.time.Duration;

/**
 * Hears about the checkpoints a {@link StateCheckpointCoordinator} runs. Called on the checkpoint
 * thread: return quickly. An exception a listener throws is logged and ignored. Every method has an
 * empty default.
 */
public interface CheckpointListener {

    /** Checkpoint {@code checkpointId} started. */
    default void started(long checkpointId) {
    }

    /**
     * Checkpoint {@code manifest.checkpointId()} is published (and the WAL truncated as far as
     * retention allows).
     *
     * @param writtenBytes the bytes of state files this checkpoint wrote
     */
    default void completed(CheckpointManifest manifest, Duration duration, long writtenBytes) {
    }

    /** Checkpoint {@code checkpointId} failed; the previous checkpoint is intact. */
    default void failed(long checkpointId, Throwable cause) {
    }
}

package io.laminar.storage.checkpoint;

import io.laminar.storage.store.CheckpointManifest;
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
     * Checkpoint {@code checkpointId} reached {@code step}, in the order of {@link CheckpointStep}
     * ({@link CheckpointStep#RETENTION} only when retention deletes something,
     * {@link CheckpointStep#TRUNCATION} only when a retained checkpoint bounds it). For tracing: the
     * time between {@link #started} and {@link CheckpointStep#CUT} is the barrier, from there to
     * {@link CheckpointStep#STATE_FILES_WRITTEN} the upload of the state files, and so on.
     */
    default void step(long checkpointId, CheckpointStep step) {
    }

    /**
     * Checkpoint {@code manifest.checkpointId()} is published (and, unless
     * {@link #publishedButNotCleanedUp} was called just before, retention applied and the WAL
     * truncated as far as it allows).
     *
     * @param writtenBytes the bytes of state files this checkpoint wrote
     */
    default void completed(CheckpointManifest manifest, Duration duration, long writtenBytes) {
    }

    /**
     * Checkpoint {@code manifest.checkpointId()} is published and usable, but a step after the
     * publication failed: retention (old manifests or files not deleted) or truncation (the WAL not
     * truncated). Nothing is lost: more is kept than retention wants until a later checkpoint
     * succeeds at it. Called before {@link #completed} for the same checkpoint, which is still called.
     *
     * @param step the step that failed: {@link CheckpointStep#MANIFEST_PUBLISHED} (the step observer
     *             threw), {@link CheckpointStep#RETENTION} or {@link CheckpointStep#TRUNCATION}
     */
    default void publishedButNotCleanedUp(CheckpointManifest manifest, CheckpointStep step, Throwable cause) {
    }

    /**
     * Checkpoint {@code checkpointId} failed before its manifest was published: it does not exist,
     * and the previous checkpoint is intact.
     */
    default void failed(long checkpointId, Throwable cause) {
    }
}

package io.laminar.storage.checkpoint;

/**
 * The steps of one checkpoint, in order, as reported to the step observer of a
 * {@link StateCheckpointCoordinator} (for tracing, and for crash tests that stop the process at a
 * given step).
 */
public enum CheckpointStep {
    /** Every core reached its barrier and its snapshot is taken; nothing written yet. */
    CUT,
    /** The state files are durable in the store; the manifest is not published. */
    STATE_FILES_WRITTEN,
    /** The manifest is published: the checkpoint exists. */
    MANIFEST_PUBLISHED,
    /** About to delete the manifests and files retention drops. */
    RETENTION,
    /** About to truncate the WAL up to the oldest retained checkpoint. */
    TRUNCATION
}

package io.laminar.storage.store;

import io.laminar.storage.StorageException;

/**
 * A checkpoint's manifest or one of its files cannot be used; the message names the checkpoint (or,
 * when even its id cannot be read, the manifest file), the problem, and what the user can do.
 */
public class CheckpointCorruptException extends StorageException {

    private static final long serialVersionUID = 1L;

    /** The {@link #checkpointId()} of a manifest whose id cannot be read; the message names its file. */
    public static final long UNKNOWN_CHECKPOINT_ID = -1;

    private final long checkpointId;

    public CheckpointCorruptException(long checkpointId, String message, Throwable cause) {
        super(message, cause);
        this.checkpointId = checkpointId;
    }

    public CheckpointCorruptException(long checkpointId, String message) {
        this(checkpointId, message, null);
    }

    /** The checkpoint concerned, or {@link #UNKNOWN_CHECKPOINT_ID} if its id could not be read. */
    public long checkpointId() {
        return checkpointId;
    }
}

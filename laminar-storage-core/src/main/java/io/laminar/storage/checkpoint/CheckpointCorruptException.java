package io.laminar.storage.checkpoint;

import io.laminar.storage.StorageException;

/** A checkpoint's manifest or one of its files cannot be used; the message names the checkpoint and the problem. */
public class CheckpointCorruptException extends StorageException {

    private static final long serialVersionUID = 1L;

    private final long checkpointId;

    public CheckpointCorruptException(long checkpointId, String message, Throwable cause) {
        super(message, cause);
        this.checkpointId = checkpointId;
    }

    public CheckpointCorruptException(long checkpointId, String message) {
        this(checkpointId, message, null);
    }

    /** The checkpoint concerned. */
    public long checkpointId() {
        return checkpointId;
    }
}

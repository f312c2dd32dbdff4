package io.laminar.storage.wal;

import io.laminar.storage.StorageException;

/**
 * The log failed earlier (a write or an fdatasync threw) and refuses every further write: after
 * such an error it cannot know what reached the disk, so it stops rather than report success.
 * Close it and open it again to recover what is durable.
 */
public class WalFailedException extends StorageException {

    private static final long serialVersionUID = 1L;

    public WalFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}

package io.laminar.storage.wal;

import io.laminar.storage.StorageException;

/**
 * The {@link WalIoBackend} chosen in {@link WalOptions#ioBackend()} ({@code laminar.storage.wal.io-backend})
 * cannot run here: say, the file system refuses O_DIRECT. Thrown by {@link WriteAheadLog#open}
 * before anything is written; the message names the setting, the reason and what to do.
 */
public class WalIoBackendUnavailableException extends StorageException {

    private static final long serialVersionUID = 1L;

    private final WalIoBackend backend;

    public WalIoBackendUnavailableException(String message, WalIoBackend backend, Throwable cause) {
        super(message, cause);
        this.backend = backend;
    }

    /** The backend that cannot run. */
    public WalIoBackend backend() {
        return backend;
    }
}

package io.laminar.storage.wal;

import io.laminar.storage.StorageException;
import java.nio.file.Path;

/**
 * The log is already open: its lock file is held by another process, or by another open log in
 * this one. Two writers never share a log.
 */
public class WalLockedException extends StorageException {

    private static final long serialVersionUID = 1L;

    private final transient Path lockFile;

    public WalLockedException(String message, Path lockFile) {
        super(message);
        this.lockFile = lockFile;
    }

    /** The lock file, {@code <directory>/<name>.lock}. */
    public Path lockFile() {
        return lockFile;
    }
}

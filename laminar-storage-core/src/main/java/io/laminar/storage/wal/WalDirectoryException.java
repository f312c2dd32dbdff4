package io.laminar.storage.wal;

import io.laminar.storage.StorageException;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The directory of a log cannot be used: it cannot be created (a file is in the way, or this
 * process may not create it), or this process may not create files in it. The cause is the
 * file system's error.
 */
public class WalDirectoryException extends StorageException {

    private static final long serialVersionUID = 1L;

    private final transient Path directory;

    public WalDirectoryException(String message, Path directory, IOException cause) {
        super(message, cause);
        this.directory = directory;
    }

    /** The directory of the log. */
    public Path directory() {
        return directory;
    }
}

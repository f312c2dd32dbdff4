package io.laminar.storage.wal;

import io.laminar.storage.StorageException;
import java.nio.file.Path;

/**
 * The log holds damaged data that is not a torn tail: a record that fails its checksum while later
 * records show it had been synced, damage in a sealed segment, a missing segment, or a header that
 * does not match its file. The message names the file, the offset, the stored and computed values
 * and what the user can do.
 */
public class WalCorruptionException extends StorageException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final long fileOffset;

    public WalCorruptionException(String message, Path file, long fileOffset) {
        super(message);
        this.file = file;
        this.fileOffset = fileOffset;
    }

    /** The damaged file. */
    public Path file() {
        return file;
    }

    /** The offset in {@link #file()} where the damage starts, or -1 if it concerns the whole file. */
    public long fileOffset() {
        return fileOffset;
    }
}

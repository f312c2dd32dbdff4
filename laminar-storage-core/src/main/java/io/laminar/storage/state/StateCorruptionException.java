package io.laminar.storage.state;

import io.laminar.storage.StorageException;
import java.nio.file.Path;

/**
 * A record of a state log passed the log's checksum but is not a valid state record (as
 * {@link StateChangeFormat} defines it: an unknown operation, a length that does not fit the
 * record, trailing bytes): it was written by something else or by an incompatible version. Recovery
 * refuses to go on rather than guess. The message names the log, the segment file, the position
 * and what the user can do.
 */
public class StateCorruptionException extends StorageException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final long position;

    /**
     * @param log      the log that holds the record, as the message names it (say, "the log of core
     *                 3 in /data/wal")
     * @param file     the segment file that holds the record
     * @param position the record's log position
     * @param length   the length of the record's body, in bytes
     * @param problem  what {@link StateChangeFormat} found wrong with the body
     */
    public StateCorruptionException(String log, Path file, long position, int length, String problem) {
        super("the record at position " + position + " of " + log + " (segment file " + file + ", " + length
                + " bytes) is not a valid state record: " + problem + ". Its checksum is intact, so it was written"
                + " like this: by other software, or by an incompatible (say, newer) version of laminar-storage."
                + " Rather than guess the state, recovery stops: run the version that wrote the log, or restore its"
                + " directory from a backup");
        this.file = file;
        this.position = position;
    }

    /** The segment file that holds the bad record. */
    public Path file() {
        return file;
    }

    /** The log position of the bad record. */
    public long position() {
        return position;
    }
}

package io.laminar.storage.state;

import io.laminar.storage.StorageException;

/**
 * A record of a state log passed the log's checksum but is not a valid state record (an unknown
 * operation, a length that does not fit the record, trailing bytes): it was written by something
 * else or by an incompatible version. The store refuses to open rather than guess.
 */
public class StateCorruptionException extends StorageException {

    private static final long serialVersionUID = 1L;

    private final long position;

    public StateCorruptionException(String message, long position) {
        super(message);
        this.position = position;
    }

    /** The log position of the bad record. */
    public long position() {
        return position;
    }
}

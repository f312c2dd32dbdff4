package io.laminar.storage.wal;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Writes the frames of one segment file and makes them durable: the part of a {@link WriteAheadLog}
 * that a {@link WalIoBackend} implements. The bytes written, and where, are the log's; a backend only
 * decides how they reach the file, so the format on disk is the same for every backend.
 *
 * <p>Public only as the service-provider interface of backends in other modules
 * ({@link WalIoProvider}); applications never call it.
 *
 * <p>Thread-safety: {@link #write} is called by one thread at a time (the holder of the log's flush
 * lock), and {@link #sync} by one thread at a time (the holder of its sync lock), possibly while a
 * write runs. {@link #close} is called once no write or sync can run any more.
 */
public interface SegmentWriter {

    /**
     * Writes every remaining byte of {@code frames} at {@code fileOffset} of the segment file (the
     * buffer's position moves to its limit). When this returns, the bytes can be read back from the
     * file by any reader; they are durable only after a later {@link #sync}.
     */
    void write(ByteBuffer frames, long fileOffset) throws IOException;

    /** fdatasync: makes every byte written so far durable. */
    void sync() throws IOException;

    /** Closes the file; what was written and not synced is not made durable by this. */
    void close() throws IOException;
}

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

    /**
     * Writes every remaining byte of each of {@code frames}, one after the other in the file from
     * {@code fileOffset} on (each buffer's position moves to its limit), then makes every byte written
     * so far durable: what {@link #write} of each and {@link #sync} do, and what this default does. A
     * backend that can hand the writes and the fdatasync to the kernel together (io_uring: linked
     * entries, one submission) overrides it; the log then calls it for the last write of each group
     * commit, with both its flush and its sync lock held (see {@link WalIoProvider#linksWriteAndSync}).
     * If it throws, the log fails: nothing is known about what reached the file.
     */
    default void writeAndSync(ByteBuffer[] frames, long fileOffset) throws IOException {
        long offset = fileOffset;
        for (var buffer : frames) {
            int length = buffer.remaining();
            write(buffer, offset);
            offset += length;
        }
        sync();
    }

    /**
     * Says that the frames of every later write come from {@code buffer} (the log's write buffer, a
     * direct buffer that lives longer than this writer), called once before the first write. A backend
     * may register it with the kernel once (io_uring's fixed buffers). The default does nothing.
     */
    default void writesFrom(ByteBuffer buffer) {
    }

    /** Closes the file; what was written and not synced is not made durable by this. */
    void close() throws IOException;
}

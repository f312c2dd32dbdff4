package io.laminar.storage.wal;

import io.laminar.storage.io.FileIO;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A {@link WalIoBackend} implemented outside the core, found with {@link java.util.ServiceLoader}
 * (a {@code META-INF/services/io.laminar.storage.wal.WalIoProvider} entry): the io_uring backend of
 * the module {@code laminar-storage-io-uring}, which needs Java 22+ while the core stays on Java 17.
 * The log asks {@link #unavailability()} once when it opens, then {@link #open} once per segment.
 *
 * <p>Implementations must be thread-safe; the writers they return follow {@link SegmentWriter}.
 */
public interface WalIoProvider {

    /** The backend this provides, e.g. {@link WalIoBackend#IO_URING}. */
    WalIoBackend backend();

    /**
     * Why this backend cannot run in this process (the kernel refuses io_uring, ...), with what the
     * user can do; empty when it can.
     */
    Optional<Unavailable> unavailability();

    /**
     * The writer of the segment {@code path}, opened by the log through {@code io} as {@code channel}
     * (read and write). The writer owns the channel and closes it on {@link SegmentWriter#close}; it
     * must report each write and fdatasync it makes without the channel through
     * {@link FileIO#writeThroughDescriptor} and {@link FileIO#syncThroughDescriptor}, so that the
     * fault and power-loss layers of the tests see them.
     */
    SegmentWriter open(Path path, FileChannel channel, FileIO io) throws IOException;

    /**
     * Whether the log should hand each group commit's last write and its fdatasync to
     * {@link SegmentWriter#writeAndSync} together, gathering the batch's records first instead of
     * writing each as it arrives: for a backend that submits them to the kernel as one (io_uring).
     * The default is no.
     */
    default boolean linksWriteAndSync() {
        return false;
    }

    /**
     * Why a backend cannot run: {@code reason} for the message, {@code fix} what the user can do
     * (phrased to follow "or"), {@code cause} the exception that showed it, if any.
     */
    record Unavailable(String reason, String fix, Throwable cause) {
    }
}

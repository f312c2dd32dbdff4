package io.laminar.storage.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Set;

/**
 * The one seam through which the library opens, moves, links, deletes and syncs files: every write,
 * {@code force}, size change, rename, hard link, deletion and directory sync of the library goes
 * through it or through a channel it returned. Directories are created, and some files listed, read
 * and memory-mapped (read-only), with {@link Files} and the JDK directly.
 *
 * <p>Production code uses {@link #system()}. The core's test-jar has two implementations that run
 * the real code paths instead of mocks:
 * <ul>
 *   <li>{@code FaultyFileIO} makes {@code write} and {@code force} throw (after N calls, once, or
 *       on a switch) and slows them down;</li>
 *   <li>{@code PowerLossFileIO} records every call above, with what each {@code force} and
 *       directory sync made durable, and produces the file systems a power cut could leave: unsynced
 *       writes lost, kept, or torn at 512-byte-sector or 4 KiB-page granularity and out of order;
 *       files grown with zeros; creations, renames, links and deletions not followed by a directory
 *       sync undone. Its javadoc says exactly what it models and what not.</li>
 * </ul>
 * A test that kills the process ({@code SIGKILL}) keeps everything written in the page cache; only
 * {@code PowerLossFileIO} loses what was not synced.
 *
 * <p>What the library relies on, as Linux ext4 and xfs provide it: {@code force} (fdatasync or
 * fsync) makes a file's data and size durable but not its name; {@link #syncDirectory} makes the
 * entries of a directory durable; {@link #atomicMove} and {@link #createLink} are atomic, so after a
 * power cut a name refers to the old file or to the new one, never to a mix.
 *
 * <p>Implementations must be thread-safe.
 */
public interface FileIO {

    /** Opens a file channel, as {@link FileChannel#open(Path, Set, java.nio.file.attribute.FileAttribute[])}. */
    FileChannel open(Path path, Set<? extends OpenOption> options) throws IOException;

    /** Renames {@code source} to {@code target} atomically, replacing {@code target} if it exists. */
    void atomicMove(Path source, Path target) throws IOException;

    /**
     * Gives the existing file {@code existing} the new name {@code link} (a hard link), failing
     * with {@link java.nio.file.FileAlreadyExistsException} if {@code link} exists: unlike
     * {@link #atomicMove}, which replaces its target silently, this publishes a file under a name
     * only if nobody else has, atomically. The default uses {@link Files#createLink}.
     */
    default void createLink(Path link, Path existing) throws IOException {
        try {
            Files.createLink(link, existing);
        } catch (UnsupportedOperationException e) {
            throw new IOException("the file system under " + link.getParent()
                    + " cannot create hard links, which publishing without overwriting needs;"
                    + " put the data directory on a local POSIX file system", e);
        }
    }

    /** Deletes a file if it exists. */
    void deleteIfExists(Path path) throws IOException;

    /**
     * Makes the directory entry changes (creations, renames, deletions) in {@code directory}
     * durable, as fsync on the directory does on Linux.
     */
    void syncDirectory(Path directory) throws IOException;

    /**
     * A backend that writes a file through an operating-system file descriptor of its own instead of
     * a channel of this FileIO (the io_uring WAL backend) calls this around each write, so that a
     * FileIO that watches writes sees it. {@code channel} is the channel this FileIO returned for the
     * file (kept open by the backend); {@code data}'s remaining bytes are what {@code write} writes at
     * {@code position} (this method leaves the buffer's position alone); {@code write} performs the
     * write and throws if it failed. The default just runs {@code write}. {@code FaultyFileIO} may fail
     * the call instead of running it; {@code PowerLossFileIO} records the bytes as written.
     */
    default void writeThroughDescriptor(FileChannel channel, ByteBuffer data, long position, DescriptorIo write)
            throws IOException {
        write.run();
    }

    /**
     * As {@link #writeThroughDescriptor}, for an fdatasync of the file of {@code channel} made through
     * a file descriptor: {@code sync} performs it. {@code PowerLossFileIO} records it as a
     * {@code force}.
     */
    default void syncThroughDescriptor(FileChannel channel, DescriptorIo sync) throws IOException {
        sync.run();
    }

    /**
     * As {@link #writeThroughDescriptor} for each of {@code data} (consecutive in the file from
     * {@code position} on) followed by {@link #syncThroughDescriptor}, made together by one call of
     * {@code writeAndSync} (the io_uring backend's linked writes and fdatasync). The default just runs
     * it. {@code FaultyFileIO} consults its write faults for each buffer and its fdatasync faults, then
     * runs it; {@code PowerLossFileIO} records the writes and then the sync.
     */
    default void writeAndSyncThroughDescriptor(FileChannel channel, ByteBuffer[] data, long position,
            DescriptorIo writeAndSync) throws IOException {
        writeAndSync.run();
    }

    /** A write or fdatasync made through a file descriptor, for {@link #writeThroughDescriptor}. */
    @FunctionalInterface
    interface DescriptorIo {
        void run() throws IOException;
    }

    /** The real file system. */
    static FileIO system() {
        return SystemFileIO.INSTANCE;
    }

    /** {@link FileIO} over {@link java.nio.file.Files} and {@link FileChannel}. Stateless. */
    final class SystemFileIO implements FileIO {
        static final SystemFileIO INSTANCE = new SystemFileIO();

        private SystemFileIO() {
        }

        @Override
        public FileChannel open(Path path, Set<? extends OpenOption> options) throws IOException {
            return FileChannel.open(path, options);
        }

        @Override
        public void atomicMove(Path source, Path target) throws IOException {
            try {
                Files.move(source, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("the file system under " + target.getParent()
                        + " cannot rename atomically; put the data directory on a local POSIX file system", e);
            }
        }

        @Override
        public void deleteIfExists(Path path) throws IOException {
            Files.deleteIfExists(path);
        }

        @Override
        public void syncDirectory(Path directory) throws IOException {
            try (var channel = FileChannel.open(directory, StandardOpenOption.READ)) {
                channel.force(true);
            }
        }
    }
}

package io.laminar.storage.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Set;

/**
 * The one seam through which the library opens, moves, deletes and syncs files.
 *
 * <p>Production code uses {@link #system()}. Tests substitute an implementation that fails a
 * {@code force}, slows writes down or drops unsynced bytes, so that failure handling is exercised
 * with real code paths instead of mocks.
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

package io.laminar.storage.wal;

import com.sun.nio.file.ExtendedOpenOption;
import io.laminar.storage.io.FileIO;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link WalIoBackend} a log uses, decided once when it opens ({@link #resolve}), and the
 * factory of its {@link SegmentWriter}s. Every file goes through the log's {@link FileIO}, so the
 * fault and power-loss seams of the tests cover every backend.
 *
 * <p>Immutable and thread-safe (the warning set is a concurrent set).
 */
final class SegmentIo {

    private static final Logger log = LoggerFactory.getLogger(SegmentIo.class);
    /** The property and option a message about the backend names. */
    static final String SETTING = "laminar.storage.wal.io-backend (WalOptions.ioBackend)";
    /** Directories and backends whose fallback was already logged at WARN: one warning, not one per core. */
    private static final Set<String> WARNED = ConcurrentHashMap.newKeySet();

    private final WalIoBackend backend;
    private final FileIO io;
    /** The file system's block size, to which O_DIRECT writes are aligned; 0 for other backends. */
    private final int blockSize;
    /** The provider of an {@link WalIoBackend#IO_URING} log; null for other backends. */
    private final WalIoProvider provider;

    private SegmentIo(WalIoBackend backend, FileIO io, int blockSize) {
        this(backend, io, blockSize, null);
    }

    private SegmentIo(WalIoBackend backend, FileIO io, int blockSize, WalIoProvider provider) {
        this.backend = backend;
        this.io = io;
        this.blockSize = blockSize;
        this.provider = provider;
    }

    /**
     * Decides the backend of the log {@code options.name()} in {@code directory}: the one the options
     * choose if it can run there, else {@link WalIoBackend#FILE_CHANNEL} with one warning for an
     * {@code -or-fallback} choice. {@code probeFile} is an existing file of the log (its lock file)
     * that O_DIRECT is tried on.
     *
     * @throws WalIoBackendUnavailableException if the chosen backend cannot run and may not fall back
     */
    static SegmentIo resolve(Path directory, Path probeFile, WalOptions options) {
        var chosen = options.ioBackend();
        var preferred = chosen.preferred();
        if (preferred == WalIoBackend.FILE_CHANNEL) {
            return new SegmentIo(WalIoBackend.FILE_CHANNEL, options.fileIO(), 0);
        }
        Problem problem;
        int blockSize = 0;
        WalIoProvider provider = null;
        try {
            if (preferred == WalIoBackend.IO_URING) {
                provider = provider(preferred);
            } else {
                blockSize = directBlockSize(directory, probeFile, options);
            }
            problem = null;
        } catch (ProblemException e) {
            problem = e.problem;
        }
        if (problem == null) {
            return new SegmentIo(preferred, options.fileIO(), blockSize, provider);
        }
        if (chosen.fallsBack()) {
            var message = "the WAL I/O backend '" + preferred + "' cannot run for the WAL '" + options.name() + "' in "
                    + directory + ": " + problem.reason + "; as " + SETTING + " is '" + chosen
                    + "', it uses 'file-channel' instead. To make this warning go away, " + problem.fix
                    + ", or choose 'file-channel'.";
            if (WARNED.add(directory.toAbsolutePath() + "\0" + chosen)) {
                log.warn("{}", message, problem.cause);
            } else {
                log.debug("{}", message);
            }
            return new SegmentIo(WalIoBackend.FILE_CHANNEL, options.fileIO(), 0);
        }
        throw new WalIoBackendUnavailableException("the WAL I/O backend '" + preferred + "' chosen by " + SETTING
                + " cannot run for the WAL '" + options.name() + "' in " + directory + ": " + problem.reason
                + ". Set " + SETTING + " to 'file-channel', or to '" + preferred + "-or-fallback' to use file-channel"
                + " with a warning where '" + preferred + "' cannot run, or " + problem.fix + ".", preferred,
                problem.cause);
    }

    /** The backend in use. */
    WalIoBackend backend() {
        return backend;
    }

    /**
     * Whether a write returns only once the bytes reached the disk (O_DIRECT), so that group commit
     * should gather records before writing rather than write each as it arrives.
     */
    boolean writesWaitForTheDisk() {
        return backend == WalIoBackend.DIRECT;
    }

    /**
     * Whether group commit hands the batch's last write and its fdatasync to the writer together
     * ({@link SegmentWriter#writeAndSync}), gathering the batch before writing it: io-uring's linked
     * submission.
     */
    boolean linksWriteAndSync() {
        return provider != null && provider.linksWriteAndSync();
    }

    /**
     * The writer of the segment {@code path} of {@code capacity} bytes, whose header is written and
     * synced through {@code channel} (opened for reading and writing through the log's {@link FileIO}).
     * The writer owns the channel from here on: it keeps it, or closes it and opens the file its own way.
     */
    SegmentWriter writer(Path path, long capacity, FileChannel channel) throws IOException {
        if (provider != null) {
            return provider.open(path, channel, io);
        }
        if (backend != WalIoBackend.DIRECT) {
            return new FileChannelSegmentWriter(channel);
        }
        if (capacity % blockSize != 0) {
            // Only a segment made earlier with another segmentSize (the options' is checked in resolve):
            // written through the page cache until the log rotates to a segment of the new size.
            log.info("WAL segment {} of {} bytes is written without O_DIRECT: its size is not a multiple of the "
                    + "block size {}", path, capacity, blockSize);
            return new FileChannelSegmentWriter(channel);
        }
        var direct = io.open(path, Set.of(StandardOpenOption.READ, StandardOpenOption.WRITE,
                ExtendedOpenOption.DIRECT));
        channel.close();
        return new DirectSegmentWriter(path, direct, blockSize, capacity);
    }

    /**
     * Why {@code backend} (a backend of a {@link WalIoProvider}) cannot run in this process, or null
     * when it can: for tests that skip where it cannot.
     */
    static String unavailableReason(WalIoBackend backend) {
        try {
            provider(backend);
            return null;
        } catch (ProblemException e) {
            return e.problem.reason + "; to run it, " + e.problem.fix;
        }
    }

    /** The provider of {@code backend} found on the class path, after checking that it can run here. */
    private static WalIoProvider provider(WalIoBackend backend) throws ProblemException {
        int feature = Runtime.version().feature();
        String fix = "add the dependency io.laminar:laminar-storage-io-uring and run on Java 22 or newer";
        if (feature < 22) {
            throw new ProblemException(new Problem("it needs Java 22 or newer (the foreign function API), and this JVM "
                    + "is Java " + Runtime.version(), fix, null));
        }
        WalIoProvider found = null;
        try {
            for (var candidate : ServiceLoader.load(WalIoProvider.class, SegmentIo.class.getClassLoader())) {
                if (candidate.backend() == backend) {
                    found = candidate;
                    break;
                }
            }
        } catch (ServiceConfigurationError | LinkageError e) {
            throw new ProblemException(new Problem("its provider could not be loaded (" + e + ")", fix, e));
        }
        if (found == null) {
            throw new ProblemException(new Problem("no provider of it is on the class path (the module "
                    + "laminar-storage-io-uring is missing)", fix, null));
        }
        var unavailable = found.unavailability();
        if (unavailable.isPresent()) {
            throw new ProblemException(new Problem(unavailable.get().reason(), unavailable.get().fix(),
                    unavailable.get().cause()));
        }
        return found;
    }

    /** The block size O_DIRECT writes are aligned to, after checking that O_DIRECT works under {@code directory}. */
    private static int directBlockSize(Path directory, Path probeFile, WalOptions options) throws ProblemException {
        long blockSize;
        try {
            blockSize = Files.getFileStore(directory).getBlockSize();
        } catch (IOException | UnsupportedOperationException e) {
            throw new ProblemException(new Problem("the block size of the file system under " + directory
                    + " cannot be read (" + e + ")", "put the WAL directory on a local file system such as ext4 or xfs",
                    e));
        }
        if (blockSize < 512 || blockSize > (1 << 16) || Long.bitCount(blockSize) != 1) {
            throw new ProblemException(new Problem("the file system under " + directory + " reports a block size of "
                    + blockSize + " bytes, not a power of two between 512 and 64 KiB",
                    "put the WAL directory on a local file system such as ext4 or xfs", null));
        }
        if (options.segmentSize() % blockSize != 0) {
            throw new ProblemException(new Problem("segmentSize (" + options.segmentSize() + " bytes) is not a multiple "
                    + "of the file system's block size (" + blockSize + " bytes), so O_DIRECT writes would run past "
                    + "the end of a segment", "set segmentSize (laminar.storage.wal.segment-size) to a multiple of "
                    + blockSize, null));
        }
        Set<OpenOption> direct = Set.of(StandardOpenOption.READ, ExtendedOpenOption.DIRECT);
        try (var probe = options.fileIO().open(probeFile, direct)) {
            return (int) blockSize;
        } catch (IOException | UnsupportedOperationException e) {
            throw new ProblemException(new Problem("the file system under " + directory + " refuses O_DIRECT ("
                    + e + ")", "put the WAL directory on a local file system that accepts O_DIRECT, such as ext4 or xfs",
                    e));
        }
    }

    /** Why a backend cannot run, and what the user can do about it. */
    private record Problem(String reason, String fix, Throwable cause) {
    }

    private static final class ProblemException extends Exception {
        private static final long serialVersionUID = 1L;
        final transient Problem problem;

        ProblemException(Problem problem) {
            super(problem.reason, null, false, false);
            this.problem = problem;
        }
    }
}

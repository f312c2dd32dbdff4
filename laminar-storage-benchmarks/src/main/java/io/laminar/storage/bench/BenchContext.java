package io.laminar.storage.bench;

import io.laminar.storage.wal.WalIoBackend;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * What a scenario gets from the suite: the run's {@link Settings}, the WAL I/O backends to measure
 * laminar with ({@code --backend}), and fresh directories on the benchmark disk. Directories are deleted by {@link #deleteTree} after each system, so one
 * scenario's files never slow down the next one, and {@link #newDirectory} first lets the disk
 * finish writing back what the previous system left dirty.
 */
public final class BenchContext {

    /** Dirty + writeback page-cache bytes below which the disk counts as quiet. */
    private static final long QUIET_DISK_BYTES = 32L << 20;
    /** Other processes may keep pages dirty; never wait longer than this for them. */
    private static final long QUIET_DISK_TIMEOUT_MILLIS = 10_000;

    private final Settings settings;
    private final Path root;
    private final List<WalIoBackend> backends;
    private int counter;

    public BenchContext(Settings settings, Path root) {
        this(settings, root, List.of(WalIoBackend.FILE_CHANNEL));
    }

    public BenchContext(Settings settings, Path root, List<WalIoBackend> backends) {
        this.settings = settings;
        this.root = root;
        this.backends = List.copyOf(backends);
    }

    public Settings settings() {
        return settings;
    }

    /**
     * The WAL I/O backends each laminar measurement runs with, side by side in the same rounds
     * ({@code --backend}; the suites without that option measure {@code file-channel} only).
     */
    public List<WalIoBackend> backends() {
        return backends;
    }

    /**
     * A new, empty directory under the benchmark root, for one system's measurement. Waits for a
     * quiet disk first (see {@link #awaitQuietDisk}).
     */
    public Path newDirectory(String name) throws IOException {
        return newDirectory(name, QUIET_DISK_TIMEOUT_MILLIS);
    }

    /** {@link #newDirectory(String)}, waiting at most {@code maxQuietWaitMillis} for a quiet disk. */
    public Path newDirectory(String name, long maxQuietWaitMillis) throws IOException {
        awaitQuietDisk(maxQuietWaitMillis);
        return Files.createDirectories(root.resolve(String.format("%03d-%s", ++counter, name)));
    }

    /**
     * Called after a system is opened and before it is measured: gives background work that the
     * open started (laminar pre-writes its next segment file right away) time to reach the disk,
     * then waits for a quiet disk. Steady-state pre-writing during the run is still measured.
     */
    public static void settleAfterOpen() {
        settleAfterOpen(QUIET_DISK_TIMEOUT_MILLIS);
    }

    /** {@link #settleAfterOpen()}, waiting at most {@code maxQuietWaitMillis} for a quiet disk. */
    public static void settleAfterOpen(long maxQuietWaitMillis) {
        try {
            Thread.sleep(200);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        awaitQuietDisk(maxQuietWaitMillis);
    }

    /**
     * Waits, at most {@value #QUIET_DISK_TIMEOUT_MILLIS} ms, until the kernel holds less than
     * {@value #QUIET_DISK_BYTES} bytes of dirty or writeback pages: otherwise the write-back of one
     * system's files competes for the disk with the next system's fdatasyncs. Does nothing where
     * {@code /proc/meminfo} does not exist.
     */
    public static void awaitQuietDisk() {
        awaitQuietDisk(QUIET_DISK_TIMEOUT_MILLIS);
    }

    /** {@link #awaitQuietDisk()}, waiting at most {@code maxWaitMillis}. */
    public static void awaitQuietDisk(long maxWaitMillis) {
        long deadline = System.nanoTime() + maxWaitMillis * 1_000_000L;
        while (System.nanoTime() < deadline) {
            if (pendingWriteBackBytes() < QUIET_DISK_BYTES) {
                return;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Dirty + Writeback from /proc/meminfo, in bytes; 0 if unknown. */
    private static long pendingWriteBackBytes() {
        try {
            long kib = 0;
            for (var line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("Dirty:") || line.startsWith("Writeback:")) {
                    kib += Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
            return kib * 1024;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** Deletes a directory and everything in it; quietly does nothing if it is already gone. */
    public static void deleteTree(Path directory) {
        if (!Files.exists(directory)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(directory)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            System.err.println("warning: could not delete " + directory + ": " + e);
        }
    }
}

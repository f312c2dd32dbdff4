package io.laminar.storage.wal;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * How a {@link WriteAheadLog} writes its segment files and makes them durable: the choice of
 * {@link WalOptions#ioBackend()}, or {@code laminar.storage.wal.io-backend} with the Spring Boot
 * starter. Every backend writes the same bytes to the same files ({@link WalFormat}), so a log
 * written by one opens with any other, and every backend keeps the log's guarantees: an
 * acknowledgement means fdatasync covered the record, and a failed write or fdatasync fails the log.
 *
 * <p>Which one is fastest depends on the disk, the file system and the kernel: measure with the
 * benchmarks' {@code wal} suite ({@code --backend all}). When a chosen backend cannot run here,
 * {@link WriteAheadLog#open} fails with {@link WalIoBackendUnavailableException}, which names the
 * reason and the fix; the {@code -or-fallback} choices log one warning instead and use
 * {@link #FILE_CHANNEL}. {@link WriteAheadLog#ioBackend()} tells which backend a log really uses.
 */
public enum WalIoBackend {

    /**
     * Buffered writes through {@link java.nio.channels.FileChannel} into the page cache, then
     * {@code force(false)} (fdatasync). Runs everywhere; the default.
     */
    FILE_CHANNEL("file-channel"),

    /**
     * O_DIRECT writes ({@code com.sun.nio.file.ExtendedOpenOption.DIRECT}) from a block-aligned
     * buffer, aligned in offset and length (the partial block at the end of the written data is
     * written again, whole, with the next records), then fdatasync. Skips the page cache copy and the
     * writeback of dirty pages. Needs a file system that accepts O_DIRECT and a segment size that is
     * a multiple of its block size.
     */
    DIRECT("direct"),

    /** {@link #DIRECT} where it can run; otherwise one warning and {@link #FILE_CHANNEL}. */
    DIRECT_OR_FALLBACK("direct-or-fallback"),

    /**
     * Writes and fdatasyncs submitted through Linux io_uring (the ring's {@code IORING_OP_WRITE} into
     * the page cache and {@code IORING_OP_FSYNC} with {@code IORING_FSYNC_DATASYNC}): a group commit's
     * batch is gathered, then its write and its fdatasync are linked ({@code IOSQE_IO_LINK}) and
     * submitted with one system call, from the log's write buffer registered with the kernel; a
     * completion with an error fails the log. Needs the module {@code laminar-storage-io-uring} on the class path,
     * Java 22 or newer (it uses the JDK's foreign function API) and a kernel that lets the process set
     * up an io_uring (5.6 or newer, not refused by {@code kernel.io_uring_disabled} or seccomp).
     */
    IO_URING("io-uring"),

    /** {@link #IO_URING} where it can run; otherwise one warning and {@link #FILE_CHANNEL}. */
    IO_URING_OR_FALLBACK("io-uring-or-fallback");

    private final String propertyValue;

    WalIoBackend(String propertyValue) {
        this.propertyValue = propertyValue;
    }

    /** The spelling in configuration, e.g. {@code file-channel}. */
    public String propertyValue() {
        return propertyValue;
    }

    /** The backend this choice asks for first: {@link #DIRECT} for {@link #DIRECT_OR_FALLBACK}, and so on; else itself. */
    public WalIoBackend preferred() {
        return switch (this) {
            case DIRECT_OR_FALLBACK -> DIRECT;
            case IO_URING_OR_FALLBACK -> IO_URING;
            default -> this;
        };
    }

    /** Whether this choice falls back to {@link #FILE_CHANNEL} where its preferred backend cannot run. */
    public boolean fallsBack() {
        return this != preferred();
    }

    /**
     * The backend spelled {@code value} as in configuration ({@code file-channel}, {@code direct}, ...),
     * ignoring case and surrounding blanks.
     *
     * @throws IllegalArgumentException naming the valid values if {@code value} is none of them
     */
    public static WalIoBackend fromPropertyValue(String value) {
        var trimmed = value == null ? "" : value.trim();
        for (var backend : values()) {
            if (backend.propertyValue.equalsIgnoreCase(trimmed)) {
                return backend;
            }
        }
        throw new IllegalArgumentException("ioBackend must be one of " + validValues() + ", but was '" + value + "'");
    }

    /** The valid spellings, comma-separated: for messages. */
    public static String validValues() {
        return Arrays.stream(values()).map(WalIoBackend::propertyValue).collect(Collectors.joining(", "));
    }

    @Override
    public String toString() {
        return propertyValue;
    }
}

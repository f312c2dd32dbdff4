package io.laminar.storage.percore;

import io.laminar.storage.io.FileIO;
import io.laminar.storage.wal.CorruptionPolicy;
import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalListener;
import io.laminar.storage.wal.WalOptions;
import java.util.Objects;

/**
 * Immutable settings of a {@link PerCoreWalManager}. Build with {@link #builder()}; every value is
 * validated there with a message that names the setting.
 *
 * @param cores            how many cores, each with its own log {@code core-0000} ... (1 to 9999);
 *                         a directory must always be opened with the same number
 * @param maxEntrySize     the largest body {@link CoreWalWriter#append} accepts; each WAL record is
 *                         this plus the 24-byte entry header
 * @param segmentSize      size of each segment file of each core's log
 * @param writeBufferSize  each core log's in-memory write buffer (see {@link WalOptions#writeBufferSize()})
 * @param syncPolicy       when each core's syncer fsyncs plain appends (group commit by default)
 * @param corruptionPolicy what opening does with corruption that is not a torn tail
 * @param fileIO           the file-system seam
 */
public record PerCoreWalOptions(
        int cores,
        int maxEntrySize,
        long segmentSize,
        int writeBufferSize,
        SyncPolicy syncPolicy,
        CorruptionPolicy corruptionPolicy,
        FileIO fileIO) {

    public static final int DEFAULT_MAX_ENTRY_SIZE = 1 << 20;
    public static final int DEFAULT_WRITE_BUFFER_SIZE = 4 << 20;

    public PerCoreWalOptions {
        if (cores < 1) {
            throw new IllegalArgumentException("cores must be at least 1, but was " + cores);
        }
        if (cores > CoreRecordFormat.MAX_CORES) {
            throw new IllegalArgumentException("cores must be at most " + CoreRecordFormat.MAX_CORES
                    + " (file names carry the core id as four digits), but was " + cores);
        }
        if (maxEntrySize < 0 || maxEntrySize > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException("maxEntrySize must be at least 0, but was " + maxEntrySize);
        }
        // The WAL validates the rest; building its options once here reports bad values at build time.
        // (Record fields are assigned after this compact constructor, hence the parameters.)
        walOptions(0, maxEntrySize, segmentSize, writeBufferSize, syncPolicy, corruptionPolicy, fileIO,
                WalListener.NONE);
    }

    /**
     * The smallest segment size for entries of up to {@code maxEntrySize} bytes: one such entry,
     * with its header, must fit in a segment (see {@link WalOptions#minSegmentSize}).
     */
    public static long minSegmentSize(int maxEntrySize) {
        return WalOptions.minSegmentSize((long) maxEntrySize + CoreRecordFormat.HEADER_LENGTH);
    }

    /** A builder with the defaults: one core per available processor, 1 MiB entries, group commit. */
    public static Builder builder() {
        return new Builder();
    }

    /** The options of core {@code core}'s log. */
    WalOptions walOptions(int core, WalListener listener) {
        return walOptions(core, maxEntrySize, segmentSize, writeBufferSize, syncPolicy, corruptionPolicy, fileIO,
                listener);
    }

    private static WalOptions walOptions(int core, int maxEntrySize, long segmentSize, int writeBufferSize,
                                         SyncPolicy syncPolicy, CorruptionPolicy corruptionPolicy, FileIO fileIO,
                                         WalListener listener) {
        try {
            return WalOptions.builder()
                    .name(CoreRecordFormat.walName(core))
                    .maxRecordSize(maxEntrySize + CoreRecordFormat.HEADER_LENGTH)
                    .segmentSize(segmentSize)
                    .writeBufferSize(writeBufferSize)
                    .syncPolicy(Objects.requireNonNull(syncPolicy, "syncPolicy"))
                    .corruptionPolicy(Objects.requireNonNull(corruptionPolicy, "corruptionPolicy"))
                    .fileIO(Objects.requireNonNull(fileIO, "fileIO"))
                    .listener(listener)
                    .build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid per-core WAL options (each record is maxEntrySize ("
                    + maxEntrySize + ") plus a " + CoreRecordFormat.HEADER_LENGTH + "-byte header, the WAL's "
                    + "maxRecordSize): " + e.getMessage(), e);
        }
    }

    /** Builds {@link PerCoreWalOptions}; not thread-safe. */
    public static final class Builder {
        private int cores = Runtime.getRuntime().availableProcessors();
        private int maxEntrySize = DEFAULT_MAX_ENTRY_SIZE;
        private long segmentSize = WalOptions.DEFAULT_SEGMENT_SIZE;
        private int writeBufferSize = DEFAULT_WRITE_BUFFER_SIZE;
        private SyncPolicy syncPolicy = SyncPolicy.groupCommit();
        private CorruptionPolicy corruptionPolicy = CorruptionPolicy.FAIL;
        private FileIO fileIO = FileIO.system();

        private Builder() {
        }

        public Builder cores(int cores) {
            this.cores = cores;
            return this;
        }

        public Builder maxEntrySize(int maxEntrySize) {
            this.maxEntrySize = maxEntrySize;
            return this;
        }

        public Builder segmentSize(long segmentSize) {
            this.segmentSize = segmentSize;
            return this;
        }

        public Builder writeBufferSize(int writeBufferSize) {
            this.writeBufferSize = writeBufferSize;
            return this;
        }

        public Builder syncPolicy(SyncPolicy syncPolicy) {
            this.syncPolicy = syncPolicy;
            return this;
        }

        public Builder corruptionPolicy(CorruptionPolicy corruptionPolicy) {
            this.corruptionPolicy = corruptionPolicy;
            return this;
        }

        public Builder fileIO(FileIO fileIO) {
            this.fileIO = fileIO;
            return this;
        }

        public PerCoreWalOptions build() {
            return new PerCoreWalOptions(cores, maxEntrySize, segmentSize, writeBufferSize, syncPolicy,
                    corruptionPolicy, fileIO);
        }
    }
}

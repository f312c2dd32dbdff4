package io.laminar.storage.wal;

import io.laminar.storage.io.FileIO;
import java.util.Objects;

/**
 * Immutable settings of a {@link WriteAheadLog}. Build with {@link #builder()}; every value is
 * validated there with a message that names the setting.
 *
 * @param name            the prefix of the log's file names: segments are
 *                        {@code <name>-<20-digit base position>.wal}, the lock file is
 *                        {@code <name>.lock} (see {@link WalFileNames}); several logs may share a
 *                        directory under different names
 * @param segmentSize     size of each segment file, which is pre-written with zeros so that an
 *                        fdatasync never has to journal a file-size change
 * @param maxRecordSize   the largest payload {@code append} accepts
 * @param writeBufferSize the in-memory buffer between appenders and the file; appenders wait when
 *                        it is full (rounded up to a power of two of at least one record frame)
 * @param syncPolicy      when plain appends are synced
 * @param corruptionPolicy what {@code open} does with corruption that is not a torn tail
 * @param ioBackend       how segments are written and synced ({@link WalIoBackend#FILE_CHANNEL} by
 *                        default); the files are the same whichever is chosen
 * @param fileIO          the file-system seam
 * @param listener        callbacks for metrics and logging
 */
public record WalOptions(
        String name,
        long segmentSize,
        int maxRecordSize,
        int writeBufferSize,
        SyncPolicy syncPolicy,
        CorruptionPolicy corruptionPolicy,
        WalIoBackend ioBackend,
        FileIO fileIO,
        WalListener listener) {

    public static final long MIN_SEGMENT_SIZE = 64 * 1024;
    public static final long MAX_SEGMENT_SIZE = 1L << 30;
    public static final long DEFAULT_SEGMENT_SIZE = 64L << 20;
    public static final int DEFAULT_MAX_RECORD_SIZE = 16 << 20;
    public static final int DEFAULT_WRITE_BUFFER_SIZE = 32 << 20;

    public WalOptions {
        Objects.requireNonNull(syncPolicy, "syncPolicy");
        Objects.requireNonNull(corruptionPolicy, "corruptionPolicy");
        Objects.requireNonNull(ioBackend, "ioBackend");
        Objects.requireNonNull(fileIO, "fileIO");
        Objects.requireNonNull(listener, "listener");
        if (!WalFileNames.isLogName(name)) {
            throw new IllegalArgumentException("name must be 1 to 64 letters, digits, '_' or inner '-', but was '"
                    + name + "'");
        }
        if (segmentSize < MIN_SEGMENT_SIZE || segmentSize > MAX_SEGMENT_SIZE || segmentSize % 8 != 0) {
            throw new IllegalArgumentException("segmentSize must be a multiple of 8 between "
                    + MIN_SEGMENT_SIZE + " (64 KiB) and " + MAX_SEGMENT_SIZE + " (1 GiB), but was " + segmentSize);
        }
        if (maxRecordSize < 1) {
            throw new IllegalArgumentException("maxRecordSize must be at least 1, but was " + maxRecordSize);
        }
        long minSegmentSize = minSegmentSize(maxRecordSize);
        if (segmentSize < minSegmentSize) {
            throw new IllegalArgumentException("maxRecordSize (" + maxRecordSize + ") must fit in one segment: with "
                    + (minSegmentSize - maxRecordSize) + " bytes of headers it needs segmentSize of at least "
                    + minSegmentSize + ", but segmentSize was " + segmentSize);
        }
        if (writeBufferSize < 4096 || writeBufferSize > (1 << 30)) {
            throw new IllegalArgumentException(
                    "writeBufferSize must be between 4096 and 1 GiB, but was " + writeBufferSize);
        }
    }

    /**
     * The smallest segment size for records of up to {@code maxRecordSize} bytes: one such record
     * and the segment's header must fit, and never less than {@link #MIN_SEGMENT_SIZE}. A multiple of 8.
     */
    public static long minSegmentSize(long maxRecordSize) {
        return Math.max(MIN_SEGMENT_SIZE, WalFormat.SEGMENT_HEADER_LENGTH + WalFormat.paddedFrameLength(maxRecordSize));
    }

    /** A builder with the defaults: 64 MiB segments, 16 MiB records, group commit, fail on corruption. */
    public static Builder builder() {
        return new Builder();
    }

    /** Defaults for everything. */
    public static WalOptions defaults() {
        return builder().build();
    }

    /** A builder preset to these options. */
    public Builder toBuilder() {
        return new Builder().name(name).segmentSize(segmentSize).maxRecordSize(maxRecordSize)
                .writeBufferSize(writeBufferSize).syncPolicy(syncPolicy).corruptionPolicy(corruptionPolicy)
                .ioBackend(ioBackend).fileIO(fileIO).listener(listener);
    }

    /** The write buffer's real capacity: a power of two that holds at least two of the largest frames. */
    int ringCapacity() {
        long need = Math.max(writeBufferSize, 2 * WalFormat.paddedFrameLength(maxRecordSize));
        return (int) Math.min(1L << 30, Long.highestOneBit(need - 1) << 1);
    }

    /** Builds {@link WalOptions}; not thread-safe. */
    public static final class Builder {
        private String name = "wal";
        private long segmentSize = DEFAULT_SEGMENT_SIZE;
        private int maxRecordSize = DEFAULT_MAX_RECORD_SIZE;
        private int writeBufferSize = DEFAULT_WRITE_BUFFER_SIZE;
        private SyncPolicy syncPolicy = SyncPolicy.groupCommit();
        private CorruptionPolicy corruptionPolicy = CorruptionPolicy.FAIL;
        private WalIoBackend ioBackend = WalIoBackend.FILE_CHANNEL;
        private FileIO fileIO = FileIO.system();
        private WalListener listener = WalListener.NONE;

        private Builder() {
        }

        public Builder name(String name) {
            this.name = name;
            return this;
        }

        public Builder segmentSize(long segmentSize) {
            this.segmentSize = segmentSize;
            return this;
        }

        public Builder maxRecordSize(int maxRecordSize) {
            this.maxRecordSize = maxRecordSize;
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

        /**
         * How segments are written and synced; {@link WalIoBackend#FILE_CHANNEL} by default. A backend
         * that cannot run in the log's directory fails {@link WriteAheadLog#open} (see {@link WalIoBackend}).
         */
        public Builder ioBackend(WalIoBackend ioBackend) {
            this.ioBackend = ioBackend;
            return this;
        }

        public Builder fileIO(FileIO fileIO) {
            this.fileIO = fileIO;
            return this;
        }

        public Builder listener(WalListener listener) {
            this.listener = listener;
            return this;
        }

        public WalOptions build() {
            return new WalOptions(name, segmentSize, maxRecordSize, writeBufferSize, syncPolicy, corruptionPolicy,
                    ioBackend, fileIO, listener);
        }
    }
}

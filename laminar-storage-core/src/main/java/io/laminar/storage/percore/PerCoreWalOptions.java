package io.laminar.storage.percore;

import io.laminar.storage.KeyGroups;
import io.laminar.storage.wal.WalListener;
import io.laminar.storage.wal.WalOptions;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Immutable settings of a {@link PerCoreWalManager}: the number of cores, the largest entry, and
 * the {@link WalOptions} every core's log is opened with. Build with {@link #builder()}; every value
 * is validated there with a message that names the setting.
 *
 * <pre>{@code
 * PerCoreWalOptions.builder()
 *         .cores(4)
 *         .keyGroups(256)
 *         .maxEntrySize(64 * 1024)
 *         .wal(wal -> wal.segmentSize(16L << 20).syncPolicy(SyncPolicy.everyAppend()))
 *         .build();
 * }</pre>
 *
 * @param cores        how many cores, each with its own log {@code core-0000} ... (1 to 9999);
 *                     a directory is always opened with the number it recorded (a different number
 *                     is a rescale, done by {@code io.laminar.storage.checkpoint.Rescaler})
 * @param maxEntrySize the largest body {@link CoreWalWriter#append} accepts; each WAL record is
 *                     this plus the 24-byte entry header
 * @param wal          the options of every core's log (segment size, write buffer, sync policy,
 *                     corruption policy, I/O backend, file-system seam). Three of its values belong to the
 *                     per-core WAL and are set here, whatever the given options say: its
 *                     {@link WalOptions#maxRecordSize() maxRecordSize} is {@code maxEntrySize} plus
 *                     the entry header, its {@link WalOptions#name() name} is {@code core} (core
 *                     {@code c}'s log is named {@code core-000c}) and its
 *                     {@link WalOptions#listener() listener} is {@link WalListener#NONE} (each core's
 *                     log reports to the manager)
 * @param keyGroups    how many key groups keys are spread over ({@link KeyGroups}; at least
 *                     {@code cores}, at most {@link KeyGroups#MAX_KEY_GROUPS}, default
 *                     {@link KeyGroups#DEFAULT_KEY_GROUPS}): recorded in the directory's
 *                     {@link WalLayout} when it is created, and a directory is always opened with
 *                     the number it recorded. It bounds how many cores the directory can ever be
 *                     rescaled to
 */
public record PerCoreWalOptions(int cores, int maxEntrySize, WalOptions wal, int keyGroups) {

    public static final int DEFAULT_MAX_ENTRY_SIZE = 1 << 20;
    /** The default {@link WalOptions#writeBufferSize()} of each core's log (smaller than a lone WAL's). */
    public static final int DEFAULT_WRITE_BUFFER_SIZE = 4 << 20;

    private static final String TEMPLATE_NAME = "core";

    public PerCoreWalOptions {
        if (cores < 1) {
            throw new IllegalArgumentException("cores must be at least 1, but was " + cores);
        }
        if (cores > CoreRecordFormat.MAX_CORES) {
            throw new IllegalArgumentException("cores must be at most " + CoreRecordFormat.MAX_CORES
                    + " (file names carry the core id as four digits), but was " + cores);
        }
        Objects.requireNonNull(wal, "wal");
        wal = template(wal.toBuilder(), maxEntrySize);
        KeyGroups.checkKeyGroups(keyGroups);
        if (keyGroups < cores) {
            throw new IllegalArgumentException("keyGroups must be at least cores (" + cores + "): each core owns at"
                    + " least one key group, but was " + keyGroups);
        }
    }

    /** Options with {@link KeyGroups#DEFAULT_KEY_GROUPS} key groups. */
    public PerCoreWalOptions(int cores, int maxEntrySize, WalOptions wal) {
        this(cores, maxEntrySize, wal, KeyGroups.DEFAULT_KEY_GROUPS);
    }

    /** The file-system seam of every core's log ({@link WalOptions#fileIO()}). */
    public io.laminar.storage.io.FileIO fileIO() {
        return wal.fileIO();
    }

    /** These options with another number of cores (for opening a directory of another layout). */
    public PerCoreWalOptions withCores(int cores) {
        return new PerCoreWalOptions(cores, maxEntrySize, wal, keyGroups);
    }

    /**
     * These options with the smallest segment size an entry allows ({@link #minSegmentSize}, rounded
     * up to a multiple of {@link WalOptions#MIN_SEGMENT_SIZE}, so that the {@code direct} I/O backend
     * can write it on any file system block size up to that), for logs created to hold little more
     * than a barrier ({@link PerCoreWalManager#createAt}, the logs
     * {@link PerCoreWalManager#adoptCheckpoint} creates anew, and a new directory's first segments):
     * each segment records its own capacity, so a log opened later with these options' segment size
     * goes on with segments of that size. These options as they are if the smaller size does not fit
     * them.
     */
    public PerCoreWalOptions withSmallestSegments() {
        long unit = WalOptions.MIN_SEGMENT_SIZE;
        long small = (minSegmentSize(maxEntrySize) + unit - 1) / unit * unit;
        if (small >= wal.segmentSize()) {
            return this;
        }
        try {
            var smaller = wal.toBuilder().segmentSize(small)
                    .writeBufferSize((int) Math.min(wal.writeBufferSize(), small)).build();
            return new PerCoreWalOptions(cores, maxEntrySize, smaller, keyGroups);
        } catch (IllegalArgumentException e) {
            return this;
        }
    }

    /** These options with another number of key groups. */
    public PerCoreWalOptions withKeyGroups(int keyGroups) {
        return new PerCoreWalOptions(cores, maxEntrySize, wal, keyGroups);
    }

    /** A builder with these options' values. */
    public Builder toBuilder() {
        var builder = new Builder();
        builder.cores = cores;
        builder.keyGroups = keyGroups;
        builder.maxEntrySize = maxEntrySize;
        builder.wal = wal.toBuilder();
        return builder;
    }

    /**
     * The smallest segment size for entries of up to {@code maxEntrySize} bytes: one such entry,
     * with its header, must fit in a segment (see {@link WalOptions#minSegmentSize}).
     */
    public static long minSegmentSize(int maxEntrySize) {
        return WalOptions.minSegmentSize((long) maxEntrySize + CoreRecordFormat.HEADER_LENGTH);
    }

    /**
     * A builder with the defaults: one core per available processor, 1 MiB entries, and each core's
     * log with the {@link WalOptions} defaults but a {@link #DEFAULT_WRITE_BUFFER_SIZE 4 MiB} write buffer.
     */
    public static Builder builder() {
        return new Builder();
    }

    /** The options of core {@code core}'s log. */
    WalOptions walOptions(int core, WalListener listener) {
        return wal.toBuilder().name(CoreRecordFormat.walName(core)).listener(listener).build();
    }

    /** {@code wal} with the values the per-core WAL sets itself, validated. */
    private static WalOptions template(WalOptions.Builder wal, int maxEntrySize) {
        if (maxEntrySize < 0 || maxEntrySize > Integer.MAX_VALUE - 64) {
            throw new IllegalArgumentException("maxEntrySize must be at least 0, but was " + maxEntrySize);
        }
        try {
            return wal.name(TEMPLATE_NAME)
                    .maxRecordSize(maxEntrySize + CoreRecordFormat.HEADER_LENGTH)
                    .listener(WalListener.NONE)
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
        private int keyGroups = KeyGroups.DEFAULT_KEY_GROUPS;
        private int maxEntrySize = DEFAULT_MAX_ENTRY_SIZE;
        private WalOptions.Builder wal = WalOptions.builder().writeBufferSize(DEFAULT_WRITE_BUFFER_SIZE);

        private Builder() {
        }

        public Builder cores(int cores) {
            this.cores = cores;
            return this;
        }

        /** How many key groups a new directory gets (see {@link PerCoreWalOptions#keyGroups()}). */
        public Builder keyGroups(int keyGroups) {
            this.keyGroups = keyGroups;
            return this;
        }

        public Builder maxEntrySize(int maxEntrySize) {
            this.maxEntrySize = maxEntrySize;
            return this;
        }

        /**
         * Every core's log gets these options, but for the name, maximum record size and listener,
         * which the per-core WAL sets (see {@link PerCoreWalOptions#wal()}). Replaces what earlier
         * calls of {@code wal} set.
         */
        public Builder wal(WalOptions wal) {
            this.wal = Objects.requireNonNull(wal, "wal").toBuilder();
            return this;
        }

        /**
         * Adjusts the options of every core's log, keeping what is not set here:
         * {@code wal(w -> w.segmentSize(16L << 20))}. Needs no maximum record size that fits the
         * segment size: the per-core WAL sets it from {@link #maxEntrySize} when built.
         */
        public Builder wal(Consumer<WalOptions.Builder> settings) {
            settings.accept(this.wal);
            return this;
        }

        public PerCoreWalOptions build() {
            // Built from the builder with the real maxRecordSize: a WalOptions built first with the
            // default one (16 MiB) would not fit a small segment size.
            return new PerCoreWalOptions(cores, maxEntrySize, template(wal, maxEntrySize), keyGroups);
        }
    }
}

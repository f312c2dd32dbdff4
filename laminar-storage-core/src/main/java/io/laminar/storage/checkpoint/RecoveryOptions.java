package io.laminar.storage.checkpoint;

import java.time.Duration;
import java.util.Objects;

/**
 * How a {@link RecoveryManager} restores a checkpoint. Immutable; build with {@link #builder()}.
 *
 * @param fetchThreads     how many state files are downloaded (read from the store and checksummed) at
 *                         once, across every core's chain (default 4). Each file being read holds at most
 *                         {@code 4 x 256 KiB} of bytes that its parser has not taken yet, so memory is
 *                         bounded by this number, not by the checkpoint's size
 * @param parseThreads     how many cores' chains are parsed into state at once (default: the number of
 *                         processors, at most 8); parsing a file overlaps with its download
 * @param progressInterval how often {@link RecoveryListener#progress} is called and a progress line is
 *                         logged at INFO (default 5 s)
 */
public record RecoveryOptions(int fetchThreads, int parseThreads, Duration progressInterval) {

    /** The defaults. */
    public static final RecoveryOptions DEFAULTS = builder().build();

    /** Validates as the builder does. */
    public RecoveryOptions {
        Objects.requireNonNull(progressInterval, "progressInterval");
        if (fetchThreads < 1 || fetchThreads > 64) {
            throw new IllegalArgumentException("fetchThreads must be between 1 and 64, but was " + fetchThreads);
        }
        if (parseThreads < 1 || parseThreads > 64) {
            throw new IllegalArgumentException("parseThreads must be between 1 and 64, but was " + parseThreads);
        }
        if (progressInterval.compareTo(Duration.ofMillis(1)) < 0) {
            throw new IllegalArgumentException("progressInterval must be at least 1 ms, but was " + progressInterval);
        }
    }

    /** A builder with the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** Builds {@link RecoveryOptions}; each setter validates its value. Not thread-safe. */
    public static final class Builder {
        private int fetchThreads = 4;
        private int parseThreads = Math.min(8, Runtime.getRuntime().availableProcessors());
        private Duration progressInterval = Duration.ofSeconds(5);

        private Builder() {
        }

        /** See {@link RecoveryOptions#fetchThreads()}: 1 to 64. */
        public Builder fetchThreads(int threads) {
            new RecoveryOptions(threads, parseThreads, progressInterval); // validates
            this.fetchThreads = threads;
            return this;
        }

        /** See {@link RecoveryOptions#parseThreads()}: 1 to 64. */
        public Builder parseThreads(int threads) {
            new RecoveryOptions(fetchThreads, threads, progressInterval); // validates
            this.parseThreads = threads;
            return this;
        }

        /** See {@link RecoveryOptions#progressInterval()}: at least 1 ms. */
        public Builder progressInterval(Duration interval) {
            new RecoveryOptions(fetchThreads, parseThreads, interval); // validates
            this.progressInterval = interval;
            return this;
        }

        public RecoveryOptions build() {
            return new RecoveryOptions(fetchThreads, parseThreads, progressInterval);
        }
    }
}

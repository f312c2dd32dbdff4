package io.laminar.storage.sample;

import java.nio.file.Path;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The sample's own settings, {@code laminar.sample.*} (the library's are {@code laminar.storage.*}).
 * Bound once at startup.
 */
@ConfigurationProperties("laminar.sample")
public class SampleProperties {

    private final Source source = new Source();

    public Source getSource() {
        return source;
    }

    /** The file source: events read from a file of JSON lines, followed as it grows. */
    public static class Source {

        /**
         * File of events to ingest, one JSON object {"key": "...", "amount": <integer>} per line,
         * followed as it grows (only lines ending with a newline are read). A data directory
         * keeps following the same file: the file must only be appended to. Unset: no file source.
         */
        private Path file;

        /** Most lines the file source applies as one chunk (one task per core). */
        private int chunkLines = 1000;

        /** How long the file source waits at the end of the file before looking for new lines. */
        private Duration pollInterval = Duration.ofMillis(200);

        public Path getFile() {
            return file;
        }

        public void setFile(Path file) {
            this.file = file;
        }

        public int getChunkLines() {
            return chunkLines;
        }

        public void setChunkLines(int chunkLines) {
            if (chunkLines < 1 || chunkLines > 100_000) {
                throw new IllegalArgumentException("laminar.sample.source.chunk-lines must be between 1 and 100000, "
                        + "but was " + chunkLines);
            }
            this.chunkLines = chunkLines;
        }

        public Duration getPollInterval() {
            return pollInterval;
        }

        public void setPollInterval(Duration pollInterval) {
            if (pollInterval == null || pollInterval.isNegative() || pollInterval.isZero()) {
                throw new IllegalArgumentException("laminar.sample.source.poll-interval must be positive, but was "
                        + pollInterval);
            }
            this.pollInterval = pollInterval;
        }
    }
}

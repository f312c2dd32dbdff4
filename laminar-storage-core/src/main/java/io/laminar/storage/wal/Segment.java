package io.laminar.storage.wal;

import java.io.IOException;
import java.nio.file.Path;

/**
 * One segment file of a log: where it is, the position of its first record and its size.
 *
 * <p>The {@link #writer()} is the log's, as its {@link WalIoBackend} writes; only the log's
 * flush-lock holder writes through it. Readers open their own channels. Immutable apart from
 * closing the writer.
 */
final class Segment {

    private final Path path;
    private final long basePosition;
    private final long capacity;
    private final SegmentWriter writer;

    Segment(Path path, long basePosition, long capacity, SegmentWriter writer) {
        this.path = path;
        this.basePosition = basePosition;
        this.capacity = capacity;
        this.writer = writer;
    }

    Path path() {
        return path;
    }

    long basePosition() {
        return basePosition;
    }

    long capacity() {
        return capacity;
    }

    SegmentWriter writer() {
        return writer;
    }

    /** This segment, written from now on through {@code newWriter} (which took over the file). */
    Segment withWriter(SegmentWriter newWriter) {
        return new Segment(path, basePosition, capacity, newWriter);
    }

    long fileOffset(long position) {
        return WalFormat.SEGMENT_HEADER_LENGTH + (position - basePosition);
    }

    /** Whether a frame of {@code paddedLength} bytes at {@code position} fits in this segment. */
    boolean fits(long position, long paddedLength) {
        return fileOffset(position) + paddedLength <= capacity;
    }

    void closeQuietly() {
        try {
            writer.close();
        } catch (IOException ignored) {
            // Closing a channel we no longer write through cannot lose data; nothing to report.
        }
    }

    @Override
    public String toString() {
        return path.toString();
    }
}

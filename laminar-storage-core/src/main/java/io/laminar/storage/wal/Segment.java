package io.laminar.storage.wal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * One segment file of a log: where it is, the position of its first record and its size.
 *
 * <p>The {@link #channel()} is the writer's; only the log's flush-lock holder writes through it.
 * Readers open their own channels. Immutable apart from closing the channel.
 */
final class Segment {

    private final Path path;
    private final long basePosition;
    private final long capacity;
    private final FileChannel channel;

    Segment(Path path, long basePosition, long capacity, FileChannel channel) {
        this.path = path;
        this.basePosition = basePosition;
        this.capacity = capacity;
        this.channel = channel;
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

    FileChannel channel() {
        return channel;
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
            channel.close();
        } catch (IOException ignored) {
            // Closing a channel we no longer write through cannot lose data; nothing to report.
        }
    }

    @Override
    public String toString() {
        return path.toString();
    }
}

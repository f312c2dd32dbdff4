package io.laminar.storage.wal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * {@link WalIoBackend#FILE_CHANNEL}: positional {@link FileChannel#write(ByteBuffer, long)} into the
 * page cache and {@link FileChannel#force force(false)} (fdatasync). Thread-safety as
 * {@link SegmentWriter} says; the channel itself is thread-safe.
 */
final class FileChannelSegmentWriter implements SegmentWriter {

    private final FileChannel channel;

    FileChannelSegmentWriter(FileChannel channel) {
        this.channel = channel;
    }

    FileChannel channel() {
        return channel;
    }

    @Override
    public void write(ByteBuffer frames, long fileOffset) throws IOException {
        while (frames.hasRemaining()) {
            fileOffset += channel.write(frames, fileOffset);
        }
    }

    @Override
    public void sync() throws IOException {
        channel.force(false);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}

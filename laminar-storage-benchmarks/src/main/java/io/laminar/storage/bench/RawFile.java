package io.laminar.storage.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The "raw" comparison: a plain {@link FileChannel} appending the same payload bytes to a new,
 * growing file, without framing or checksums. It is the floor that any log built on files pays.
 */
public final class RawFile implements AutoCloseable {

    private final FileChannel channel;

    public RawFile(Path file) throws IOException {
        this.channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    }

    /** Appends {@code buffer}'s bytes from 0 to its limit. */
    public void write(ByteBuffer buffer) throws IOException {
        buffer.position(0);
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    /** fdatasync: {@code force(false)}; on a growing file it also has to journal the new size. */
    public void sync() throws IOException {
        channel.force(false);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}

package io.laminar.storage.crash;

import io.laminar.storage.io.FileIO;
import io.laminar.storage.io.ForwardingFileChannel;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A process that dies without closing anything: forwards every call to its delegate until
 * {@link #kill()}, after which every call that would change a file (a write, truncate, force, open,
 * rename, link, deletion or directory sync) throws, so the threads still running can no longer
 * reach the disk, as after a SIGKILL. Closing channels (and so releasing the WAL's lock) still
 * works. A call under way when {@code kill()} is called finishes first: once it returns, nothing
 * more reaches the delegate.
 */
final class KillSwitchFileIO implements FileIO {

    private final FileIO delegate;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private volatile boolean killed;

    KillSwitchFileIO(FileIO delegate) {
        this.delegate = delegate;
    }

    /** Cuts this FileIO off: nothing reaches the delegate from now on. */
    void kill() {
        lock.writeLock().lock();
        try {
            killed = true;
        } finally {
            lock.writeLock().unlock();
        }
    }

    private interface Call<T> {
        T run() throws IOException;
    }

    private <T> T alive(Call<T> call) throws IOException {
        lock.readLock().lock();
        try {
            if (killed) {
                throw new IOException("the process was killed");
            }
            return call.run();
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public FileChannel open(Path path, Set<? extends OpenOption> options) throws IOException {
        var channel = alive(() -> delegate.open(path, options));
        return new ForwardingFileChannel(channel) {
            @Override
            public int write(ByteBuffer src) throws IOException {
                return alive(() -> delegate().write(src));
            }

            @Override
            public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
                return alive(() -> delegate().write(srcs, offset, length));
            }

            @Override
            public int write(ByteBuffer src, long position) throws IOException {
                return alive(() -> delegate().write(src, position));
            }

            @Override
            public FileChannel truncate(long size) throws IOException {
                alive(() -> delegate().truncate(size));
                return this;
            }

            @Override
            public void force(boolean metaData) throws IOException {
                alive(() -> {
                    delegate().force(metaData);
                    return null;
                });
            }

            @Override
            public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
                return alive(() -> delegate().transferFrom(src, position, count));
            }
        };
    }

    @Override
    public void atomicMove(Path source, Path target) throws IOException {
        alive(() -> {
            delegate.atomicMove(source, target);
            return null;
        });
    }

    @Override
    public void createLink(Path link, Path existing) throws IOException {
        alive(() -> {
            delegate.createLink(link, existing);
            return null;
        });
    }

    @Override
    public void deleteIfExists(Path path) throws IOException {
        alive(() -> {
            delegate.deleteIfExists(path);
            return null;
        });
    }

    @Override
    public void syncDirectory(Path directory) throws IOException {
        alive(() -> {
            delegate.syncDirectory(directory);
            return null;
        });
    }
}

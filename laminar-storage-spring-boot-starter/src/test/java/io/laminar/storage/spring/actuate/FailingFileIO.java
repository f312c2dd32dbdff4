package io.laminar.storage.spring.actuate;

import io.laminar.storage.io.FileIO;
import io.laminar.storage.io.ForwardingFileChannel;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;

/**
 * A {@link FileIO} over the real file system whose fdatasync ({@code FileChannel.force}) can be made
 * to fail or to be slow, for the files a predicate picks, from a switch a test flips, and whose
 * writes can be slowed down. Everything else, and every call while the switches are off, is real.
 * A channel follows its file through {@link #atomicMove}: a log's segment opened as its spare
 * {@code *-next.wal.tmp} file and renamed matches a predicate on the segment's name.
 * Thread-safe.
 */
public final class FailingFileIO implements FileIO {

    private final FileIO delegate = FileIO.system();
    private volatile Predicate<Path> failing = path -> false;
    private volatile long slowNanos;
    private volatile long slowWriteNanos;
    private final AtomicLong injected = new AtomicLong();
    private final Set<Channel> open = ConcurrentHashMap.newKeySet();

    /** From now on every fdatasync of a file that matches throws an {@link IOException}. */
    public FailingFileIO failForces(Predicate<Path> files) {
        this.failing = files;
        return this;
    }

    /** From now on every fdatasync succeeds again. */
    public FailingFileIO stopFailing() {
        this.failing = path -> false;
        return this;
    }

    /** Every fdatasync sleeps {@code delay} first ({@link Duration#ZERO}: no more). */
    public FailingFileIO slowForces(Duration delay) {
        this.slowNanos = delay.toNanos();
        return this;
    }

    /** Every write sleeps {@code delay} first ({@link Duration#ZERO}: no more). */
    public FailingFileIO slowWrites(Duration delay) {
        this.slowWriteNanos = delay.toNanos();
        return this;
    }

    /** How many fdatasync calls failed on purpose. */
    public long injected() {
        return injected.get();
    }

    @Override
    public FileChannel open(Path path, Set<? extends OpenOption> options) throws IOException {
        var channel = new Channel(delegate.open(path, options), path.toAbsolutePath().normalize());
        open.add(channel);
        return channel;
    }

    /** A real channel that consults the switches, under the current name of its file. */
    private final class Channel extends ForwardingFileChannel {
        volatile Path name;

        Channel(FileChannel delegate, Path name) {
            super(delegate);
            this.name = name;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            sleep(slowWriteNanos);
            return super.write(src);
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            sleep(slowWriteNanos);
            return super.write(srcs, offset, length);
        }

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            sleep(slowWriteNanos);
            return super.write(src, position);
        }

        @Override
        public void force(boolean metaData) throws IOException {
            sleep(slowNanos);
            var current = name;
            if (failing.test(current)) {
                injected.incrementAndGet();
                throw new IOException("injected fdatasync failure of " + current);
            }
            super.force(metaData);
        }

        @Override
        protected void implCloseChannel() throws IOException {
            open.remove(this);
            super.implCloseChannel();
        }
    }

    private static void sleep(long nanos) {
        if (nanos > 0) {
            LockSupport.parkNanos(nanos);
        }
    }

    @Override
    public void atomicMove(Path source, Path target) throws IOException {
        delegate.atomicMove(source, target);
        var from = source.toAbsolutePath().normalize();
        var to = target.toAbsolutePath().normalize();
        for (var channel : open) {
            if (channel.name.equals(from)) {
                channel.name = to;
            }
        }
    }

    @Override
    public void createLink(Path link, Path existing) throws IOException {
        delegate.createLink(link, existing);
    }

    @Override
    public void deleteIfExists(Path path) throws IOException {
        delegate.deleteIfExists(path);
    }

    @Override
    public void syncDirectory(Path directory) throws IOException {
        delegate.syncDirectory(directory);
    }
}

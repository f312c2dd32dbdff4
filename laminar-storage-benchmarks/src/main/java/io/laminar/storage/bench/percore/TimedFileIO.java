package io.laminar.storage.bench.percore;

import io.laminar.storage.io.FileIO;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.util.Set;
import org.HdrHistogram.Histogram;

/**
 * The real file system, with every {@code FileChannel.force} timed: the distribution of the WAL's
 * commit-path fdatasyncs (the WAL's own statistics give only their count, total and maximum).
 * Forces on a WAL syncer thread (group-commit syncs and the segment header sync at rotation) go
 * into the histogram; forces on other threads (the pre-writing of the next segment file) only
 * into {@link #otherMaxNanos()}. Everything else is passed straight through. Forces happen a few
 * hundred times a second at most, so a lock around the histogram costs nothing that matters.
 */
final class TimedFileIO implements FileIO {

    private final FileIO delegate = FileIO.system();
    private static final String SYNCER_THREAD = "laminar-wal-syncer-";

    private final Histogram forceNanos = new Histogram(60_000_000_000L, 3);
    private long otherMaxNanos;

    /** A copy of the fsync histogram so far (nanoseconds). */
    synchronized Histogram snapshot() {
        return forceNanos.copy();
    }

    /** Forgets the fsyncs so far: called when the measured phase starts. */
    synchronized void reset() {
        forceNanos.reset();
        otherMaxNanos = 0;
    }

    /** The longest force since {@link #reset} on a thread other than a WAL syncer (segment pre-writing). */
    synchronized long otherMaxNanos() {
        return otherMaxNanos;
    }

    private synchronized void record(long nanos) {
        if (Thread.currentThread().getName().startsWith(SYNCER_THREAD)) {
            forceNanos.recordValue(Math.min(nanos, forceNanos.getHighestTrackableValue()));
        } else {
            otherMaxNanos = Math.max(otherMaxNanos, nanos);
        }
    }

    @Override
    public FileChannel open(Path path, Set<? extends OpenOption> options) throws IOException {
        return new TimedChannel(delegate.open(path, options));
    }

    @Override
    public void atomicMove(Path source, Path target) throws IOException {
        delegate.atomicMove(source, target);
    }

    @Override
    public void deleteIfExists(Path path) throws IOException {
        delegate.deleteIfExists(path);
    }

    @Override
    public void syncDirectory(Path directory) throws IOException {
        delegate.syncDirectory(directory);
    }

    /** Delegates every operation; times {@link #force}. */
    private final class TimedChannel extends FileChannel {
        private final FileChannel channel;

        TimedChannel(FileChannel channel) {
            this.channel = channel;
        }

        @Override
        public void force(boolean metaData) throws IOException {
            long start = System.nanoTime();
            channel.force(metaData);
            record(System.nanoTime() - start);
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            return channel.read(dst);
        }

        @Override
        public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
            return channel.read(dsts, offset, length);
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            return channel.read(dst, position);
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            return channel.write(src);
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            return channel.write(srcs, offset, length);
        }

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            return channel.write(src, position);
        }

        @Override
        public long position() throws IOException {
            return channel.position();
        }

        @Override
        public FileChannel position(long newPosition) throws IOException {
            channel.position(newPosition);
            return this;
        }

        @Override
        public long size() throws IOException {
            return channel.size();
        }

        @Override
        public FileChannel truncate(long size) throws IOException {
            channel.truncate(size);
            return this;
        }

        @Override
        public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
            return channel.transferTo(position, count, target);
        }

        @Override
        public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
            return channel.transferFrom(src, position, count);
        }

        @Override
        public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
            return channel.map(mode, position, size);
        }

        @Override
        public FileLock lock(long position, long size, boolean shared) throws IOException {
            return channel.lock(position, size, shared);
        }

        @Override
        public FileLock tryLock(long position, long size, boolean shared) throws IOException {
            return channel.tryLock(position, size, shared);
        }

        @Override
        protected void implCloseChannel() throws IOException {
            channel.close();
        }
    }
}

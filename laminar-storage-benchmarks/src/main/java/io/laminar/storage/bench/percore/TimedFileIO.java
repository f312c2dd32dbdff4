package io.laminar.storage.bench.percore;

import io.laminar.storage.io.FileIO;
import io.laminar.storage.io.ForwardingFileChannel;
import java.io.IOException;
import java.nio.channels.FileChannel;
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
    private final class TimedChannel extends ForwardingFileChannel {

        TimedChannel(FileChannel channel) {
            super(channel);
        }

        @Override
        public void force(boolean metaData) throws IOException {
            long start = System.nanoTime();
            super.force(metaData);
            record(System.nanoTime() - start);
        }
    }
}

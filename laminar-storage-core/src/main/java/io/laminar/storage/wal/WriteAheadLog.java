package io.laminar.storage.wal;

import io.laminar.storage.StorageException;
import io.laminar.storage.concurrent.Backoff;
import io.laminar.storage.concurrent.Threads;
import io.laminar.storage.io.FileIO;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.EnumSet;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A segmented write-ahead log in one directory, with CRC32C-checked records, group commit and
 * torn-write detection. The on-disk format is documented in {@link WalFormat}.
 *
 * <h2>Writing</h2>
 * Any number of threads may {@link #append} at once. An append reserves the record's bytes in an
 * in-memory write buffer with one compare-and-set, frames and checksums it there and returns its
 * position; it takes no lock and does no I/O (unless the policy is {@link SyncPolicy.EveryAppend}).
 * A background syncer thread writes committed records to the segment file and calls fdatasync as
 * the {@link SyncPolicy} says. {@link #appendDurable} returns a future that completes only after an
 * fdatasync covers the record. Segments are pre-written with zeros (a background thread prepares
 * the next one) so that an fdatasync does not have to journal a change of file size.
 *
 * <h2>I/O backends</h2>
 * How frames reach the segment file and how they are synced is the {@link WalIoBackend} of
 * {@link WalOptions#ioBackend()}: buffered {@code FileChannel} writes (the default) or O_DIRECT, each
 * followed by fdatasync. The backend is decided when the log opens ({@link #ioBackend()} says which);
 * every backend writes the same bytes at the same offsets, so a log opens with any backend whichever
 * wrote it, and recovery, readers and the failure rules below are the same for all.
 *
 * <h2>Failure</h2>
 * If a write or an fdatasync throws, the log fails: pending and later durable appends complete
 * exceptionally with {@link WalFailedException}, and every later write throws it. Nothing retries an
 * fdatasync and then reports success. Close the log and open it again to recover what is durable.
 *
 * <h2>Opening</h2>
 * {@link #open} recovers the log before anything can be appended. A torn tail at the end of the
 * newest segment is cut off, logged at WARN and counted; damage elsewhere is corruption, and fails
 * the open unless {@link CorruptionPolicy#TRUNCATE} is chosen. Each record carries the position up to
 * which the log was durable when it was written, which is how a region that may legitimately be torn
 * (after the last durable point: writes that were never synced may reach the disk out of order on a
 * power loss) is told apart from damage to synced data. Damage confined to the records written
 * since the last completed fdatasync looks exactly like a torn write and is treated as one. See
 * {@link WalRecovery}. A lock file keeps a second process from opening the same log.
 *
 * <h2>Thread-safety</h2>
 * All methods are thread-safe. Readers ({@link #reader}) are single-threaded objects that may run
 * while other threads append.
 */
public final class WriteAheadLog implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(WriteAheadLog.class);

    /** How much of the write buffer one write call takes at most, so space returns to appenders early. */
    private static final long MAX_WRITE_RUN = 4 << 20;
    /** Group commit keeps lingering only while records keep arriving within this window. */
    private static final long LINGER_QUIET_NANOS = TimeUnit.MICROSECONDS.toNanos(20);
    private static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private final Path directory;
    private final WalOptions options;
    private final FileIO io;
    private final SegmentIo segmentIo;
    private final FileChannel lockChannel;
    private final FileLock fileLock;
    private final long logId;
    private final WalRecoveryReport recoveryReport;
    private final FrameRing ring;
    private final ThreadLocal<AppendScratch> scratch;
    private final ConcurrentSkipListMap<Long, Segment> segments = new ConcurrentSkipListMap<>();
    /** Guards writing: moving committed frames from the buffer to the files, rotation. */
    private final ReentrantLock flushLock = new ReentrantLock();
    /**
     * Serializes fdatasyncs and the durable position. Taken after flushLock where both are held,
     * never the other way round. Writes go on while a sync runs.
     */
    private final ReentrantLock syncLock = new ReentrantLock();
    private final Object truncateLock = new Object();
    private final ConcurrentLinkedQueue<Waiter> waiters = new ConcurrentLinkedQueue<>();
    private final ExecutorService preallocator;
    private final Thread syncer;
    private final Thread acknowledger;
    private final Statistics statistics = new Statistics();
    private final AtomicBoolean closing = new AtomicBoolean();
    private final boolean syncEveryAppend;

    private volatile long durablePosition;
    private volatile WalFailedException failure;
    /** The highest end position someone waits to see durable: a sync is owed while it is past the durable one. */
    private final AtomicLong requestedEnd = new AtomicLong(-1);
    private volatile boolean syncerParked;
    private volatile boolean stopSyncer;
    private volatile boolean acknowledgerParked;
    private volatile boolean stopAcknowledger;

    /** The segment being written: changed by rotation under both locks, read by syncs under syncLock. */
    private volatile Segment active;
    /** How far the files are written, and how many records that is: published together after every write. */
    private volatile Written written;
    /** Records made durable so far (written under syncLock). */
    private volatile long syncedRecords;
    private volatile long lastSyncRecords;
    /**
     * How long an fdatasync takes, a moving average (each new one weighs 1/8, the first counts
     * whole). Written under syncLock. Group commit lingers no longer than that: lingering longer
     * would keep the disk idle longer than syncing what has arrived and then, in the next fdatasync,
     * what arrives meanwhile.
     */
    private volatile long typicalSyncNanos;
    /**
     * How long the acknowledger takes to complete the appends one fdatasync made durable, that is to
     * wake their threads: a moving average like {@link #typicalSyncNanos}. Written by the
     * acknowledger only. See {@link #lingerPays}.
     */
    private volatile long typicalWakeNanos;

    // Guarded by flushLock.
    private Future<Path> preallocated;
    /**
     * Where writes wait for the disk (O_DIRECT): how long writing one group commit's batch takes, a
     * moving average like {@link #typicalSyncNanos}; 0 elsewhere. Part of what a batch costs the
     * disk, beside its fdatasync: see {@link #lingerPays}.
     */
    private long typicalBatchWriteNanos;
    private long writtenRecords;
    private long firstUnsyncedNanos;

    private WriteAheadLog(Path directory, WalOptions options, SegmentIo segmentIo, FileChannel lockChannel,
                          FileLock fileLock, WalRecovery.Recovered recovered, long newLogStart) throws IOException {
        this.directory = directory;
        this.options = options;
        this.io = options.fileIO();
        this.segmentIo = segmentIo;
        this.lockChannel = lockChannel;
        this.fileLock = fileLock;
        this.recoveryReport = recovered.report(newLogStart);
        this.syncEveryAppend = options.syncPolicy() instanceof SyncPolicy.EveryAppend;
        this.preallocator = Executors.newSingleThreadExecutor(
                Threads.daemonFactory("laminar-wal-prealloc-" + options.name()));
        // A new log (no segment found) starts at newLogStart; one whose segments were all cut away
        // starts again where they ended.
        long end = recovered.endPosition() >= 0 ? recovered.endPosition() : newLogStart;
        if (recovered.segments().isEmpty()) {
            this.logId = ThreadLocalRandom.current().nextLong();
            long base = end;
            flushLock.lock();
            try {
                active = activateSegment(base);
            } finally {
                flushLock.unlock();
            }
            segments.put(base, active);
        } else {
            this.logId = recovered.logId();
            for (var segment : recovered.segments()) {
                segments.put(segment.basePosition(), segment);
            }
            var newest = segments.lastEntry().getValue();
            // Recovery wrote through a plain channel (and synced); the backend writes from here on.
            active = newest.withWriter(segmentIo.writer(newest.path(), newest.capacity(), channelOf(newest)));
            segments.put(active.basePosition(), active);
        }
        this.durablePosition = end;
        this.written = new Written(end, 0);
        this.ring = new FrameRing(options.ringCapacity(), end);
        active.writer().writesFrom(ring.buffer());
        this.scratch = ThreadLocal.withInitial(() -> new AppendScratch(ring.newView()));
        statistics.tornTailRepairs = recoveryReport.tornTailBytes() > 0 ? 1 : 0;
        statistics.truncatedBytes = recoveryReport.tornTailBytes()
                + recoveryReport.dropped().stream().mapToLong(WalRecoveryReport.DroppedRegion::bytes).sum();
        flushLock.lock();
        try {
            schedulePreallocation();
        } finally {
            flushLock.unlock();
        }
        this.syncer = Threads.daemon("laminar-wal-syncer-" + options.name(), this::runSyncer);
        this.acknowledger = Threads.daemon("laminar-wal-ack-" + options.name(), this::runAcknowledger);
        acknowledger.start();
        syncer.start();
    }

    /**
     * Opens (creating it if needed) the log named {@code options.name()} in {@code directory} and
     * recovers it: a torn tail is cut off, corruption fails the open (or is cut, if the options
     * say so). See {@link #recoveryReport()} for what was found.
     *
     * @throws WalCorruptionException if the log is corrupt and the policy is {@link CorruptionPolicy#FAIL}
     * @throws WalDirectoryException  if the directory cannot be created or written to
     * @throws WalLockedException     if another process, or another open log in this one, holds the log
     * @throws StorageException       if the log cannot be read
     */
    public static WriteAheadLog open(Path directory, WalOptions options) {
        return open(directory, options, 0, false);
    }

    /**
     * Creates the log named {@code options.name()} in {@code directory}, starting at
     * {@code firstPosition} instead of 0: for a log that must continue positions issued elsewhere,
     * so that positions recorded against the old log (in a checkpoint) never point backwards into
     * the new one. Otherwise as {@link #open}.
     *
     * @throws IllegalArgumentException if {@code firstPosition} is negative or not a multiple of 8
     *                                  (records start at multiples of 8)
     * @throws IllegalStateException    if the directory already holds segments of this log
     * @throws WalDirectoryException    if the directory cannot be created or written to
     * @throws WalLockedException       if another process, or another open log in this one, holds the log
     */
    public static WriteAheadLog create(Path directory, WalOptions options, long firstPosition) {
        if (firstPosition < 0 || firstPosition % WalFormat.ALIGNMENT != 0) {
            throw new IllegalArgumentException("firstPosition must be a non-negative multiple of "
                    + WalFormat.ALIGNMENT + ", but was " + firstPosition);
        }
        return open(directory, options, firstPosition, true);
    }

    private static WriteAheadLog open(Path directory, WalOptions options, long newLogStart, boolean mustBeNew) {
        var io = options.fileIO();
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            throw new WalDirectoryException("cannot create the WAL directory " + directory + " (" + e
                    + "): check that the path is a directory this process may write to", directory, e);
        }
        var lockPath = directory.resolve(WalFileNames.lockFileName(options.name()));
        FileChannel lockChannel;
        try {
            lockChannel = io.open(lockPath, EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE));
        } catch (IOException e) {
            throw new WalDirectoryException("cannot write to the WAL directory " + directory + " (creating " + lockPath
                    + " failed: " + e + "): check that this process may write there", directory, e);
        }
        FileLock lock;
        try {
            lock = lockChannel.tryLock();
        } catch (OverlappingFileLockException | IOException e) {
            lock = null;
        }
        if (lock == null) {
            closeQuietly(lockChannel);
            throw new WalLockedException("the WAL '" + options.name() + "' in " + directory
                    + " is already open (lock file " + lockPath + " is held by another process or by another "
                    + "WriteAheadLog in this one): close it first, or give this log another directory or name",
                    lockPath);
        }
        WalRecovery.Recovered recovered = null;
        try {
            var segmentIo = SegmentIo.resolve(directory, lockPath, options);
            recovered = new WalRecovery(directory, options).recover();
            if (mustBeNew && recovered.endPosition() >= 0) {
                throw new IllegalStateException("cannot create the WAL '" + options.name() + "' in " + directory
                        + " at position " + newLogStart + ": the directory already holds segments of it (up to position "
                        + recovered.endPosition() + "); delete them first or open the log as it is");
            }
            return new WriteAheadLog(directory, options, segmentIo, lockChannel, lock, recovered, newLogStart);
        } catch (IOException e) {
            closeQuietly(recovered);
            release(lock, lockChannel);
            throw new StorageException("cannot open the WAL in " + directory + ": " + e, e);
        } catch (RuntimeException e) {
            closeQuietly(recovered);
            release(lock, lockChannel);
            throw e;
        }
    }

    /**
     * Appends a record and returns its position. The payload's bytes from its position to its limit
     * are copied; the buffer itself is not changed. Under {@link SyncPolicy.EveryAppend} this returns
     * once the record is durable; otherwise it returns at once and the record becomes durable as the
     * policy says.
     *
     * @throws IllegalArgumentException if the payload is larger than {@link WalOptions#maxRecordSize()}
     * @throws WalFailedException       if the log has failed
     * @throws IllegalStateException    if the log is closed
     */
    public long append(ByteBuffer payload) {
        checkWritable();
        int length = payload.remaining();
        long position = reserveAndPut(payload);
        if (syncEveryAppend) {
            syncInline(position + WalFormat.paddedFrameLength(length));
        }
        return position;
    }

    /** {@link #append(ByteBuffer)} for a byte array. */
    public long append(byte[] payload) {
        return append(ByteBuffer.wrap(payload));
    }

    /**
     * Appends a record and returns a future of its position that completes only after an fdatasync
     * covers it, or exceptionally with {@link WalFailedException} if the log fails first. A sync is
     * requested at once whatever the policy. The future completes on the log's acknowledger thread:
     * attach slow work with the {@code *Async} methods of {@link CompletableFuture}.
     *
     * @throws IllegalArgumentException if the payload is larger than {@link WalOptions#maxRecordSize()}
     * @throws WalFailedException       if the log has already failed
     * @throws IllegalStateException    if the log is closed
     */
    public CompletableFuture<Long> appendDurable(ByteBuffer payload) {
        checkWritable();
        int length = payload.remaining();
        long position = reserveAndPut(payload);
        return durableFuture(position + WalFormat.paddedFrameLength(length), position);
    }

    /** {@link #appendDurable(ByteBuffer)} for a byte array. */
    public CompletableFuture<Long> appendDurable(byte[] payload) {
        return appendDurable(ByteBuffer.wrap(payload));
    }

    /**
     * Requests a sync of everything appended so far. The future completes with the durable position
     * once an fdatasync covers every record appended before this call.
     */
    public CompletableFuture<Long> sync() {
        checkWritable();
        long end = ring.reservedEnd();
        return durableFuture(end, end);
    }

    /**
     * Deletes the segments that lie entirely before {@code position}: what a completed checkpoint
     * calls for the oldest position it still needs. The segment holding {@code position} and the
     * segment being written are kept. Segments are deleted oldest first, with a directory sync after
     * each, so that a power cut never leaves a gap in the chain.
     *
     * @return how many segments were deleted
     */
    public int truncateBefore(long position) {
        checkOpen();
        long written = ring.released();
        if (position > written) {
            throw new IllegalArgumentException("cannot truncate the WAL in " + directory + " before position "
                    + position + ": it has only been written up to position " + written);
        }
        synchronized (truncateLock) {
            int deleted = 0;
            for (var entry : segments.entrySet()) {
                Long nextBase = segments.higherKey(entry.getKey());
                if (nextBase == null || nextBase > position) {
                    break;
                }
                var segment = entry.getValue();
                segments.remove(entry.getKey());
                segment.closeQuietly();
                try {
                    io.deleteIfExists(segment.path());
                } catch (IOException e) {
                    throw new StorageException("cannot delete the WAL segment " + segment.path() + ": " + e
                            + "; it holds only positions before " + position + " and may be deleted by hand", e);
                }
                // Oldest first, each deletion durable before the next: a power cut then leaves the
                // segments a contiguous chain. With one sync after all of them, a file system that
                // persists directory changes out of order could bring back an older segment while a
                // newer one stayed deleted, and the gap between them reads as corruption at open.
                try {
                    io.syncDirectory(directory);
                } catch (IOException e) {
                    throw new StorageException("cannot sync the WAL directory " + directory + " after deleting "
                            + segment.path().getFileName() + ": " + e, e);
                }
                deleted++;
            }
            if (deleted > 0) {
                statistics.segmentsDeleted.add(deleted);
                log.debug("WAL {}: deleted {} segments before position {}", directory, deleted, position);
            }
            return deleted;
        }
    }

    /**
     * A reader of the records from {@code fromPosition}, which must be the position of a record
     * still in the log (or the current end). It reads only fully written records and verifies each
     * checksum; other threads may keep appending meanwhile.
     *
     * @throws IllegalArgumentException if no record starts at {@code fromPosition}
     */
    public WalReader reader(long fromPosition) {
        return new WalReader(this, fromPosition);
    }

    /** A reader from the oldest record still in the log. */
    public WalReader reader() {
        return reader(startPosition());
    }

    /** The position of the oldest record still in the log. */
    public long startPosition() {
        return segments.firstKey();
    }

    /** The position the next appended record will get. */
    public long endPosition() {
        return ring.reservedEnd();
    }

    /** Every record before this position has been written to the file (and can be read). */
    public long writtenPosition() {
        return ring.released();
    }

    /** Every record before this position is covered by an fdatasync. */
    public long durablePosition() {
        return durablePosition;
    }

    /**
     * The segment file that holds the record at {@code position}: what a message about that record
     * names.
     *
     * @throws IllegalArgumentException if {@code position} is not in the log
     */
    public Path segmentFile(long position) {
        var segment = segments.floorEntry(position);
        if (segment == null || position >= endPosition()) {
            throw new IllegalArgumentException("position " + position + " is not in the WAL in " + directory
                    + ", which holds the positions from " + startPosition() + " to " + endPosition());
        }
        return segment.getValue().path();
    }

    /** The directory of the log. */
    public Path directory() {
        return directory;
    }

    /**
     * The I/O backend this log writes with: the one {@link WalOptions#ioBackend()} chooses, or
     * {@link WalIoBackend#FILE_CHANNEL} where an {@code -or-fallback} choice could not run it. Never an
     * {@code -or-fallback} value.
     */
    public WalIoBackend ioBackend() {
        return segmentIo.backend();
    }

    /** The options the log was opened with. */
    public WalOptions options() {
        return options;
    }

    /** What {@link #open} found and repaired. */
    public WalRecoveryReport recoveryReport() {
        return recoveryReport;
    }

    /** Live counters. */
    public WalStatistics statistics() {
        return statistics;
    }

    /** Whether the log has failed; see {@link WalFailedException}. */
    public boolean isFailed() {
        return failure != null;
    }

    /**
     * Why the log failed: what the write or fdatasync threw (say, an {@link IOException} "No space
     * left on device"). Empty while it has not failed.
     */
    public Optional<Throwable> failure() {
        var f = failure;
        return f == null ? Optional.empty() : Optional.of(f.getCause());
    }

    /**
     * Writes and syncs everything appended, stops the background threads and releases the files
     * and the lock. Appends that race with close either make it into the final sync or throw
     * {@link IllegalStateException}. Idempotent.
     *
     * @throws StorageException if the final write or sync fails
     */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            return;
        }
        long finalEnd = ring.closeForAppends();
        stopSyncer = true;
        LockSupport.unpark(syncer);
        boolean interrupted = Threads.joinDeferringInterrupt(syncer);
        stopAcknowledger = true;
        LockSupport.unpark(acknowledger);
        interrupted |= Threads.joinDeferringInterrupt(acknowledger);
        StorageException error = null;
        flushLock.lock();
        try {
            if (failure == null) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (ring.released() < finalEnd && System.nanoTime() < deadline) {
                    writeCommitted();
                    Thread.yield();
                }
                syncWritten();
                if (ring.released() < finalEnd) {
                    error = fail(new IOException("appenders reserved records up to position " + finalEnd
                            + " but did not finish writing them within 10 s of close()"));
                }
            }
        } catch (IOException | RuntimeException e) {
            error = fail(e);
        } finally {
            completeWaiters();
            failWaiters(new IllegalStateException("the WAL in " + directory + " was closed"));
            preallocator.shutdownNow();
            try {
                preallocator.awaitTermination(10, TimeUnit.SECONDS);
                io.deleteIfExists(WalRecovery.preallocatedFile(directory, options.name()));
                io.deleteIfExists(WalRecovery.sparseFile(directory, options.name()));
            } catch (InterruptedException e) {
                interrupted = true;
            } catch (IOException e) {
                log.warn("WAL {}: could not delete the spare segment file: {}", directory, e.toString());
            }
            for (var segment : segments.values()) {
                segment.closeQuietly();
            }
            release(fileLock, lockChannel);
            flushLock.unlock();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (error != null) {
            throw error;
        }
    }

    // ---- append path -------------------------------------------------------------------------

    private long reserveAndPut(ByteBuffer payload) {
        int length = payload.remaining();
        if (length > options.maxRecordSize()) {
            throw new IllegalArgumentException("a record of " + length + " bytes is larger than maxRecordSize ("
                    + options.maxRecordSize() + " bytes) of the WAL in " + directory
                    + "; split the record or raise maxRecordSize");
        }
        int padded = (int) WalFormat.paddedFrameLength(length);
        long position = ring.tryReserve(padded);
        if (position < 0) {
            position = reserveWhenFull(padded);
        }
        var s = scratch.get();
        ring.putFrame(position, payload, durablePosition, s.crc, s.view);
        return position;
    }

    private long reserveWhenFull(int padded) {
        statistics.bufferFullWaits.increment();
        var backoff = scratch.get().backoff;
        backoff.reset();
        while (true) {
            checkWritable();
            long position = ring.tryReserve(padded);
            if (position >= 0) {
                return position;
            }
            if (position == FrameRing.CLOSED) {
                throw closedException();
            }
            wakeSyncer(); // to write out and free space: a full buffer is no reason to fdatasync
            if (!syncEveryAppend) {
                helpWrite(); // under EveryAppend every appender writes out on its own path anyway
            }
            backoff.idle();
        }
    }

    /**
     * Writes committed frames out if nobody else is: while the syncer waits in an fdatasync, a full
     * buffer is drained by the appenders waiting for it.
     */
    private void helpWrite() {
        if (flushLock.tryLock()) {
            try {
                if (failure == null) {
                    writeCommitted();
                }
            } catch (IOException | RuntimeException e) {
                throw fail(e);
            } finally {
                flushLock.unlock();
            }
        }
    }

    private CompletableFuture<Long> durableFuture(long end, long result) {
        if (syncEveryAppend) {
            try {
                syncInline(end);
                return CompletableFuture.completedFuture(result);
            } catch (WalFailedException e) {
                return CompletableFuture.failedFuture(e);
            }
        }
        if (durablePosition >= end) {
            return CompletableFuture.completedFuture(result);
        }
        var waiter = new Waiter(end, result, new CompletableFuture<>());
        waiters.add(waiter);
        requestSync(end);
        // The syncer may have passed this record before the waiter was queued, or failed meanwhile.
        if (durablePosition >= end) {
            waiter.future.complete(result);
        } else if (failure != null) {
            waiter.future.completeExceptionally(failedException());
        }
        return waiter.future;
    }

    /** Makes everything before {@code end} durable on this thread, sharing syncs with other callers. */
    private void syncInline(long end) {
        while (durablePosition < end) {
            if (failure != null) {
                throw failedException();
            }
            if (written.position() < end) {
                flushLock.lock();
                try {
                    if (written.position() < end && failure == null) {
                        writeCommitted(segmentIo.linksWriteAndSync()); // linked: durable on return
                    }
                } catch (IOException | RuntimeException e) {
                    throw fail(e);
                } finally {
                    flushLock.unlock();
                }
            }
            try {
                syncWritten(); // shared: whoever syncs first covers everyone written before
            } catch (IOException | RuntimeException e) {
                throw fail(e);
            }
            if (durablePosition < end) {
                Thread.yield(); // an earlier appender is still copying its record
            }
        }
    }

    private void requestSync(long end) {
        for (long current; (current = requestedEnd.get()) < end; ) {
            if (requestedEnd.compareAndSet(current, end)) {
                break;
            }
        }
        wakeSyncer();
    }

    private void wakeSyncer() {
        if (syncerParked) {
            LockSupport.unpark(syncer);
        }
    }

    private void checkWritable() {
        if (failure != null) {
            throw failedException();
        }
        checkOpen();
    }

    private void checkOpen() {
        if (closing.get()) {
            throw closedException();
        }
    }

    private IllegalStateException closedException() {
        return new IllegalStateException("the WAL in " + directory + " is closed");
    }

    private WalFailedException failedException() {
        var f = failure;
        return new WalFailedException(f.getMessage(), f.getCause());
    }

    // ---- syncer ------------------------------------------------------------------------------

    private void runSyncer() {
        var policy = options.syncPolicy();
        long intervalNanos = policy instanceof SyncPolicy.Interval i ? i.period().toNanos() : 0;
        long parkNanos = policy instanceof SyncPolicy.GroupCommit g
                ? Math.max(50_000, Math.min(g.maxWait().toNanos(), IDLE_PARK_NANOS))
                : IDLE_PARK_NANOS;
        long nextIntervalSync = System.nanoTime() + intervalNanos;
        var backoff = new Backoff(49, 10, parkNanos); // then parks for parkNanos or until the next interval sync
        while (!stopSyncer) {
            boolean worked = false;
            if (failure == null) {
                boolean intervalDue = intervalNanos > 0 && System.nanoTime() >= nextIntervalSync;
                try {
                    worked = syncerPass(intervalDue);
                } catch (IOException | RuntimeException e) {
                    fail(e);
                }
                if (intervalDue) {
                    nextIntervalSync = System.nanoTime() + intervalNanos;
                }
            } else {
                failWaiters(failedException());
            }
            if (worked) {
                backoff.reset();
                continue;
            }
            if (!backoff.spinOrYield()) {
                syncerParked = true;
                if (!hasWork()) {
                    long park = intervalNanos > 0
                            ? Math.max(1, Math.min(parkNanos, nextIntervalSync - System.nanoTime()))
                            : parkNanos;
                    LockSupport.parkNanos(this, park);
                }
                syncerParked = false;
            }
        }
    }

    private boolean hasWork() {
        return requestedEnd.get() > durablePosition || ring.committedLength(ring.released()) != 0
                || (!waiters.isEmpty() && ring.released() > durablePosition);
    }

    /** One pass of the syncer: write what is committed, sync if the policy or a request says so. */
    private boolean syncerPass(boolean intervalDue) throws IOException {
        boolean groupCommit = options.syncPolicy() instanceof SyncPolicy.GroupCommit;
        if (requestedEnd.get() <= durablePosition && ring.committedLength(ring.released()) == 0
                && !(ring.released() > durablePosition && (groupCommit || intervalDue))) {
            return false;
        }
        long before;
        long durableBefore = durablePosition;
        boolean sync;
        flushLock.lock();
        try {
            before = ring.released();
            if (segmentIo.linksWriteAndSync()
                    && (groupCommit || intervalDue || requestedEnd.get() > durablePosition)) {
                // The batch's writes and its fdatasync go to the kernel together (io_uring, linked), so
                // gather the batch first, as for O_DIRECT; held locks: appenders short of space wait.
                if (groupCommit) {
                    lingerBeforeWriting();
                }
                writeCommitted(true);
                sync = false; // done: durable up to what was written
            } else {
                boolean requested;
                if (groupCommit && segmentIo.writesWaitForTheDisk()) {
                    // Each write is a trip to the disk here: gather the batch first, then write it once.
                    lingerBeforeWriting();
                    long started = System.nanoTime();
                    writeCommitted();
                    if (ring.released() > before) {
                        typicalBatchWriteNanos = movingAverage(typicalBatchWriteNanos, System.nanoTime() - started);
                    }
                    requested = requestedEnd.get() > durablePosition;
                } else {
                    writeCommitted();
                    requested = requestedEnd.get() > durablePosition;
                    if (requested && ring.committedLength(ring.released()) != 0) {
                        // The request came while this pass wrote; its records were committed before it
                        // was made: written now, one fdatasync covers them instead of two.
                        writeCommitted();
                    }
                    if ((groupCommit || requested) && ring.released() > durablePosition) {
                        linger();
                    }
                }
                sync = (requested || groupCommit || intervalDue) && ring.released() > durablePosition;
            }
        } catch (IOException | RuntimeException e) {
            throw fail(e); // before giving up the lock, so that no other thread writes after a failed write
        } finally {
            flushLock.unlock();
        }
        if (sync) {
            try {
                syncWritten(); // outside flushLock: appenders short of buffer space write meanwhile
            } catch (IOException | RuntimeException e) {
                throw fail(e);
            }
        }
        return ring.released() > before || durablePosition > durableBefore;
    }

    /**
     * Group commit: wait for more records while they keep arriving, within maxWait, about one
     * fdatasync ({@link #typicalSyncNanos}) and maxBatchRecords. Only when {@link #lingerPays}.
     * Yields rather than spins, so that on a small machine the writers get the CPU.
     */
    private void linger() throws IOException {
        if (!(options.syncPolicy() instanceof SyncPolicy.GroupCommit g) || !lingerPays(g)) {
            return;
        }
        long started = System.nanoTime();
        long deadline = Math.min(firstUnsyncedNanos + g.maxWait().toNanos(), started + typicalSyncNanos);
        long quietUntil = started + Math.min(LINGER_QUIET_NANOS, g.maxWait().toNanos());
        while (writtenRecords - syncedRecords < g.maxBatchRecords()) {
            long now = System.nanoTime();
            if (now >= deadline) {
                return;
            }
            if (ring.committedLength(ring.released()) != 0) {
                writeCommitted();
                quietUntil = now + LINGER_QUIET_NANOS;
            } else if (now >= quietUntil) {
                return;
            } else {
                Thread.yield();
            }
        }
    }

    /**
     * Whether waiting for more records before an fdatasync can make more records durable per second:
     * <ul>
     *   <li>not when the last sync covered a single record: a lone writer gains nothing from waiting;
     *   <li>not when waking the threads of one sync's appends ({@link #typicalWakeNanos}) takes half
     *       of what the disk spends on a batch or more: an fdatasync, and where writes wait for the
     *       disk the batch's write too. The CPUs, not the disk, bound the log then: the writers come back
     *       one by one as the acknowledger wakes them, and lingering for them leaves the disk idle
     *       while they do. Syncing at once overlaps the next fdatasync with those wake-ups, and the
     *       batch gathers during it. Measured with 64 writers on 2 CPUs ({@code wal --scenario
     *       durable-group}, file-channel, back to back): 165,048 durable records/s against 137,974
     *       with lingering, and with 8 writers 33,396 against 34,577.
     * </ul>
     * Under flushLock.
     */
    private boolean lingerPays(SyncPolicy.GroupCommit policy) {
        return !policy.maxWait().isZero() && lastSyncRecords > 1
                && typicalWakeNanos * 2 < typicalSyncNanos + typicalBatchWriteNanos;
    }

    /**
     * Group commit for a backend whose writes wait for the disk (O_DIRECT): wait, before writing
     * anything, while records keep arriving, within maxWait, about one fdatasync
     * ({@link #typicalSyncNanos}) and half the write buffer. Writing each arrival as {@link #linger}
     * does would cost a disk round trip per record, and measured with 8 writers it halved the records
     * per fdatasync. Only when {@link #lingerPays}. Under flushLock.
     */
    private void lingerBeforeWriting() {
        if (!(options.syncPolicy() instanceof SyncPolicy.GroupCommit g) || !lingerPays(g)) {
            return;
        }
        long now = System.nanoTime();
        long deadline = now + Math.min(g.maxWait().toNanos(), typicalSyncNanos);
        long quietUntil = now + Math.min(LINGER_QUIET_NANOS, g.maxWait().toNanos());
        long seen = ring.reservedEnd();
        while (now < deadline && seen - ring.released() < ring.capacity() / 2) {
            Thread.yield();
            now = System.nanoTime();
            long reserved = ring.reservedEnd();
            if (reserved != seen) {
                seen = reserved;
                quietUntil = now + LINGER_QUIET_NANOS;
            } else if (now >= quietUntil) {
                return;
            }
        }
    }

    /** Writes every committed record to the segment files, rotating as needed. Under flushLock. */
    private void writeCommitted() throws IOException {
        writeCommitted(false);
    }

    /**
     * Writes every committed record to the segment files, rotating as needed; with {@code andSync},
     * hands the last write and an fdatasync to the writer together ({@link SegmentWriter#writeAndSync})
     * and publishes the durable position, so that on return everything written is durable. Under
     * flushLock.
     */
    private void writeCommitted(boolean andSync) throws IOException {
        if (failure != null) {
            throw failedException(); // refuses every write after a failure, whichever thread holds the lock
        }
        long from = ring.released();
        long position = from;
        long records = 0;
        long payloadBytes = 0;
        while (true) {
            int length = ring.committedLength(position);
            if (length == 0) {
                break;
            }
            long padded = WalFormat.align(length);
            if (!active.fits(position, padded)) {
                writeRun(from, position, records, payloadBytes);
                from = position;
                records = 0;
                payloadBytes = 0;
                rotate(position);
            }
            position += padded;
            records++;
            payloadBytes += length - WalFormat.FRAME_HEADER_LENGTH;
            // Release space at least every half ring: a slot more than a lap ahead of the released
            // position still holds a frame this pass has scanned but not yet released.
            if (position - from >= Math.min(MAX_WRITE_RUN, ring.capacity() / 2)) {
                writeRun(from, position, records, payloadBytes);
                from = position;
                records = 0;
                payloadBytes = 0;
            }
        }
        if (andSync) {
            writeRunAndSync(from, position, records, payloadBytes);
        } else {
            writeRun(from, position, records, payloadBytes);
        }
    }

    /** Writes the frames in [from, to) to the active segment, frees their buffer space, publishes. */
    private void writeRun(long from, long to, long records, long payloadBytes) throws IOException {
        if (to <= from) {
            return;
        }
        ring.writeTo(active.writer(), from, to, active.fileOffset(from));
        released(to, records, payloadBytes);
    }

    /**
     * As {@link #writeRun} with an fdatasync handed to the writer together with the write, then
     * publishes the durable position as {@link #syncWritten} does (the sync's time includes the
     * write's). With nothing to write, a plain {@link #syncWritten}. Under flushLock; takes syncLock.
     */
    private void writeRunAndSync(long from, long to, long records, long payloadBytes) throws IOException {
        if (to <= from) {
            syncWritten();
            return;
        }
        syncLock.lock();
        try {
            if (failure != null) {
                throw failedException(); // never write or sync again after a failed write or fdatasync
            }
            long previous = durablePosition;
            long started = System.nanoTime();
            try {
                ring.writeAndSyncTo(active.writer(), from, to, active.fileOffset(from));
            } catch (IOException | RuntimeException e) {
                throw fail(e); // under both locks: no other thread writes or syncs and succeeds in between
            }
            long nanos = System.nanoTime() - started;
            released(to, records, payloadBytes);
            publishDurable(written, previous, nanos);
        } finally {
            syncLock.unlock();
        }
    }

    /** Frees the buffer space before {@code to}, now written, and publishes how far the files are written. */
    private void released(long to, long records, long payloadBytes) {
        ring.release(to);
        if (writtenRecords == syncedRecords) {
            firstUnsyncedNanos = System.nanoTime();
        }
        writtenRecords += records;
        statistics.appends += records;
        statistics.appendedBytes += payloadBytes;
        written = new Written(to, writtenRecords);
    }

    /**
     * fdatasyncs what is written and publishes the new durable position. Takes syncLock, so one
     * sync runs at a time and never after a failed one; needs no flushLock, so writing goes on.
     */
    private void syncWritten() throws IOException {
        syncLock.lock();
        try {
            var target = written;
            // Read after `written`: a rotation switches `active` only after syncing the sealed
            // segment up to its end (under this lock), so any position in `target` past the sealed
            // segment's end lies in the segment read here.
            var segment = active;
            long previous = durablePosition;
            if (target.position() <= previous) {
                return;
            }
            if (failure != null) {
                // Never fdatasync again after a failed write or fdatasync: Linux reports a failed writeback once,
                // and a later fdatasync "succeeds" although the failed pages may be lost. Publishing a durable
                // position then would acknowledge records that are not on disk.
                throw failedException();
            }
            long started = System.nanoTime();
            try {
                segment.writer().sync();
            } catch (IOException | RuntimeException e) {
                throw fail(e); // under the lock: no other thread can sync and succeed in between
            }
            long nanos = System.nanoTime() - started;
            publishDurable(target, previous, nanos);
        } finally {
            syncLock.unlock();
        }
    }

    /** Publishes {@code target} as durable after a sync of {@code nanos}. Under syncLock. */
    private void publishDurable(Written target, long previous, long nanos) {
        long records = target.records() - syncedRecords;
        // Counters and listener first: whoever sees a durable acknowledgement also sees the sync that made it.
        statistics.syncs++;
        statistics.syncedRecords += records;
        statistics.syncNanosTotal += nanos;
        statistics.lastSyncNanos = nanos;
        statistics.maxSyncNanos = Math.max(statistics.maxSyncNanos, nanos);
        options.listener().onSync((int) Math.min(Integer.MAX_VALUE, records), target.position() - previous, nanos);
        lastSyncRecords = records;
        typicalSyncNanos = movingAverage(typicalSyncNanos, nanos);
        syncedRecords = target.records();
        durablePosition = target.position();
        if (acknowledgerParked) {
            LockSupport.unpark(acknowledger);
        }
    }

    /**
     * Completes durable appends on a thread of its own, so that waking many waiting threads (hundreds
     * of microseconds for dozens of them on a small machine) overlaps the next write and fdatasync
     * instead of delaying it.
     */
    private void runAcknowledger() {
        long acknowledged = -1;
        while (!stopAcknowledger) {
            long durable = durablePosition;
            if (durable != acknowledged) {
                long started = System.nanoTime();
                if (completeWaiters() > 0) {
                    typicalWakeNanos = movingAverage(typicalWakeNanos, System.nanoTime() - started);
                }
                acknowledged = durable;
                continue;
            }
            acknowledgerParked = true;
            if (durablePosition == acknowledged && !stopAcknowledger) {
                LockSupport.parkNanos(this, IDLE_PARK_NANOS);
            }
            acknowledgerParked = false;
        }
    }

    /** The moving average the typical* timings keep: each new {@code sample} weighs 1/8, the first counts whole. */
    private static long movingAverage(long average, long sample) {
        return average == 0 ? sample : average + (sample - average) / 8;
    }

    /** Completes the waiting appends that are durable now; returns how many. */
    private int completeWaiters() {
        long durable = durablePosition;
        int completed = 0;
        for (var it = waiters.iterator(); it.hasNext(); ) {
            var waiter = it.next();
            if (waiter.end <= durable) {
                it.remove();
                waiter.future.complete(waiter.result);
                completed++;
            }
        }
        return completed;
    }

    private void failWaiters(RuntimeException cause) {
        for (Waiter waiter; (waiter = waiters.poll()) != null; ) {
            waiter.future.completeExceptionally(cause);
        }
    }

    private WalFailedException fail(Throwable cause) {
        synchronized (this) {
            if (failure == null) {
                failure = new WalFailedException("the WAL in " + directory + " failed: " + cause
                        + ". It refuses every further write, because after a failed write or fdatasync it cannot "
                        + "know what reached the disk. Close it and open it again: opening recovers every record "
                        + "that was durable.", cause);
                log.error("{}", failure.getMessage(), cause);
                options.listener().onFailure(cause);
            }
        }
        failWaiters(failedException());
        return failedException();
    }

    // ---- segments ----------------------------------------------------------------------------

    /**
     * Seals the active segment and continues in a new one at {@code base}. Under flushLock, with
     * everything before {@code base} written. The sealed segment is synced in full before the next
     * one is used, and the switch happens under syncLock, so a sync never forces a segment that a
     * rotation is closing.
     */
    private void rotate(long base) throws IOException {
        var sealed = active;
        Segment next;
        syncLock.lock();
        try {
            syncWritten();
            next = activateSegment(base);
            segments.put(base, next);
            active = next;
        } finally {
            syncLock.unlock();
        }
        sealed.closeQuietly();
        schedulePreallocation();
        log.debug("WAL {}: sealed {} and started {}", directory, sealed.path().getFileName(),
                next.path().getFileName());
    }

    /** Turns the spare pre-written file into the segment starting at {@code base}. Under flushLock. */
    private Segment activateSegment(long base) throws IOException {
        Path spare = takePreallocated();
        var target = directory.resolve(WalFileNames.segmentFileName(options.name(), base));
        var channel = io.open(spare, EnumSet.of(StandardOpenOption.READ, StandardOpenOption.WRITE));
        try {
            var header = WalFormat.encodeSegmentHeader(base, logId, options.segmentSize());
            while (header.hasRemaining()) {
                channel.write(header, header.position());
            }
            channel.force(false); // the header is durable before the file gets its segment name
            io.atomicMove(spare, target);
            io.syncDirectory(directory);
            var writer = segmentIo.writer(target, options.segmentSize(), channel);
            if (ring != null) { // null while the constructor makes the first segment: it tells that one itself
                writer.writesFrom(ring.buffer());
            }
            return new Segment(target, base, options.segmentSize(), writer);
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel);
            throw e;
        }
    }

    /**
     * The file for the next segment: the pre-written spare if it is ready. If the spare is still
     * being written (appends outpace the disk), a sparse file instead, so that appenders never wait
     * for zeros: fdatasyncs in that segment cost what appending to a growing file costs, and the
     * spare serves the rotation after. Only the very first segment waits for a spare.
     */
    private Path takePreallocated() throws IOException {
        var pending = preallocated;
        if (pending == null) {
            return preallocate();
        }
        if (!pending.isDone()) {
            return createSparse();
        }
        preallocated = null;
        try {
            return pending.get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the next WAL segment file", e);
        }
    }

    private Path createSparse() throws IOException {
        var sparse = WalRecovery.sparseFile(directory, options.name());
        try (var channel = io.open(sparse, EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE))) {
            channel.write(ByteBuffer.allocate(1), options.segmentSize() - 1); // sets the size, leaves a hole
        } catch (IOException e) {
            throw new IOException("cannot create the next WAL segment file " + sparse + ": " + e
                    + "; free disk space under " + directory, e);
        }
        return sparse;
    }

    private void schedulePreallocation() {
        if (preallocated == null && !preallocator.isShutdown()) {
            preallocated = preallocator.submit(this::preallocate);
        }
    }

    /** Writes a spare segment file full of zeros and syncs it. */
    private Path preallocate() throws IOException {
        var spare = WalRecovery.preallocatedFile(directory, options.name());
        try (var channel = io.open(spare, EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE))) {
            WalRecovery.zero(channel, 0, options.segmentSize());
            channel.force(false);
        } catch (IOException e) {
            throw new IOException("cannot pre-write the next WAL segment file " + spare + " ("
                    + options.segmentSize() + " bytes): " + e + "; free disk space under " + directory, e);
        }
        return spare;
    }

    // ---- for WalReader -----------------------------------------------------------------------

    ConcurrentSkipListMap<Long, Segment> segments() {
        return segments;
    }

    // ---- helpers -----------------------------------------------------------------------------

    private static void release(FileLock lock, FileChannel channel) {
        try {
            lock.release();
        } catch (IOException ignored) {
            // Closing the channel below releases the lock as well.
        }
        closeQuietly(channel);
    }

    /** The plain channel recovery opened a segment with. */
    private static FileChannel channelOf(Segment segment) {
        return ((FileChannelSegmentWriter) segment.writer()).channel();
    }

    private static void closeQuietly(WalRecovery.Recovered recovered) {
        if (recovered != null) {
            for (var segment : recovered.segments()) {
                segment.closeQuietly();
            }
        }
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // Nothing was written through it that is not already synced.
        }
    }

    /** Per-appender-thread state: a checksum and a private view of the write buffer. */
    private static final class AppendScratch {
        final CRC32C crc = new CRC32C();
        final ByteBuffer view;
        final Backoff backoff = new Backoff(100, 100, 50_000); // while the buffer is full

        AppendScratch(ByteBuffer view) {
            this.view = view;
        }
    }

    private record Waiter(long end, long result, CompletableFuture<Long> future) {
    }

    /** Everything before {@code position} is written to the files: {@code records} records since open. */
    private record Written(long position, long records) {
    }

    /** Counters, written by the flush-lock holder and read by anyone. */
    private final class Statistics implements WalStatistics {
        volatile long appends;
        volatile long appendedBytes;
        volatile long syncs;
        volatile long syncedRecords;
        volatile long syncNanosTotal;
        volatile long lastSyncNanos;
        volatile long maxSyncNanos;
        volatile long tornTailRepairs;
        volatile long truncatedBytes;
        final LongAdder segmentsDeleted = new LongAdder();
        final LongAdder bufferFullWaits = new LongAdder();

        @Override
        public long appends() {
            return appends;
        }

        @Override
        public long appendedBytes() {
            return appendedBytes;
        }

        @Override
        public long syncs() {
            return syncs;
        }

        @Override
        public long syncedRecords() {
            return syncedRecords;
        }

        @Override
        public long syncNanosTotal() {
            return syncNanosTotal;
        }

        @Override
        public long lastSyncNanos() {
            return lastSyncNanos;
        }

        @Override
        public long maxSyncNanos() {
            return maxSyncNanos;
        }

        @Override
        public long unsyncedBytes() {
            return Math.max(0, ring.reservedEnd() - durablePosition);
        }

        @Override
        public long tornTailRepairs() {
            return tornTailRepairs;
        }

        @Override
        public long truncatedBytes() {
            return truncatedBytes;
        }

        @Override
        public long segmentsDeleted() {
            return segmentsDeleted.sum();
        }

        @Override
        public long bufferFullWaits() {
            return bufferFullWaits.sum();
        }
    }
}

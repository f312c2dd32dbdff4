package io.laminar.storage.iouring;

import io.laminar.storage.io.FileIO;
import io.laminar.storage.wal.SegmentWriter;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes one WAL segment through io_uring, on the calling thread (no thread of its own):
 * <ul>
 *   <li>{@link #writeAndSync} (the log's group commit and its every-append syncs): the batch's writes
 *       ({@code IORING_OP_WRITE}, or {@code IORING_OP_WRITE_FIXED} from the write buffer where it is
 *       registered, see {@link #writesFrom})
 *       and an {@code IORING_OP_FSYNC} with {@code IORING_FSYNC_DATASYNC}, linked in that order with
 *       {@code IOSQE_IO_LINK}, submitted and reaped with one {@code io_uring_enter}. The kernel starts
 *       the fdatasync only after every write completed in full.</li>
 *   <li>{@link #write} and {@link #sync} alone (writes that free buffer space between syncs, the
 *       sync of a sealed segment): one entry, one {@code io_uring_enter} each.</li>
 * </ul>
 *
 * <p>Failures, none retried (the log fails stop on the exception): a write completion with an error
 * ({@code res} &lt; 0) is thrown naming the segment, the offset and the errno, whatever the linked
 * entries after it say (the kernel cancels them, {@code -ECANCELED}); an fdatasync completion with an
 * error, or cancelled although every write completed in full, is thrown likewise. A short write
 * (fewer bytes than asked, which a regular file gives only at a disk-full edge) severs the link: the
 * kernel cancels the fdatasync, and this writer writes the rest with single entries, then syncs with
 * one (the next write then reports the error, as {@code FileChannel} would). A write that makes no
 * progress at all is an error.
 *
 * <p>Writes and syncs have a ring each, because the log lets a sync run on one thread while another
 * writes, and a completion must reach the thread that waits for it. A linked batch runs on the sync
 * ring with both locks held. A sync covers every write whose completion arrived before it was
 * submitted, which is what {@link SegmentWriter#sync} promises.
 *
 * <p>The file is opened a second time with {@code openat(O_WRONLY | O_CLOEXEC)} for its descriptor;
 * the channel the log opened through its {@link FileIO} stays open for the log's
 * {@link FileIO#writeThroughDescriptor}, {@link FileIO#syncThroughDescriptor} and
 * {@link FileIO#writeAndSyncThroughDescriptor} calls, which let the tests' fault and power-loss layers
 * see, fail and record every write and sync.
 *
 * <p>Thread-safety as {@link SegmentWriter} says: one writer thread and one syncing thread at a time;
 * {@link #writeAndSync} is called with both of the log's locks held.
 */
final class IoUringSegmentWriter implements SegmentWriter {

    private static final Logger log = LoggerFactory.getLogger(IoUringSegmentWriter.class);
    private static final int O_WRONLY = 1;
    private static final int O_CLOEXEC = 0x80000;
    private static final long AT_FDCWD = -100;
    private static final long SYS_OPENAT = System.getProperty("os.arch").equals("aarch64") ? 56 : 257;
    private static final long SYS_CLOSE = System.getProperty("os.arch").equals("aarch64") ? 57 : 3;
    /** The most bytes one write entry carries (the kernel caps a write at about 2 GiB anyway). */
    private static final int MAX_WRITE = 1 << 30;
    /** Entries of each ring: a linked batch is at most {@link #MAX_LINKED_WRITES} writes and a sync. */
    private static final int RING_ENTRIES = 8;
    private static final int MAX_LINKED_WRITES = RING_ENTRIES - 1;

    private final Path path;
    private final FileChannel channel;
    private final FileIO io;
    private final IoUringProvider.Tuning tuning;
    private final int fd;
    private final IoUring writes;
    private final IoUring syncs;
    private final ReentrantLock writeLock = new ReentrantLock();
    private final ReentrantLock syncLock = new ReentrantLock();
    /** Staging for heap buffers: io_uring needs an address that stays put. Under writeLock. */
    private ByteBuffer staging = ByteBuffer.allocateDirect(0);
    /** The lengths and offsets of the writes of the linked batch being submitted. Under both locks. */
    private final int[] linkedLengths = new int[MAX_LINKED_WRITES];
    private final long[] linkedAddresses = new long[MAX_LINKED_WRITES];
    private volatile boolean closed;

    IoUringSegmentWriter(Path path, FileChannel channel, FileIO io, IoUringProvider.Tuning tuning) throws IOException {
        this.path = path;
        this.channel = channel;
        this.io = io;
        this.tuning = tuning;
        try (var arena = Arena.ofConfined()) {
            long r = IoUring.syscall(SYS_OPENAT, AT_FDCWD, arena.allocateFrom(path.toString()).address(),
                    O_WRONLY | O_CLOEXEC, 0, 0, 0);
            if (r < 0) {
                throw new IOException("cannot open the WAL segment " + path + " for io_uring writes: "
                        + Errno.describe((int) -r));
            }
            this.fd = (int) r;
        }
        IoUring w = null;
        try {
            w = new IoUring(RING_ENTRIES);
            this.writes = w;
            this.syncs = new IoUring(RING_ENTRIES);
        } catch (IOException | RuntimeException e) {
            if (w != null) {
                w.close();
            }
            IoUring.syscall(SYS_CLOSE, fd, 0, 0, 0, 0, 0);
            throw e;
        }
    }

    /**
     * Registers the log's write buffer with the ring of linked batches, so that their writes go out as
     * {@code IORING_OP_WRITE_FIXED}, where {@link IoUringProvider.Tuning#fixedBuffers()} is on (it is
     * off by default: no gain measured for writes into the page cache). If the
     * kernel refuses (the locked-memory limit, {@code ulimit -l}, is below the buffer's size on kernels
     * that count pinned pages), the writes stay plain {@code IORING_OP_WRITE}: said once at DEBUG.
     */
    @Override
    public void writesFrom(ByteBuffer buffer) {
        if (!tuning.fixedBuffers() || !buffer.isDirect()) {
            return;
        }
        writeLock.lock();
        syncLock.lock();
        try {
            if (!closed) {
                syncs.registerBuffer(MemorySegment.ofBuffer(buffer.duplicate().clear()));
            }
        } catch (IOException e) {
            log.debug("io_uring: the WAL write buffer of {} bytes is not registered for {} ({}); its writes are plain "
                    + "IORING_OP_WRITE", buffer.capacity(), path, e.getMessage());
        } finally {
            syncLock.unlock();
            writeLock.unlock();
        }
    }

    @Override
    public void write(ByteBuffer frames, long fileOffset) throws IOException {
        writeLock.lock();
        try {
            ensureOpen();
            ByteBuffer source = frames;
            if (!frames.isDirect()) {
                if (staging.capacity() < frames.remaining()) {
                    staging = ByteBuffer.allocateDirect(Math.max(frames.remaining(), 64 * 1024));
                }
                staging.clear();
                staging.put(frames.duplicate()).flip();
                source = staging;
            }
            writeAll(writes, source, fileOffset);
            frames.position(frames.limit());
        } finally {
            writeLock.unlock();
        }
    }

    /** Writes every remaining byte of {@code data} (direct) at {@code fileOffset} with single entries of {@code ring}. */
    private void writeAll(IoUring ring, ByteBuffer data, long fileOffset) throws IOException {
        var rest = data.duplicate();
        long at = fileOffset;
        while (rest.hasRemaining()) {
            var chunk = rest.slice(rest.position(), Math.min(rest.remaining(), MAX_WRITE));
            long offset = at;
            io.writeThroughDescriptor(channel, chunk.asReadOnlyBuffer(), offset, () -> writeFully(ring, chunk, offset));
            rest.position(rest.position() + chunk.remaining());
            at += chunk.remaining();
        }
    }

    /** Writes every byte of {@code chunk} at {@code offset}, continuing after short writes. */
    private void writeFully(IoUring ring, ByteBuffer chunk, long offset) throws IOException {
        long address = MemorySegment.ofBuffer(chunk).address();
        int length = chunk.remaining();
        int done = 0;
        while (done < length) {
            ring.prepare(0, IoUring.IORING_OP_WRITE, (byte) 0, fd, offset + done, address + done, length - done, 0);
            ring.submitAndWait(1);
            done += checkWrite(ring.result(0), length - done, offset + done);
        }
    }

    /** The bytes a write completion says it wrote, at least 1; throws for an error or no progress. */
    private int checkWrite(int res, int asked, long offset) throws IOException {
        if (res < 0) {
            throw new IOException("io_uring write of " + asked + " bytes at file offset " + offset
                    + " of the WAL segment " + path + " failed: " + Errno.describe(-res));
        }
        if (res == 0) {
            throw new IOException("io_uring write of " + asked + " bytes at file offset " + offset
                    + " of the WAL segment " + path + " wrote nothing");
        }
        return res;
    }

    @Override
    public void sync() throws IOException {
        syncLock.lock();
        try {
            ensureOpen();
            io.syncThroughDescriptor(channel, () -> fdatasync(syncs));
        } finally {
            syncLock.unlock();
        }
    }

    private void fdatasync(IoUring ring) throws IOException {
        ring.prepare(0, IoUring.IORING_OP_FSYNC, (byte) 0, fd, 0, 0, 0, IoUring.IORING_FSYNC_DATASYNC);
        ring.submitAndWait(1);
        int res = ring.result(0);
        if (res < 0) {
            throw new IOException("io_uring fdatasync of the WAL segment " + path + " failed: " + Errno.describe(-res));
        }
    }

    /**
     * The writes of {@code frames} (consecutive in the file from {@code fileOffset}) and an fdatasync,
     * linked and submitted together: one {@code io_uring_enter}. See the class javadoc for failures and
     * short writes. Buffers on the heap, more buffers than a ring holds, or one of 1 GiB or more go
     * the long way: {@link #write} each, then {@link #sync}.
     */
    @Override
    public void writeAndSync(ByteBuffer[] frames, long fileOffset) throws IOException {
        if (!tuning.linked() || !linkable(frames)) {
            SegmentWriter.super.writeAndSync(frames, fileOffset);
            return;
        }
        writeLock.lock();
        syncLock.lock();
        try {
            ensureOpen();
            var seen = new ByteBuffer[frames.length];
            for (int i = 0; i < frames.length; i++) {
                seen[i] = frames[i].asReadOnlyBuffer();
            }
            io.writeAndSyncThroughDescriptor(channel, seen, fileOffset, () -> linkedWriteAndSync(frames, fileOffset));
            for (var buffer : frames) {
                buffer.position(buffer.limit());
            }
        } finally {
            syncLock.unlock();
            writeLock.unlock();
        }
    }

    private static boolean linkable(ByteBuffer[] frames) {
        if (frames.length > MAX_LINKED_WRITES) {
            return false;
        }
        for (var buffer : frames) {
            if (!buffer.isDirect() || buffer.remaining() >= MAX_WRITE) {
                return false;
            }
        }
        return true;
    }

    private void linkedWriteAndSync(ByteBuffer[] frames, long fileOffset) throws IOException {
        int count = 0;
        long at = fileOffset;
        for (var buffer : frames) {
            if (!buffer.hasRemaining()) {
                continue;
            }
            linkedAddresses[count] = MemorySegment.ofBuffer(buffer).address();
            linkedLengths[count] = buffer.remaining();
            syncs.prepare(count, IoUring.IORING_OP_WRITE, IoUring.IOSQE_IO_LINK, fd, at, linkedAddresses[count],
                    linkedLengths[count], 0);
            at += linkedLengths[count];
            count++;
        }
        syncs.prepare(count, IoUring.IORING_OP_FSYNC, (byte) 0, fd, 0, 0, 0, IoUring.IORING_FSYNC_DATASYNC);
        syncs.submitAndWait(count + 1);
        at = fileOffset;
        for (int i = 0; i < count; i++) {
            int res = syncs.result(i);
            if (res == -IoUring.ECANCELED) {
                throw new IOException("io_uring write of " + linkedLengths[i] + " bytes at file offset " + at
                        + " of the WAL segment " + path + " was cancelled (" + Errno.describe(IoUring.ECANCELED)
                        + ") although the writes linked before it completed");
            }
            int written = checkWrite(res, linkedLengths[i], at);
            if (written < linkedLengths[i]) {
                // A short write severed the link: the kernel cancelled what followed. Finish on this thread.
                finishAfterShortWrite(i, written, at, count);
                return;
            }
            at += written;
        }
        int res = syncs.result(count);
        if (res == -IoUring.ECANCELED) {
            throw new IOException("io_uring fdatasync of the WAL segment " + path + " linked to the writes up to file "
                    + "offset " + at + " was cancelled (" + Errno.describe(IoUring.ECANCELED)
                    + ") although every write completed in full");
        }
        if (res < 0) {
            throw new IOException("io_uring fdatasync of the WAL segment " + path + " (linked to the writes up to file "
                    + "offset " + at + ") failed: " + Errno.describe(-res));
        }
    }

    /**
     * Write {@code index} of a linked batch wrote {@code written} of its bytes at {@code at}, so the
     * kernel cancelled the rest of the chain: writes the rest of it and of every later write, then
     * fdatasyncs, with single entries.
     */
    private void finishAfterShortWrite(int index, int written, long at, int count) throws IOException {
        for (int i = index; i < count; i++) {
            int skip = i == index ? written : 0;
            long address = linkedAddresses[i] + skip;
            int length = linkedLengths[i] - skip;
            long offset = at + skip;
            int done = 0;
            while (done < length) {
                syncs.prepare(0, IoUring.IORING_OP_WRITE, (byte) 0, fd, offset + done, address + done, length - done, 0);
                syncs.submitAndWait(1);
                done += checkWrite(syncs.result(0), length - done, offset + done);
            }
            at += linkedLengths[i];
        }
        fdatasync(syncs);
    }

    private void ensureOpen() throws IOException {
        if (closed) {
            throw new java.nio.channels.ClosedChannelException();
        }
    }

    @Override
    public void close() throws IOException {
        writeLock.lock();
        syncLock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            writes.close();
            syncs.close();
            long r = IoUring.syscall(SYS_CLOSE, fd, 0, 0, 0, 0, 0);
            channel.close();
            if (r < 0) {
                throw new IOException("closing the io_uring descriptor of the WAL segment " + path + " failed: "
                        + Errno.describe((int) -r));
            }
        } finally {
            syncLock.unlock();
            writeLock.unlock();
        }
    }
}

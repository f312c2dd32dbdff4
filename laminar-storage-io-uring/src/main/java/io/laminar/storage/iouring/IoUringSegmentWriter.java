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

/**
 * Writes one WAL segment through io_uring: each {@link #write} is an {@code IORING_OP_WRITE} into the
 * page cache, each {@link #sync} an {@code IORING_OP_FSYNC} with {@code IORING_FSYNC_DATASYNC}, each
 * submitted and reaped with one {@code io_uring_enter} on the calling thread (no thread of its own).
 * Under group commit the log writes a batch and then syncs it once, so one fdatasync covers the batch.
 *
 * <p>Writes and syncs have a ring each, because the log lets a sync run on one thread while another
 * writes, and a completion must reach the thread that waits for it. A sync covers every write whose
 * completion arrived before it was submitted, which is what {@link SegmentWriter#sync} promises.
 *
 * <p>Any completion with an error (a negative {@code res}) is thrown as an {@link IOException} naming
 * the segment, offset and errno, and the log fails stop on it; nothing is retried. A short write
 * (fewer bytes than asked, which a regular file gives only at a disk-full edge) is continued with the
 * rest, as {@code FileChannel} does; the next write then reports the error.
 *
 * <p>The file is opened a second time with {@code openat(O_WRONLY | O_CLOEXEC)} for its descriptor;
 * the channel the log opened through its {@link FileIO} stays open for the log's
 * {@link FileIO#writeThroughDescriptor} and {@link FileIO#syncThroughDescriptor} calls, which let
 * the tests' fault and power-loss layers see, fail and record every write and sync.
 *
 * <p>Thread-safety as {@link SegmentWriter} says: one writer thread and one syncing thread at a time.
 */
final class IoUringSegmentWriter implements SegmentWriter {

    private static final int O_WRONLY = 1;
    private static final int O_CLOEXEC = 0x80000;
    private static final long AT_FDCWD = -100;
    private static final long SYS_OPENAT = System.getProperty("os.arch").equals("aarch64") ? 56 : 257;
    private static final long SYS_CLOSE = System.getProperty("os.arch").equals("aarch64") ? 57 : 3;
    /** The most bytes one write entry carries (the kernel caps a write at about 2 GiB anyway). */
    private static final int MAX_WRITE = 1 << 30;

    private final Path path;
    private final FileChannel channel;
    private final FileIO io;
    private final int fd;
    private final IoUring writes;
    private final IoUring syncs;
    private final ReentrantLock writeLock = new ReentrantLock();
    private final ReentrantLock syncLock = new ReentrantLock();
    /** Staging for heap buffers: io_uring needs an address that stays put. Under writeLock. */
    private ByteBuffer staging = ByteBuffer.allocateDirect(0);
    private volatile boolean closed;

    IoUringSegmentWriter(Path path, FileChannel channel, FileIO io) throws IOException {
        this.path = path;
        this.channel = channel;
        this.io = io;
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
            w = new IoUring(4);
            this.writes = w;
            this.syncs = new IoUring(4);
        } catch (IOException | RuntimeException e) {
            if (w != null) {
                w.close();
            }
            IoUring.syscall(SYS_CLOSE, fd, 0, 0, 0, 0, 0);
            throw e;
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
            var data = source.duplicate();
            long at = fileOffset;
            while (data.hasRemaining()) {
                var chunk = data.slice(data.position(), Math.min(data.remaining(), MAX_WRITE));
                long offset = at;
                io.writeThroughDescriptor(channel, chunk.asReadOnlyBuffer(), offset, () -> writeFully(chunk, offset));
                data.position(data.position() + chunk.remaining());
                at += chunk.remaining();
            }
            frames.position(frames.limit());
        } finally {
            writeLock.unlock();
        }
    }

    /** Writes every byte of {@code chunk} at {@code offset}, continuing after short writes. */
    private void writeFully(ByteBuffer chunk, long offset) throws IOException {
        long address = MemorySegment.ofBuffer(chunk).address();
        int length = chunk.remaining();
        int done = 0;
        while (done < length) {
            writes.prepare(0, IoUring.IORING_OP_WRITE, (byte) 0, fd, offset + done, address + done, length - done,
                    0, 1);
            int res = writes.submitAndWait(1)[0].res();
            if (res < 0) {
                throw new IOException("io_uring write of " + (length - done) + " bytes at file offset " + (offset + done)
                        + " of the WAL segment " + path + " failed: " + Errno.describe(-res));
            }
            if (res == 0) {
                throw new IOException("io_uring write of " + (length - done) + " bytes at file offset " + (offset + done)
                        + " of the WAL segment " + path + " wrote nothing");
            }
            done += res;
        }
    }

    @Override
    public void sync() throws IOException {
        syncLock.lock();
        try {
            ensureOpen();
            io.syncThroughDescriptor(channel, () -> {
                syncs.prepare(0, IoUring.IORING_OP_FSYNC, (byte) 0, fd, 0, 0, 0, IoUring.IORING_FSYNC_DATASYNC, 2);
                int res = syncs.submitAndWait(1)[0].res();
                if (res < 0) {
                    throw new IOException("io_uring fdatasync of the WAL segment " + path + " failed: "
                            + Errno.describe(-res));
                }
            });
        } finally {
            syncLock.unlock();
        }
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

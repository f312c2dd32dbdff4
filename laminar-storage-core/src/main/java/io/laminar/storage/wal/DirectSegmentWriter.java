package io.laminar.storage.wal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * {@link WalIoBackend#DIRECT}: writes a segment with O_DIRECT, so the frames go from a block-aligned
 * staging buffer to the disk without a page-cache copy, then fdatasyncs ({@code force(false)}).
 *
 * <p>O_DIRECT needs every write aligned to the file system's block size in file offset, length and
 * buffer address. Frames are 8-byte aligned and follow each other, so a write usually starts and
 * ends inside a block. This writer keeps the last, partly filled block of what it wrote in memory and
 * writes it again, whole, in front of the next frames; the rest of the last block is zeros, which is
 * what the segment file holds there anyway (segments are pre-written with zeros, and recovery zeroes
 * everything after the last valid record). Writing a block again with the same leading bytes cannot
 * damage them: a sector of it holds either the old or the new content after a power cut, and both
 * have the same bytes where the earlier records are. This is also what buffered writes do to a page.
 *
 * <p>fdatasync rather than O_DSYNC: with group commit, several writes go out between two syncs (the
 * syncer's, and those of appenders freeing a full buffer), and with O_DSYNC each of them would wait
 * for the disk; measured on this project's machines, a single writer's O_DSYNC write is no faster
 * than write plus fdatasync (both about 8,000 per second for 4 KiB).
 *
 * <p>The segment's capacity must be a multiple of the block size: the last block is then never
 * written past the end of the file, and the file never grows. Thread-safety as {@link SegmentWriter}
 * says: {@link #write} by one thread at a time; {@link #sync} may run beside it.
 */
final class DirectSegmentWriter implements SegmentWriter {

    /** The staging buffer: large enough for a group commit's worth of frames in one write. */
    static final int STAGING_SIZE = 1 << 20;

    private final Path path;
    private final FileChannel channel;
    private final int blockSize;
    private final long capacity;
    private final ByteBuffer staging;
    /** The file offset of staging[0], always block-aligned; -1 while nothing is staged. */
    private long stagedOffset = -1;
    /** How many bytes at the front of staging hold the file's content from stagedOffset on. */
    private int stagedLength;

    DirectSegmentWriter(Path path, FileChannel channel, int blockSize, long capacity) {
        if (capacity % blockSize != 0) {
            throw new IllegalArgumentException("the segment " + path + " of " + capacity
                    + " bytes cannot be written with O_DIRECT: its size is not a multiple of the block size "
                    + blockSize);
        }
        this.path = path;
        this.channel = channel;
        this.blockSize = blockSize;
        this.capacity = capacity;
        int size = Math.max(2 * blockSize, STAGING_SIZE / blockSize * blockSize);
        this.staging = ByteBuffer.allocateDirect(size + blockSize).alignedSlice(blockSize);
    }

    @Override
    public void write(ByteBuffer frames, long fileOffset) throws IOException {
        while (frames.hasRemaining()) {
            long block = fileOffset & -blockSize;
            int lead = (int) (fileOffset - block);
            if (block != stagedOffset || lead > stagedLength) {
                readBlock(block); // the first write, or not where the last one ended
            }
            staging.clear(); // absolute puts below check against the limit
            int count = Math.min(frames.remaining(), staging.capacity() - lead);
            staging.put(lead, frames, frames.position(), count);
            frames.position(frames.position() + count);
            int end = lead + count;
            int alignedEnd = (end + blockSize - 1) & -blockSize;
            if (block + alignedEnd > capacity) {
                throw new IOException("cannot write " + count + " bytes at file offset " + fileOffset
                        + " of the WAL segment " + path + ": that runs past its size of " + capacity + " bytes");
            }
            fill(end, alignedEnd);
            writeFully(alignedEnd, block);
            fileOffset += count;
            keepTail(end);
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

    /** Loads the block at {@code block} from the file as the staged content (zeros past the end of the file). */
    private void readBlock(long block) throws IOException {
        staging.clear().limit(blockSize);
        while (staging.hasRemaining()) {
            if (channel.read(staging, block + staging.position()) < 0) {
                break;
            }
        }
        int read = staging.position();
        staging.clear();
        fill(read, blockSize);
        stagedOffset = block;
        stagedLength = blockSize;
    }

    private void fill(int from, int to) {
        for (int i = from; i < to; i++) {
            staging.put(i, (byte) 0);
        }
    }

    private void writeFully(int length, long block) throws IOException {
        staging.clear().limit(length);
        while (staging.hasRemaining()) {
            channel.write(staging, block + staging.position());
        }
    }

    /** Moves the partly filled last block of the staged bytes [0, end) to the front of the staging buffer. */
    private void keepTail(int end) {
        int tailStart = end & -blockSize;
        int tail = end - tailStart;
        staging.clear();
        if (tailStart > 0) {
            staging.put(0, staging, tailStart, tail);
        }
        stagedOffset += tailStart;
        stagedLength = tail;
    }
}

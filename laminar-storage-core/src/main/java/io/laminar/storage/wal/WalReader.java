package io.laminar.storage.wal;

import io.laminar.storage.StorageException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.util.EnumSet;
import java.util.zip.CRC32C;

/**
 * Reads the records of a {@link WriteAheadLog} in position order, from a given position, while
 * other threads may keep appending.
 *
 * <p>It reads only what the syncer has fully written (below {@link WriteAheadLog#writtenPosition()})
 * and verifies every frame's position and CRC32C, so it never returns a partial record or bytes that
 * fail their checksum: a bad frame throws {@link WalCorruptionException} naming the file and
 * offset. {@link #next()} returns {@code null} when it has caught up; call it again later for records
 * appended since.
 *
 * <p>Not thread-safe: one reader belongs to one thread. Close it to release its file handle.
 */
public final class WalReader implements AutoCloseable {

    private static final int MIN_BUFFER = 1 << 20;

    private final WriteAheadLog log;
    private final CRC32C crc = new CRC32C();
    private ByteBuffer buffer = ByteBuffer.allocateDirect(MIN_BUFFER).order(ByteOrder.LITTLE_ENDIAN);
    private long bufferPosition; // log position of buffer index 0
    private Segment segment;
    private FileChannel channel;
    private long position;
    private boolean first = true;

    WalReader(WriteAheadLog log, long fromPosition) {
        this.log = log;
        this.position = fromPosition;
        buffer.limit(0);
        long start = log.startPosition();
        long written = log.writtenPosition();
        if (fromPosition < start) {
            throw new IllegalArgumentException("position " + fromPosition + " of the WAL in " + log.directory()
                    + " was truncated away; the oldest position still in the log is " + start);
        }
        if (fromPosition > written || fromPosition % WalFormat.ALIGNMENT != 0) {
            throw new IllegalArgumentException("no record of the WAL in " + log.directory() + " starts at position "
                    + fromPosition + " (the log holds positions " + start + " to " + written + ")");
        }
    }

    /** The position of the next record this reader will return. */
    public long position() {
        return position;
    }

    /**
     * The next record, or {@code null} if the reader has caught up with what is written. The
     * record's payload is valid until the next call.
     *
     * @throws WalCorruptionException if a frame fails its checks
     */
    public WalRecord next() {
        long written = log.writtenPosition();
        if (position >= written) {
            return null;
        }
        try {
            openSegmentFor(position);
            long segmentEnd = segmentEnd(written);
            int at = ensure(position, WalFormat.FRAME_HEADER_LENGTH, segmentEnd);
            int length = at < 0 ? -1 : buffer.getInt(at);
            if (at < 0 || length < WalFormat.FRAME_HEADER_LENGTH || position + WalFormat.align(length) > segmentEnd) {
                throw badFrame("frame length " + length + " does not fit between position " + position
                        + " and the end of the written data at " + segmentEnd, segmentEnd);
            }
            at = ensure(position, length, segmentEnd);
            if (at < 0) {
                throw badFrame("the file ends inside the frame of " + length + " bytes", segmentEnd);
            }
            long stored = buffer.getLong(at + WalFormat.OFFSET_POSITION);
            if (stored != position) {
                throw badFrame("the frame says position " + stored + " but its place in the file is position "
                        + position, segmentEnd);
            }
            int storedCrc = buffer.getInt(at + WalFormat.OFFSET_CRC);
            int computedCrc = WalFormat.frameCrc(crc, buffer, at, length);
            if (storedCrc != computedCrc) {
                throw badFrame(String.format("stored CRC32C 0x%08x does not match the computed 0x%08x",
                        storedCrc, computedCrc), segmentEnd);
            }
            first = false;
            var payload = buffer.duplicate().limit(at + length).position(at + WalFormat.FRAME_HEADER_LENGTH)
                    .slice().asReadOnlyBuffer();
            long recordPosition = position;
            position += WalFormat.align(length);
            return new WalRecord(recordPosition, position, payload);
        } catch (IOException e) {
            throw new StorageException("cannot read the WAL segment " + segment + " at position " + position + ": "
                    + e, e);
        }
    }

    /**
     * The exception for a frame at {@link #position} that fails a check. On the first frame a reader
     * reads, that frame's position came from the caller and may be the inside of a record rather than
     * a damaged record: the frame headers from the segment's base tell the two apart. (Before, the
     * first frame's failures were told apart by which check failed: a position inside a record
     * mostly came back as corruption, and a damaged position field of a real record as a bad
     * argument.)
     */
    private RuntimeException badFrame(String problem, long segmentEnd) throws IOException {
        if (!first) {
            return corrupt(problem);
        }
        long at = segment.basePosition();
        while (at < position) {
            int index = ensure(at, WalFormat.FRAME_HEADER_LENGTH, segmentEnd);
            int length = index < 0 ? -1 : buffer.getInt(index);
            if (index < 0 || length < WalFormat.FRAME_HEADER_LENGTH || at + WalFormat.align(length) > segmentEnd
                    || buffer.getLong(index + WalFormat.OFFSET_POSITION) != at) {
                return corrupt(at, "cannot tell whether a record starts at position " + position
                        + ", because the frame header at position " + at + " before it is damaged");
            }
            at += WalFormat.align(length);
        }
        if (at != position) {
            return new IllegalArgumentException("no record of the WAL in " + log.directory() + " starts at position "
                    + position + ": it lies inside the record that starts before it (the next record starts at "
                    + at + ")");
        }
        return corrupt(problem);
    }

    private WalCorruptionException corrupt(String problem) {
        return corrupt(position, problem);
    }

    private WalCorruptionException corrupt(long at, String problem) {
        long offset = segment.fileOffset(at);
        return new WalCorruptionException("WAL segment " + segment.path() + " is corrupt at file offset " + offset
                + " (log position " + at + "): " + problem + ". The log refuses to return damaged bytes; "
                + "close it and open it again to have it checked and repaired", segment.path(), offset);
    }

    private void openSegmentFor(long at) throws IOException {
        var entry = log.segments().floorEntry(at);
        if (entry == null) {
            throw new IllegalArgumentException("position " + at + " of the WAL in " + log.directory()
                    + " was truncated away; the oldest position still in the log is " + log.startPosition());
        }
        if (segment == entry.getValue()) {
            return;
        }
        closeChannel();
        segment = entry.getValue();
        buffer.limit(0);
        try {
            channel = log.options().fileIO().open(segment.path(), EnumSet.of(StandardOpenOption.READ));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("position " + at + " of the WAL in " + log.directory()
                    + " was truncated away while this reader was reading", e);
        }
    }

    private long segmentEnd(long written) {
        Long nextBase = log.segments().higherKey(segment.basePosition());
        return nextBase == null ? written : Math.min(nextBase, written);
    }

    /**
     * Makes {@code length} bytes from log position {@code at} available in the buffer and returns
     * their index, or -1 if the segment ends first.
     */
    private int ensure(long at, int length, long segmentEnd) throws IOException {
        long end = at + length;
        if (at >= bufferPosition && end <= bufferPosition + buffer.limit()) {
            return (int) (at - bufferPosition);
        }
        if (end > segmentEnd) {
            return -1;
        }
        if (length > buffer.capacity()) {
            buffer = ByteBuffer.allocateDirect(Integer.highestOneBit(length - 1) << 1).order(ByteOrder.LITTLE_ENDIAN);
        }
        buffer.clear();
        buffer.limit((int) Math.min(buffer.capacity(), segmentEnd - at));
        long fileOffset = segment.fileOffset(at);
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, fileOffset + buffer.position());
            if (n < 0) {
                break;
            }
        }
        buffer.flip();
        bufferPosition = at;
        return buffer.limit() >= length ? 0 : -1;
    }

    private void closeChannel() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // read-only channel: nothing to lose
            }
            channel = null;
        }
    }

    @Override
    public void close() {
        closeChannel();
    }
}

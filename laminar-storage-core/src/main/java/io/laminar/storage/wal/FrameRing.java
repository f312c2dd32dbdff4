package io.laminar.storage.wal;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

/**
 * The write buffer between appenders and the syncer: a many-to-one ring of record frames, laid out
 * exactly as they will be on disk (see {@link WalFormat}).
 *
 * <p>Appenders reserve a frame's bytes with one compare-and-set on the tail position, copy and
 * checksum the frame without any lock, and commit it by storing its length last, with release
 * semantics. The single consumer (whoever holds the log's flush lock) reads committed lengths with
 * acquire semantics, writes runs of committed frames to the file, zeroes them and releases the space.
 * Because released space is zeroed, a zero length always means "not committed yet".
 *
 * <p>Ring index {@code i} holds log position {@code p} where {@code i = p mod capacity}; capacity is
 * a power of two, so every 8-byte-aligned header word lies in one piece and only payloads wrap.
 *
 * <p>Thread-safety: {@link #tryReserve}, {@link #putFrame} and the read-only accessors are safe from
 * any thread; {@link #committedLength}, {@link #writeTo} and {@link #release} are for the single
 * consumer.
 */
final class FrameRing {

    static final long FULL = -1;
    static final long CLOSED = -2;

    private static final VarHandle INT =
            MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long CLOSED_BIT = Long.MIN_VALUE;
    private static final byte[] ZEROS = new byte[64 * 1024];

    private final ByteBuffer buffer;
    private final ByteBuffer consumerView;
    private final int capacity;
    private final int mask;
    private final AtomicLong tail;
    private volatile long released;

    FrameRing(int capacity, long startPosition) {
        if (Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("ring capacity must be a power of two, but was " + capacity);
        }
        this.capacity = capacity;
        this.mask = capacity - 1;
        this.buffer = ByteBuffer.allocateDirect(capacity).order(ByteOrder.LITTLE_ENDIAN);
        this.consumerView = buffer.duplicate();
        this.tail = new AtomicLong(startPosition);
        this.released = startPosition;
    }

    int capacity() {
        return capacity;
    }

    /** A private view for one appending thread's checksum calls (views share the ring's memory). */
    ByteBuffer newView() {
        return buffer.duplicate();
    }

    /**
     * Reserves {@code paddedLength} bytes.
     *
     * @return the position of the reserved frame, {@link #FULL} if the ring has no room now, or
     *         {@link #CLOSED} after {@link #closeForAppends()}
     */
    long tryReserve(int paddedLength) {
        while (true) {
            long t = tail.get();
            if (t < 0) {
                return CLOSED;
            }
            if (t + paddedLength - released > capacity) {
                return FULL;
            }
            if (tail.compareAndSet(t, t + paddedLength)) {
                return t;
            }
        }
    }

    /** Refuses further reservations and returns the end of the last reserved frame. */
    long closeForAppends() {
        while (true) {
            long t = tail.get();
            if (t < 0) {
                return t & ~CLOSED_BIT;
            }
            if (tail.compareAndSet(t, t | CLOSED_BIT)) {
                return t;
            }
        }
    }

    /** The end of the last reserved frame (frames before it may not be committed yet). */
    long reservedEnd() {
        return tail.get() & ~CLOSED_BIT;
    }

    /** Everything before this position has been written out and its space released. */
    long released() {
        return released;
    }

    /** Frames the reserved bytes at {@code position}, checksums them and commits the frame. */
    void putFrame(long position, ByteBuffer payload, long durableMark, CRC32C crc, ByteBuffer view) {
        int payloadLength = payload.remaining();
        int frameLength = WalFormat.FRAME_HEADER_LENGTH + payloadLength;
        buffer.putLong(index(position + WalFormat.OFFSET_POSITION), position);
        buffer.putLong(index(position + WalFormat.OFFSET_DURABLE), durableMark);
        int payloadIndex = index(position + WalFormat.FRAME_HEADER_LENGTH);
        int first = Math.min(payloadLength, capacity - payloadIndex);
        buffer.put(payloadIndex, payload, payload.position(), first);
        if (first < payloadLength) {
            buffer.put(0, payload, payload.position() + first, payloadLength - first);
        }
        crc.reset();
        WalFormat.updateIntLittleEndian(crc, frameLength);
        updateCrc(crc, view, position + WalFormat.OFFSET_POSITION, frameLength - WalFormat.OFFSET_POSITION);
        buffer.putInt(index(position + WalFormat.OFFSET_CRC), (int) crc.getValue());
        INT.setRelease(buffer, index(position), frameLength);
    }

    private void updateCrc(CRC32C crc, ByteBuffer view, long from, int length) {
        int i = index(from);
        int first = Math.min(length, capacity - i);
        view.limit(i + first).position(i);
        crc.update(view);
        if (first < length) {
            view.limit(length - first).position(0);
            crc.update(view);
        }
    }

    /** The frame length committed at {@code position}, or 0 if that frame is not committed yet. */
    int committedLength(long position) {
        return (int) INT.getAcquire(buffer, index(position));
    }

    /** Writes the frames in [from, to) through {@code writer} at {@code fileOffset}. */
    void writeTo(SegmentWriter writer, long from, long to, long fileOffset) throws IOException {
        long remaining = to - from;
        while (remaining > 0) {
            int i = index(from);
            int chunk = (int) Math.min(remaining, capacity - i);
            consumerView.limit(i + chunk).position(i);
            writer.write(consumerView, fileOffset);
            fileOffset += chunk;
            from += chunk;
            remaining -= chunk;
        }
    }

    /**
     * As {@link #writeTo}, then an fdatasync: hands the frames in [from, to) (one buffer, or two where
     * they wrap around the ring's end) and the sync to {@link SegmentWriter#writeAndSync} together.
     */
    void writeAndSyncTo(SegmentWriter writer, long from, long to, long fileOffset) throws IOException {
        int i = index(from);
        long length = to - from;
        if (length > capacity) {
            throw new IllegalArgumentException("cannot write " + length + " bytes from a ring of " + capacity);
        }
        int first = (int) Math.min(length, capacity - i);
        var head = consumerView.duplicate().limit(i + first).position(i);
        if (first == length) {
            writer.writeAndSync(new ByteBuffer[] {head}, fileOffset);
        } else {
            var tail = consumerView.duplicate().limit((int) (length - first)).position(0);
            writer.writeAndSync(new ByteBuffer[] {head, tail}, fileOffset);
        }
    }

    /** The whole buffer behind the ring (direct): what a backend may register with the kernel. */
    ByteBuffer buffer() {
        return buffer.duplicate().clear();
    }

    /** Zeroes everything before {@code to} and gives the space back to appenders. */
    void release(long to) {
        long from = released;
        while (from < to) {
            int i = index(from);
            int chunk = (int) Math.min(Math.min(to - from, capacity - i), ZEROS.length);
            buffer.put(i, ZEROS, 0, chunk);
            from += chunk;
        }
        released = to;
    }

    private int index(long position) {
        return (int) (position & mask);
    }
}

package io.laminar.storage.wal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The log's record framing on its own, in memory, outside any log: what it costs per record to
 * frame a payload ({@link #put}: the code an append runs once it has reserved its bytes) and to
 * verify a frame ({@link #verify}: the check a reader and recovery make per record). It runs the
 * log's own code rather than a copy, so a measurement of it is a measurement of the log's framing
 * (the benchmarks' {@code FramingBenchmark}); a log never needs it. The frame layout is the one in
 * the package's format documentation ({@code WalFormat}).
 *
 * <p>Not thread-safe: one thread per instance.
 */
public final class WalFraming {

    private static final VarHandle INT =
            MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private final FrameRing ring;
    private final ByteBuffer view;
    private final CRC32C crc = new CRC32C();
    private long position;

    /**
     * A framing ring of {@code capacity} bytes that nothing drains: frames go round it, each
     * overwriting what was there.
     *
     * @throws IllegalArgumentException if {@code capacity} is not a power of two
     */
    public WalFraming(int capacity) {
        this.ring = new FrameRing(capacity, 0);
        this.view = ring.newView();
    }

    /** The bytes a record of {@code payloadLength} bytes takes in the log: header, payload, padding. */
    public static int frameLength(int payloadLength) {
        return (int) WalFormat.paddedFrameLength(payloadLength);
    }

    /**
     * Frames {@code payload} (its remaining bytes, which are not consumed) at the next position
     * of the ring, exactly as an append does: header, payload copy, CRC32C, length published last.
     *
     * @throws IllegalArgumentException if the frame is larger than the ring
     */
    public void put(ByteBuffer payload) {
        int length = frameLength(payload.remaining());
        if (length > ring.capacity()) {
            throw new IllegalArgumentException("a frame of " + length + " bytes does not fit in a ring of "
                    + ring.capacity());
        }
        ring.putFrame(position, payload, 0, crc, view);
        position += length;
    }

    /**
     * One record framed as it is on disk, at position 0: a direct little-endian buffer of
     * {@link #frameLength} bytes, for {@link #verify}.
     */
    public static ByteBuffer frame(ByteBuffer payload) {
        int length = frameLength(payload.remaining());
        var framing = new WalFraming(Integer.highestOneBit(length - 1) << 1);
        framing.put(payload);
        var frame = ByteBuffer.allocateDirect(length).order(ByteOrder.LITTLE_ENDIAN);
        frame.put(framing.view.limit(length).position(0)).clear();
        return frame;
    }

    /**
     * Whether the frame at index 0 of {@code frame} carries the CRC32C its bytes call for: the
     * check a reader and recovery make per record ({@code crc} is reset and reused, so a caller
     * checking many frames allocates nothing).
     */
    public static boolean verify(CRC32C crc, ByteBuffer frame) {
        int frameLength = (int) INT.get(frame, WalFormat.OFFSET_LENGTH);
        return frameLength >= WalFormat.FRAME_HEADER_LENGTH && frameLength <= frame.capacity()
                && WalFormat.frameCrc(crc, frame, 0, frameLength) == (int) INT.get(frame, WalFormat.OFFSET_CRC);
    }
}

package io.laminar.storage.wal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The on-disk format of the write-ahead log, version 1. All integers are little-endian.
 *
 * <h2>Segment file</h2>
 * A log is a sequence of segment files {@code <name>-<base position as 20 decimal digits>.wal} (the
 * names of a log's files are documented in {@link WalFileNames}). Each is created at its full
 * size, pre-written with zeros, and starts with a 64-byte header:
 * <pre>
 * offset size field
 *   0     8   magic, the ASCII bytes "LAMWAL01" read as a little-endian long
 *   8     4   format version (1)
 *  12     4   header length (64)
 *  16     8   base position: the position of the first record in this segment; equals the
 *             number in the file name and the end position of the previous segment
 *  24     8   log id: a random number shared by every segment of one log
 *  32     8   capacity: the size of the file in bytes, header included
 *  40    20   reserved, zero
 *  60     4   CRC32C of bytes 0..59
 * </pre>
 *
 * <h2>Record frame</h2>
 * Records follow the header back to back. The record at position {@code p} starts at file offset
 * {@code 64 + (p - base)}; positions are byte addresses in the log, so they only grow, survive
 * restarts and rotation, and address far beyond 4 GiB. Every frame starts at a multiple of 8:
 * <pre>
 * offset size field
 *   0     4   frame length: 24 + payload length. Never 0: a zero here means "no record"
 *   4     4   CRC32C of bytes 0..3, then bytes 8..(frame length - 1): the frame length, the
 *             position, the durable mark and the payload
 *   8     8   position of this record; must equal the position implied by the file offset
 *  16     8   durable mark: the position up to which the log was known to be fsynced when this
 *             record was framed (every byte before it had been covered by an fdatasync)
 *  24     n   payload
 *  24+n  0-7  zero padding to the next multiple of 8
 * </pre>
 * Because the checksum covers the position, a zero-filled region, a stale record left in a
 * recycled or repaired file, or a record copied from elsewhere never validates.
 *
 * <h2>Reading a frame</h2>
 * A frame is valid if its length is at least 24 and fits in the file, its position equals the
 * expected one and its CRC32C matches. Scanning a segment stops at the first frame that is not
 * valid; {@link WriteAheadLog#open} then decides, using the durable marks of any valid frames found
 * further on, whether the damage is a torn tail or corruption (see {@link WriteAheadLog}).
 *
 * <p>Stateless; thread-safe.
 */
final class WalFormat {

    static final long MAGIC = 0x3130_4C41_574D_414CL; // "LAMWAL01" little-endian
    static final int VERSION = 1;
    static final int SEGMENT_HEADER_LENGTH = 64;
    static final int FRAME_HEADER_LENGTH = 24;
    static final int ALIGNMENT = 8;

    static final int OFFSET_LENGTH = 0;
    static final int OFFSET_CRC = 4;
    static final int OFFSET_POSITION = 8;
    static final int OFFSET_DURABLE = 16;

    private WalFormat() {
    }

    static long align(long n) {
        return (n + ALIGNMENT - 1) & -ALIGNMENT;
    }

    static long paddedFrameLength(long payloadLength) {
        return align(FRAME_HEADER_LENGTH + payloadLength);
    }

    static ByteBuffer encodeSegmentHeader(long basePosition, long logId, long capacity) {
        var header = ByteBuffer.allocate(SEGMENT_HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        header.putLong(0, MAGIC).putInt(8, VERSION).putInt(12, SEGMENT_HEADER_LENGTH)
                .putLong(16, basePosition).putLong(24, logId).putLong(32, capacity);
        header.putInt(60, crc(header, 0, 60));
        return header;
    }

    /** A decoded segment header. */
    record SegmentHeader(long basePosition, long logId, long capacity) {
    }

    /**
     * Decodes a segment header.
     *
     * @return the header, or a description of what is wrong with it
     */
    static Object decodeSegmentHeader(ByteBuffer header) {
        if (header.remaining() < SEGMENT_HEADER_LENGTH) {
            return "the file is shorter (" + header.remaining() + " bytes) than a segment header ("
                    + SEGMENT_HEADER_LENGTH + " bytes)";
        }
        header.order(ByteOrder.LITTLE_ENDIAN);
        int start = header.position();
        long magic = header.getLong(start);
        if (magic != MAGIC) {
            return String.format("the magic number is 0x%016x, not 0x%016x: not a laminar WAL segment", magic, MAGIC);
        }
        int storedCrc = header.getInt(start + 60);
        int computedCrc = crc(header, start, 60);
        if (storedCrc != computedCrc) {
            return String.format("the header checksum does not match: stored CRC32C 0x%08x, computed 0x%08x",
                    storedCrc, computedCrc);
        }
        int version = header.getInt(start + 8);
        if (version != VERSION) {
            return "format version " + version + " is not supported by this library (it reads version " + VERSION
                    + "); open the log with the laminar-storage version that wrote it";
        }
        return new SegmentHeader(header.getLong(start + 16), header.getLong(start + 24), header.getLong(start + 32));
    }

    /** CRC32C of {@code length} bytes of {@code buffer} from absolute index {@code from}. */
    static int crc(ByteBuffer buffer, int from, int length) {
        var crc = new CRC32C();
        crc.update(buffer.duplicate().limit(from + length).position(from));
        return (int) crc.getValue();
    }

    /**
     * The CRC32C a frame must carry: over its length field, then bytes 8 to frameLength - 1.
     * {@code frame} holds the frame from absolute index {@code start}.
     */
    static int frameCrc(CRC32C crc, ByteBuffer frame, int start, int frameLength) {
        crc.reset();
        updateIntLittleEndian(crc, frameLength);
        var view = frame.duplicate();
        view.limit(start + frameLength).position(start + OFFSET_POSITION);
        crc.update(view);
        return (int) crc.getValue();
    }

    static void updateIntLittleEndian(CRC32C crc, int value) {
        crc.update(value);
        crc.update(value >>> 8);
        crc.update(value >>> 16);
        crc.update(value >>> 24);
    }
}

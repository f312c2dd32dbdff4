package io.laminar.storage.percore;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The entry header that a per-core log puts at the start of every WAL payload, version 1. The
 * frame around the payload (length, CRC32C, position, segments) is the WAL's own format, see
 * {@code io.laminar.storage.wal.WalFormat}; the CRC32C of the frame covers this header too.
 * All integers are little-endian:
 * <pre>
 * offset size field
 *   0     1   kind: 1 = data, 2 = epoch barrier ({@link RecordKind})
 *   1     1   header version (1)
 *   2     2   core id, unsigned: the core whose log holds the record (a file copied into another
 *             core's place is detected)
 *   4     4   reserved, zero
 *   8     8   epoch: the global epoch the record belongs to. A barrier carries the epoch it opens
 *  16     8   sequence: the record's number in its core's log. Every record, data or barrier,
 *             takes the next one, so within a core's log sequences are consecutive; they start
 *             at 0 in a new log and continue across reopens
 *  24     n   body: the appended entry; empty for a barrier
 * </pre>
 * Within one core's log epochs never decrease, and the first record of a higher epoch is a
 * barrier for that epoch. A core that misses several advances writes one barrier for the newest.
 *
 * <p>Stateless; thread-safe.
 */
final class CoreRecordFormat {

    static final int HEADER_LENGTH = 24;
    static final byte VERSION = 1;
    static final int MAX_CORES = 9_999; // file names carry the core id as four digits

    static final int OFFSET_KIND = 0;
    static final int OFFSET_VERSION = 1;
    static final int OFFSET_CORE = 2;
    static final int OFFSET_EPOCH = 8;
    static final int OFFSET_SEQUENCE = 16;

    private CoreRecordFormat() {
    }

    /** The WAL name of a core's log: {@code core-0003}. */
    static String walName(int core) {
        return String.format("core-%04d", core);
    }

    /** The core whose log has WAL name {@code walName} ({@link #walName}), or -1 if it is no core's. */
    static int core(String walName) {
        if (walName.length() != 9 || !walName.startsWith("core-")) {
            return -1;
        }
        int core = 0;
        for (int i = 5; i < 9; i++) {
            char c = walName.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            core = core * 10 + (c - '0');
        }
        return core;
    }

    /** Writes the header at index 0 of {@code buffer} (absolute puts; position and limit unchanged). */
    static void putHeader(ByteBuffer buffer, RecordKind kind, int core, long epoch, long sequence) {
        buffer.put(OFFSET_KIND, kind.code)
                .put(OFFSET_VERSION, VERSION)
                .putShort(OFFSET_CORE, (short) core)
                .putInt(4, 0)
                .putLong(OFFSET_EPOCH, epoch)
                .putLong(OFFSET_SEQUENCE, sequence);
    }

    /**
     * Decodes the header at the payload's position.
     *
     * @return null if the header is valid, otherwise what is wrong with it
     */
    static String check(ByteBuffer payload, int expectedCore) {
        if (payload.remaining() < HEADER_LENGTH) {
            return "the record has " + payload.remaining() + " bytes, fewer than the " + HEADER_LENGTH
                    + "-byte per-core entry header: it was not written by a per-core log";
        }
        var p = payload.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int at = payload.position();
        if (RecordKind.of(p.get(at + OFFSET_KIND)) == null) {
            return "unknown record kind " + p.get(at + OFFSET_KIND);
        }
        if (p.get(at + OFFSET_VERSION) != VERSION) {
            return "entry header version " + p.get(at + OFFSET_VERSION) + " is not supported (this library reads "
                    + VERSION + ")";
        }
        int core = Short.toUnsignedInt(p.getShort(at + OFFSET_CORE));
        if (core != expectedCore) {
            return "the record belongs to core " + core + ", not to core " + expectedCore
                    + ": a log file was copied or renamed into another core's place";
        }
        return null;
    }

    static RecordKind kind(ByteBuffer payload) {
        return RecordKind.of(payload.get(payload.position() + OFFSET_KIND));
    }

    static long epoch(ByteBuffer payload) {
        return payload.duplicate().order(ByteOrder.LITTLE_ENDIAN).getLong(payload.position() + OFFSET_EPOCH);
    }

    static long sequence(ByteBuffer payload) {
        return payload.duplicate().order(ByteOrder.LITTLE_ENDIAN).getLong(payload.position() + OFFSET_SEQUENCE);
    }

    /** A read-only view of the body. */
    static ByteBuffer body(ByteBuffer payload) {
        return payload.duplicate().position(payload.position() + HEADER_LENGTH).slice().asReadOnlyBuffer();
    }
}

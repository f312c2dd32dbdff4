package io.laminar.storage.checkpoint;

import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.StateFileRef;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The format of one core's state file in a checkpoint: a full snapshot or a delta. All integers are
 * little-endian.
 *
 * <pre>
 * header (32 bytes)
 *   bytes  0..3   magic "LSTF" (0x4C 0x53 0x54 0x46)
 *   byte   4      format version: 1
 *   byte   5      kind: 1 = FULL (every entry of the state, as puts, in key order)
 *                       2 = DELTA (the puts and deletes since the previous file of the chain, in key order)
 *   bytes  6..7   reserved, 0
 *   bytes  8..11  core (int32)
 *   bytes 12..19  epoch of the checkpoint (int64)
 *   bytes 20..27  checkpoint id (int64)
 *   bytes 28..31  reserved, 0
 * entries, each
 *   byte   0      op: 1 = PUT, 2 = DELETE
 *   int32         key length k (0 .. 2^31-1)
 *   k bytes       key
 *   PUT only:     int32 value length v, then v bytes of value
 * trailer (9 bytes)
 *   byte   0      0xFF (end of entries)
 *   int64         the number of entries
 * </pre>
 *
 * The file ends right after the trailer: bytes after it, an unknown op or kind, a negative length or
 * a wrong count are refused. The CRC32C of the whole file is not in the file: it is recorded in the
 * manifest's {@link StateFileRef} (written by {@link CheckpointStore#writeFile}) and checked on
 * restore before any of the file's state is used.
 *
 * <p>A core's state at a checkpoint is its chain: one FULL file followed by zero or more DELTA files,
 * applied in order.
 *
 * <p>Stateless; thread-safe.
 */
public final class StateFileFormat {

    /** "LSTF". */
    static final int MAGIC = 0x4654534C; // little-endian bytes 'L' 'S' 'T' 'F'
    static final byte VERSION = 1;
    static final byte FULL = 1;
    static final byte DELTA = 2;
    static final int HEADER_LENGTH = 32;
    static final byte PUT = 1;
    static final byte DELETE = 2;
    static final int END = 0xFF;

    private StateFileFormat() {
    }

    /** The header of a state file. */
    public record Header(byte kind, int core, long epoch, long checkpointId) {
    }

    /** Writes state entries to a stream in this format; call {@link #finish()} once at the end. Single-threaded. */
    static final class Writer implements ChangelogSink {
        private final OutputStream out;
        private final byte[] small = new byte[9];
        private long entries;
        private long bytes;

        Writer(OutputStream out, Header header) throws IOException {
            this.out = out;
            var h = ByteBuffer.allocate(HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
            h.putInt(MAGIC).put(VERSION).put(header.kind()).putShort((short) 0).putInt(header.core())
                    .putLong(header.epoch()).putLong(header.checkpointId()).putInt(0);
            write(h.array(), HEADER_LENGTH);
        }

        @Override
        public void onPut(byte[] key, byte[] value) {
            try {
                entry(PUT, key);
                putInt(value.length);
                write(value, value.length);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public void onDelete(byte[] key) {
            try {
                entry(DELETE, key);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public void onClear() {
            throw new IllegalArgumentException("a state file holds puts and deletes only, never a clear");
        }

        /** Writes the trailer; returns the number of entries. */
        long finish() throws IOException {
            var t = ByteBuffer.wrap(small).order(ByteOrder.LITTLE_ENDIAN);
            t.put((byte) END).putLong(entries);
            write(small, 9);
            out.flush();
            return entries;
        }

        /** The entries written so far. */
        long entries() {
            return entries;
        }

        /** The bytes written so far. */
        long bytes() {
            return bytes;
        }

        private void entry(byte op, byte[] key) throws IOException {
            small[0] = op;
            write(small, 1);
            putInt(key.length);
            write(key, key.length);
            entries++;
        }

        private void putInt(int v) throws IOException {
            ByteBuffer.wrap(small).order(ByteOrder.LITTLE_ENDIAN).putInt(0, v);
            write(small, 4);
        }

        private void write(byte[] b, int n) throws IOException {
            out.write(b, 0, n);
            bytes += n;
        }
    }

    /**
     * Reads a state file from {@code in}, checks its header, and applies every entry to
     * {@code target} (puts and deletes). As {@link #read(InputStream, String, long, int, ChangelogSink)}
     * for a file of unknown name and size.
     *
     * @throws IOException with a message saying what is wrong with the bytes
     */
    static Header read(InputStream in, int expectedCore, ChangelogSink target) throws IOException {
        return read(in, "(unnamed)", -1, expectedCore, target);
    }

    /**
     * Reads the state file {@code file} from {@code in}, checks its header (magic, version, kind,
     * core), and applies every entry to {@code target} (puts and deletes) as it reads them.
     *
     * <p>Entries are applied while reading, so that a state is never held twice in memory: when
     * this throws, {@code target} may have received the entries before the damage. Apply a file into
     * a store of its own and drop that store on an exception (as {@link RecoveryManager} does), so
     * that a damaged file never yields a partially applied state.
     *
     * @param file the file's name, for error messages
     * @param size the file's size in bytes (a length that runs past it is refused before anything is
     *             allocated for it), or -1 if unknown
     * @throws IOException naming {@code file} and saying what is wrong with its bytes: a bad magic, an
     *                     unknown version, kind or op, another core, a length that is negative or
     *                     runs past the end, a file cut short, a wrong entry count, bytes after the trailer
     */
    public static Header read(InputStream in, String file, long size, int expectedCore, ChangelogSink target)
            throws IOException {
        return new Reader(in, file, size).read(expectedCore, target);
    }

    /**
     * One reading of one file: knows its name and how far it has read, for the errors. It reads
     * through a buffer of its own (no {@code DataInputStream} or {@code BufferedInputStream}, whose
     * per-byte calls are synchronized) and allocates nothing per entry but the key and value arrays
     * it hands to the target, which keeps them: a restore of millions of entries makes no garbage
     * of its own for the young generation to sweep. Error messages are built only on an error.
     */
    private static final class Reader {
        /** Large enough that a read from the store is rarely shorter than what the store can give. */
        private static final int BUFFER = 64 * 1024;
        /** Without a known size, a length is trusted only as far as the bytes that arrived (then grown). */
        private static final int UNSIZED_STEP = 1 << 20;
        private static final int KEY = 0;
        private static final int VALUE = 1;
        /**
         * A slab's size: 8 MiB with the array's header, so that it fills whole G1 regions (of 1 to 8
         * MiB: allocated outside the young generation, never copied) or half of one (16 MiB: one copy).
         */
        private static final int SLAB_BYTES = (8 << 20) - 16;
        /** Larger values get arrays of their own. */
        private static final int MAX_SLAB_VALUE = 64 * 1024;

        private final InputStream in;
        private final String file;
        private final long size;
        private final byte[] buffer = new byte[BUFFER];
        private int pos;
        private int limit;
        private long position; // bytes consumed from the file
        /** Where {@link #readIntoSlab} reads the next value, from {@link #slabUsed} on. */
        private byte[] slab;
        private int slabUsed;

        Reader(InputStream in, String file, long size) {
            this.in = in;
            this.file = file;
            this.size = size;
        }

        private IOException damaged(String problem) {
            return new IOException("state file " + file + " is damaged: " + problem + " (at byte " + position + ")");
        }

        Header read(int expectedCore, ChangelogSink target) throws IOException {
            var h = ByteBuffer.allocate(HEADER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
            readFully(h.array(), 0, HEADER_LENGTH, "header", -1, -1);
            if (h.getInt(0) != MAGIC) {
                throw damaged(String.format("bad magic %08x, expected %08x (\"LSTF\"): not a state file",
                        Integer.reverseBytes(h.getInt(0)), Integer.reverseBytes(MAGIC)));
            }
            if (h.get(4) != VERSION) {
                throw damaged("unknown format version " + h.get(4) + ", this library reads version " + VERSION);
            }
            byte kind = h.get(5);
            if (kind != FULL && kind != DELTA) {
                throw damaged("unknown kind " + kind + ", expected " + FULL + " (full) or " + DELTA + " (delta)");
            }
            var header = new Header(kind, h.getInt(8), h.getLong(12), h.getLong(20));
            if (header.core() != expectedCore) {
                throw damaged("it is of core " + header.core() + ", expected core " + expectedCore);
            }
            long entries = 0;
            while (true) {
                int op = readByte();
                if (op < 0) {
                    throw damaged("the file is cut short: no trailer after " + entries + " entries");
                }
                if (op == END) {
                    long count = readLong();
                    if (count != entries) {
                        throw damaged("the trailer counts " + count + " entries, but the file holds " + entries);
                    }
                    if (readByte() >= 0) {
                        position--;
                        throw damaged("bytes after the trailer");
                    }
                    return header;
                }
                if (op != PUT && op != DELETE) {
                    throw damaged("unknown entry op " + op + " at entry " + entries);
                }
                var key = readBytes(KEY, entries);
                if (op == PUT && size >= 0 && target instanceof ChangelogAwareStateStore.BulkLoader loader) {
                    readIntoSlab(loader, key, entries);
                } else if (op == PUT) {
                    target.onPut(key, readBytes(VALUE, entries));
                } else {
                    target.onDelete(key);
                }
                entries++;
            }
        }

        private static String what(int field, long entry) {
            return (field == KEY ? "key" : "value") + " of entry " + entry;
        }

        /**
         * Reads the value of {@code entry} into the current slab (or an array of its own if it is
         * large) and hands it to {@code loader}, which adopts that range of the slab.
         */
        private void readIntoSlab(ChangelogAwareStateStore.BulkLoader loader, byte[] key, long entry)
                throws IOException {
            int length = readLength(VALUE, entry);
            if (length > MAX_SLAB_VALUE) {
                var value = new byte[length];
                readFully(value, 0, length, "", VALUE, entry);
                loader.onPut(key, value);
                return;
            }
            if (slab == null || slab.length - slabUsed < length) {
                // Never larger than the rest of the file: a small file gets a small slab.
                slab = new byte[(int) Math.max(length, Math.min(SLAB_BYTES, size - position))];
                slabUsed = 0;
            }
            readFully(slab, slabUsed, length, "", VALUE, entry);
            loader.onPut(key, slab, slabUsed, length);
            slabUsed += length;
        }

        private byte[] readBytes(int field, long entry) throws IOException {
            int length = readLength(field, entry);
            if (size >= 0 || length <= UNSIZED_STEP) {
                var bytes = new byte[length];
                readFully(bytes, 0, length, "", field, entry);
                return bytes;
            }
            // Unknown size: grow as bytes arrive, so a damaged length never allocates more than came.
            var bytes = new byte[UNSIZED_STEP];
            int filled = 0;
            while (filled < length) {
                if (filled == bytes.length) {
                    bytes = java.util.Arrays.copyOf(bytes, (int) Math.min(length, 2L * bytes.length));
                }
                int n = Math.min(bytes.length - filled, length - filled);
                readFully(bytes, filled, n, "", field, entry);
                filled += n;
            }
            return bytes;
        }

        /** The length of the {@code field} of {@code entry}, checked against what remains of the file. */
        private int readLength(int field, long entry) throws IOException {
            int length;
            if (limit - pos >= 4) { // the common case, without a call per byte
                length = (buffer[pos] & 0xFF) | (buffer[pos + 1] & 0xFF) << 8 | (buffer[pos + 2] & 0xFF) << 16
                        | (buffer[pos + 3] & 0xFF) << 24;
                pos += 4;
                position += 4;
            } else {
                var small = new byte[4];
                readFully(small, 0, 4, "length of the ", field, entry);
                length = ByteBuffer.wrap(small).order(ByteOrder.LITTLE_ENDIAN).getInt(0);
            }
            if (length < 0) {
                throw damaged("negative length " + length + " of the " + what(field, entry));
            }
            // The trailer still follows: a length running into it or past the end is damage. Checked
            // before allocating, so a damaged length never allocates gigabytes.
            if (size >= 0 && length > size - position - 9) {
                throw damaged("the length " + length + " of the " + what(field, entry) + " runs past the end of the "
                        + size + "-byte file");
            }
            return length;
        }

        private long readLong() throws IOException {
            var small = new byte[8];
            readFully(small, 0, 8, "trailer", -1, -1);
            return ByteBuffer.wrap(small).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        }

        private int readByte() throws IOException {
            if (pos == limit && !fill()) {
                return -1;
            }
            position++;
            return buffer[pos++] & 0xFF;
        }

        /**
         * Copies {@code n} bytes into {@code into}; a file that ends first is damage, described by
         * {@code what} (a prefix of) the field {@code field} (-1: none) of {@code entry}.
         */
        private void readFully(byte[] into, int offset, int n, String what, int field, long entry)
                throws IOException {
            int copied = 0;
            while (copied < n) {
                if (pos == limit) {
                    if (n - copied >= BUFFER) {
                        // Large values go straight into their array, not through the buffer.
                        int r = in.read(into, offset + copied, n - copied);
                        if (r > 0) {
                            copied += r;
                            position += r;
                            continue;
                        }
                        if (r == 0) {
                            continue;
                        }
                    } else if (fill()) {
                        continue;
                    }
                    if (field < 0) {
                        throw damaged("the file is cut short: the " + what + " is cut off");
                    }
                    throw damaged("the file is cut short: the " + what + what(field, entry)
                            + (what.isEmpty() ? " has " + copied + " of its " + n + " bytes" : " is cut off"));
                }
                int c = Math.min(n - copied, limit - pos);
                System.arraycopy(buffer, pos, into, offset + copied, c);
                pos += c;
                copied += c;
                position += c;
            }
        }

        /** Refills the empty buffer; false at the end of the stream. */
        private boolean fill() throws IOException {
            while (true) {
                int n = in.read(buffer, 0, BUFFER);
                if (n < 0) {
                    return false;
                }
                if (n > 0) {
                    pos = 0;
                    limit = n;
                    return true;
                }
            }
        }
    }
}

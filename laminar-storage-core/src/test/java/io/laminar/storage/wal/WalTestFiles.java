package io.laminar.storage.wal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * Test helper that looks at and damages the segment files of a closed log, byte by byte, using the
 * layout of {@link WalFormat}: a record at position {@code p} of the segment with base {@code b}
 * starts at file offset {@code 64 + p - b}.
 */
final class WalTestFiles {

    private WalTestFiles() {
    }

    /** The segment files of the log named {@code name} in {@code dir}, in position order. */
    static List<Path> segments(Path dir, String name) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> WalFileNames.segmentBase(name, p.getFileName().toString()) >= 0)
                    .sorted((a, b) -> Long.compare(base(name, a), base(name, b)))
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<Path> segments(Path dir) {
        return segments(dir, "wal");
    }

    /** The base position in a segment's file name. */
    static long base(String name, Path segment) {
        return WalFileNames.segmentBase(name, segment.getFileName().toString());
    }

    static long base(Path segment) {
        return base("wal", segment);
    }

    /** The segment file that holds {@code position}: the one with the greatest base not after it. */
    static Path segmentFor(Path dir, long position) {
        Path found = null;
        for (var segment : segments(dir)) {
            if (base(segment) <= position) {
                found = segment;
            }
        }
        if (found == null) {
            throw new IllegalArgumentException("no segment in " + dir + " holds position " + position);
        }
        return found;
    }

    /** The file offset of {@code position} in {@code segment}: 64 + position - base. */
    static long fileOffset(Path segment, long position) {
        return WalFormat.SEGMENT_HEADER_LENGTH + position - base(segment);
    }

    /** The segment path for a base position, whether or not the file exists. */
    static Path segmentPath(Path dir, long base) {
        return dir.resolve(WalFileNames.segmentFileName("wal", base));
    }

    /** The unpadded frame length of a record with {@code payloadLength} bytes. */
    static int frameLength(int payloadLength) {
        return WalFormat.FRAME_HEADER_LENGTH + payloadLength;
    }

    /** The padded frame length: how far the next record's position is. */
    static int paddedFrameLength(int payloadLength) {
        return (int) WalFormat.paddedFrameLength(payloadLength);
    }

    static byte[] read(Path file, long offset, int length) {
        try (var channel = FileChannel.open(file, StandardOpenOption.READ)) {
            var buffer = ByteBuffer.allocate(length);
            while (buffer.hasRemaining()) {
                if (channel.read(buffer, offset + buffer.position()) < 0) {
                    throw new IllegalArgumentException(file + " ends before offset " + (offset + length));
                }
            }
            return buffer.array();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void write(Path file, long offset, byte[] bytes) {
        try (var channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            var buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                channel.write(buffer, offset + buffer.position());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void writeIntLittleEndian(Path file, long offset, int value) {
        write(file, offset, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, value).array());
    }

    static int readIntLittleEndian(Path file, long offset) {
        return ByteBuffer.wrap(read(file, offset, 4)).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    static long readLongLittleEndian(Path file, long offset) {
        return ByteBuffer.wrap(read(file, offset, 8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    /** XORs the byte at {@code offset} with {@code mask} (which must not be 0). */
    static void flip(Path file, long offset, int mask) {
        if ((mask & 0xff) == 0) {
            throw new IllegalArgumentException("a zero mask changes nothing");
        }
        var b = read(file, offset, 1);
        b[0] ^= (byte) mask;
        write(file, offset, b);
    }

    /** Inverts every bit of the byte at {@code offset}. */
    static void flip(Path file, long offset) {
        flip(file, offset, 0xff);
    }

    /** Writes zeros over [from, to). */
    static void zero(Path file, long from, long to) {
        write(file, from, new byte[(int) (to - from)]);
    }

    static void truncate(Path file, long size) {
        try (var channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.truncate(size);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The CRC32C that the frame at {@code offset} of {@code file} should carry for its current
     * bytes (what recovery computes), using the frame length stored in the file.
     */
    static int computedFrameCrc(Path file, long offset) {
        int length = readIntLittleEndian(file, offset);
        var frame = ByteBuffer.wrap(read(file, offset, length)).order(ByteOrder.LITTLE_ENDIAN);
        return WalFormat.frameCrc(new CRC32C(), frame, 0, length);
    }

    /** Every regular file in {@code dir} with its bytes, by file name. */
    static Map<String, byte[]> snapshot(Path dir) {
        var files = new TreeMap<String, byte[]>();
        try (Stream<Path> list = Files.list(dir)) {
            for (var file : list.toList()) {
                if (Files.isRegularFile(file)) {
                    files.put(file.getFileName().toString(), Files.readAllBytes(file));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return files;
    }

    /** Copies every regular file of {@code from} into a new directory {@code to}. */
    static void copyDirectory(Path from, Path to) {
        try (Stream<Path> list = Files.list(from)) {
            Files.createDirectories(to);
            for (var file : list.toList()) {
                if (Files.isRegularFile(file)) {
                    Files.copy(file, to.resolve(file.getFileName()));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A record as written: where it is and what it holds. */
    record Written(long position, byte[] payload) {

        long end() {
            return position + paddedFrameLength(payload.length);
        }

        /** The end of the frame without its zero padding. */
        long unpaddedEnd() {
            return position + frameLength(payload.length);
        }
    }

    /** Reads every record of an open log through a reader. */
    static List<Written> readAll(WriteAheadLog wal) {
        var out = new ArrayList<Written>();
        try (var reader = wal.reader()) {
            for (WalRecord r; (r = reader.next()) != null; ) {
                out.add(new Written(r.position(), r.payloadBytes()));
            }
        }
        return out;
    }
}

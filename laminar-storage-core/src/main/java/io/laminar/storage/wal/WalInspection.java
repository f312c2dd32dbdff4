package io.laminar.storage.wal;

import io.laminar.storage.StorageException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.zip.CRC32C;

/**
 * A read-only look at one log in a directory: its segments, and how {@link WriteAheadLog#open}
 * would classify the log now (clean, a torn tail it would zero, or corruption that fails the open
 * under {@link CorruptionPolicy#FAIL} and that {@link CorruptionPolicy#TRUNCATE} would cut, with the
 * exact regions it would cut). The classification is the one open-time recovery makes: it runs the
 * same scan, and only skips the repair.
 *
 * <p>{@link #of} changes nothing on disk and takes no lock, so it may look at the directory of a
 * log another process has open; that process may append, rotate or truncate meanwhile, so the
 * newest segment may show a tail being written as a torn tail.
 *
 * <p>Immutable and thread-safe; {@link #forEachRecord} opens its own file handles per call.
 *
 * @param directory        the log's directory
 * @param logName          the log's name ({@link WalOptions#name()})
 * @param segments         every segment file of the log, in position order, as scanned
 * @param keptSegments     the segments open would keep (all, unless corruption would be cut), with
 *                         their valid records as recovery counts them
 * @param endPosition      the position the next record would get after open; -1 for a log with no segment
 * @param tornTail         the torn tail open would zero, if any
 * @param corruption       the corruption open would refuse under FAIL, if any
 * @param truncationPlan   what TRUNCATE would cut (empty without corruption); {@code keptAs} is the
 *                         file name it would keep the bytes in
 */
public record WalInspection(Path directory, String logName, List<SegmentInfo> segments, List<SegmentInfo> keptSegments,
                            long endPosition, WalInspection.Damage tornTail, WalInspection.Damage corruption,
                            List<WalRecoveryReport.DroppedRegion> truncationPlan) {

    public WalInspection {
        segments = List.copyOf(segments);
        keptSegments = List.copyOf(keptSegments);
        truncationPlan = List.copyOf(truncationPlan);
    }

    /**
     * One segment file as scanned.
     *
     * @param records        valid records from its start up to the first frame that does not validate
     * @param endOffset      the file offset just after those records
     * @param endPosition    the log position just after those records
     * @param headerProblem  what is wrong with its header, or null
     */
    public record SegmentInfo(Path path, long basePosition, long logId, long capacity, long fileSize, long records,
                              long endOffset, long endPosition, String headerProblem) {
    }

    /** Whether open would repair damage silently (a torn tail) or refuse (corruption). */
    public enum DamageKind { TORN_TAIL, CORRUPTION }

    /**
     * Damage that open would find.
     *
     * @param file              the damaged segment
     * @param fileOffset        where the damage starts in it
     * @param position          the log position there
     * @param bytes             bytes affected (zeroed for a torn tail; cut for corruption in that segment)
     * @param problem           what is wrong with the bytes there
     * @param message           the full message open would throw (for corruption), or null
     * @param storedCrc         the CRC32C the bad frame carries, if its checksum was what failed; else null
     * @param computedCrc       the CRC32C computed over that frame, if its checksum was what failed; else null
     * @param laterValidRecords frames after the damage that still validate
     */
    public record Damage(DamageKind kind, Path file, long fileOffset, long position, long bytes, String problem,
                         String message, Integer storedCrc, Integer computedCrc, long laterValidRecords) {
    }

    /** Visits one record read by {@link #forEachRecord}; returns false to stop. */
    @FunctionalInterface
    public interface RecordVisitor {
        boolean visit(WalRecord record, int storedCrc32c, Path segment);
    }

    /**
     * Inspects log {@code logName} in {@code directory} without changing anything.
     *
     * @throws StorageException if the directory or a segment cannot be read
     */
    public static WalInspection of(Path directory, String logName) {
        if (!WalFileNames.isLogName(logName)) {
            throw new IllegalArgumentException("'" + logName + "' is not a log name");
        }
        try {
            return WalRecovery.inspect(directory, logName);
        } catch (NoSuchFileException e) {
            throw new StorageException("cannot read the WAL directory " + directory + ": " + e.getFile()
                    + " does not exist", e);
        } catch (IOException e) {
            throw new StorageException("cannot read the WAL directory " + directory + ": " + e, e);
        }
    }

    /** The names of the logs that have a segment or a lock file in {@code directory}, sorted. */
    public static List<String> logNames(Path directory) throws IOException {
        var names = new TreeSet<String>();
        try (var files = Files.newDirectoryStream(directory)) {
            for (var file : files) {
                WalFileNames.logName(file.getFileName().toString()).ifPresent(names::add);
            }
        }
        return List.copyOf(names);
    }

    /** The oldest position in the log, or -1 if it has no segment. */
    public long startPosition() {
        return segments.isEmpty() ? -1 : segments.get(0).basePosition();
    }

    /** Valid records open would keep. */
    public long records() {
        return keptSegments.stream().mapToLong(SegmentInfo::records).sum();
    }

    /** Whether open would find neither a torn tail nor corruption. */
    public boolean clean() {
        return tornTail == null && corruption == null;
    }

    public Optional<Damage> tornTailIfAny() {
        return Optional.ofNullable(tornTail);
    }

    public Optional<Damage> corruptionIfAny() {
        return Optional.ofNullable(corruption);
    }

    /**
     * Reads the valid records of the kept segments from {@code fromPosition} on, in position order,
     * checking each frame's position and CRC32C again. Opens the files read-only.
     *
     * @throws StorageException if a segment is gone or a frame no longer validates (the log changed
     *                          since the inspection)
     */
    public void forEachRecord(long fromPosition, RecordVisitor visitor) {
        var cursor = new Cursor(fromPosition, false);
        for (WalRecord record; (record = cursor.next()) != null; ) {
            if (!visitor.visit(record, cursor.storedCrc, cursor.segmentPath)) {
                return;
            }
        }
    }

    /**
     * A pull reader of the valid records of the kept segments from {@code fromPosition} on, checked
     * as {@link #forEachRecord} checks them: what a read-only replay merges. Holds no file handle
     * (each segment is mapped read-only and its channel closed at once). Not thread-safe.
     *
     * @throws IllegalArgumentException if {@code fromPosition} lies outside the kept records or is
     *                                  not aligned, as {@link WriteAheadLog#reader(long)} would throw;
     *                                  {@link Cursor#next()} throws it if no record starts there
     */
    public Cursor cursor(long fromPosition) {
        long start = keptSegments.isEmpty() ? 0 : keptSegments.get(0).basePosition();
        long end = Math.max(endPosition, start);
        if (fromPosition < start || fromPosition > end || fromPosition % WalFormat.ALIGNMENT != 0) {
            throw new IllegalArgumentException("no record of the WAL " + logName + " in " + directory
                    + " starts at position " + fromPosition + " (the log holds positions " + start + " to " + end + ")");
        }
        return new Cursor(fromPosition, true);
    }

    /** See {@link #cursor(long)}. */
    public final class Cursor {
        private final CRC32C crc = new CRC32C();
        private final long from;
        private final boolean strict;
        private int segmentIndex = -1;
        private ByteBuffer map;
        private int offset;
        private long position;
        private long segmentEnd;
        private int storedCrc;
        private Path segmentPath;

        private Cursor(long from, boolean strict) {
            this.from = from;
            this.strict = strict;
            this.position = from;
        }

        /** The position of the next record (after the last, the end of the kept records). */
        public long position() {
            return position;
        }

        /** The next record, or null after the last. Its payload is valid until the next call. */
        public WalRecord next() {
            while (true) {
                if (map == null || offset >= segmentEnd) {
                    if (!nextSegment()) {
                        return null;
                    }
                    continue;
                }
                int length = map.getInt(offset);
                int stored = map.getInt(offset + WalFormat.OFFSET_CRC);
                long recordPosition = segmentBase() + offset - WalFormat.SEGMENT_HEADER_LENGTH;
                if (length < WalFormat.FRAME_HEADER_LENGTH || offset + length > segmentEnd
                        || map.getLong(offset + WalFormat.OFFSET_POSITION) != recordPosition
                        || WalFormat.frameCrc(crc, map, offset, length) != stored) {
                    throw new StorageException("WAL segment " + segmentPath + " changed while it was read: the "
                            + "frame at file offset " + offset + " no longer validates");
                }
                int padded = (int) WalFormat.align(length);
                int at = offset;
                offset += padded;
                if (recordPosition + padded <= from) {
                    continue;
                }
                if (recordPosition < from) {
                    if (strict) {
                        throw new IllegalArgumentException("no record of the WAL " + logName + " in " + directory
                                + " starts at position " + from + ": it lies inside the record at " + recordPosition);
                    }
                    continue;
                }
                storedCrc = stored;
                position = recordPosition + padded;
                ByteBuffer payload = map.duplicate().position(at + WalFormat.FRAME_HEADER_LENGTH)
                        .limit(at + length).slice().asReadOnlyBuffer();
                return new WalRecord(recordPosition, recordPosition + padded, payload);
            }
        }

        private long segmentBase() {
            return keptSegments.get(segmentIndex).basePosition();
        }

        private boolean nextSegment() {
            map = null;
            while (++segmentIndex < keptSegments.size()) {
                var segment = keptSegments.get(segmentIndex);
                if (segment.endPosition() <= from || segment.records() == 0) {
                    continue;
                }
                try (var channel = FileChannel.open(segment.path(), StandardOpenOption.READ)) {
                    map = channel.map(FileChannel.MapMode.READ_ONLY, 0, segment.endOffset()).order(ByteOrder.LITTLE_ENDIAN);
                } catch (IOException e) {
                    throw new StorageException("cannot read WAL segment " + segment.path() + ": " + e,
                            new UncheckedIOException(e));
                }
                segmentPath = segment.path();
                offset = WalFormat.SEGMENT_HEADER_LENGTH;
                segmentEnd = segment.endOffset();
                return true;
            }
            return false;
        }
    }
}

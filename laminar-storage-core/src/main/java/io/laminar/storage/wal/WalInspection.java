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
        var crc = new CRC32C();
        for (var segment : keptSegments) {
            if (segment.endPosition() <= fromPosition || segment.records() == 0) {
                continue;
            }
            try (var channel = FileChannel.open(segment.path(), StandardOpenOption.READ)) {
                var map = channel.map(FileChannel.MapMode.READ_ONLY, 0, segment.endOffset()).order(ByteOrder.LITTLE_ENDIAN);
                int offset = WalFormat.SEGMENT_HEADER_LENGTH;
                long position = segment.basePosition();
                while (offset < segment.endOffset()) {
                    int length = map.getInt(offset);
                    int stored = map.getInt(offset + WalFormat.OFFSET_CRC);
                    if (length < WalFormat.FRAME_HEADER_LENGTH || offset + length > segment.endOffset()
                            || map.getLong(offset + WalFormat.OFFSET_POSITION) != position
                            || WalFormat.frameCrc(crc, map, offset, length) != stored) {
                        throw new StorageException("WAL segment " + segment.path() + " changed while it was read: the "
                                + "frame at file offset " + offset + " no longer validates");
                    }
                    int padded = (int) WalFormat.align(length);
                    if (position >= fromPosition) {
                        ByteBuffer payload = map.duplicate().position(offset + WalFormat.FRAME_HEADER_LENGTH)
                                .limit(offset + length).slice().asReadOnlyBuffer();
                        if (!visitor.visit(new WalRecord(position, position + padded, payload), stored, segment.path())) {
                            return;
                        }
                    }
                    offset += padded;
                    position += padded;
                }
            } catch (IOException e) {
                throw new StorageException("cannot read WAL segment " + segment.path() + ": " + e, new UncheckedIOException(e));
            }
        }
    }
}

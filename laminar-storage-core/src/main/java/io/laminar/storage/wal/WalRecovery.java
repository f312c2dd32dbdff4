package io.laminar.storage.wal;

import io.laminar.storage.io.FileIO;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens the segments of a log and brings them to a state that can be appended to: the work of
 * {@link WriteAheadLog#open}.
 *
 * <p>Every segment is scanned frame by frame. Where a scan stops before the end of the data, the
 * rest of the segment is searched for frames that still validate (their position field pins them
 * to their offset, so a match by chance is practically impossible) and their durable marks decide:
 * <ul>
 *   <li>In the newest segment, if no later frame says the log had been synced past the bad record,
 *       the bad record and everything after it were never acknowledged as durable: a torn tail. It
 *       is zeroed, logged at WARN and counted. This covers writes that reached the disk out of
 *       order before a power loss.</li>
 *   <li>If a later frame's durable mark lies past the bad record, that record had been synced:
 *       corruption.</li>
 *   <li>A sealed segment (any but the newest) was synced in full before the next one was started,
 *       so any damage in it, and any gap between its end and the next segment's base, is
 *       corruption.</li>
 * </ul>
 * Corruption fails the open under {@link CorruptionPolicy#FAIL}; under
 * {@link CorruptionPolicy#TRUNCATE} the log is cut at the first bad record and the cut bytes are
 * kept beside the log.
 *
 * <p>Used once per open, by one thread.
 */
final class WalRecovery {

    private static final Logger log = LoggerFactory.getLogger(WalRecovery.class);

    /** The result of an open: the segments in position order, ready for appending at the end. */
    record Recovered(List<Segment> segments, long logId, long endPosition, WalRecoveryReport report) {

        /**
         * The report as the opened log stands: a log without segments (a new one, which starts at
         * {@code newLogStart}, or one whose segments were all cut away) gets its first segment from
         * {@code open}, so it reports that segment and where it starts, never the -1 of "no segment".
         */
        WalRecoveryReport report(long newLogStart) {
            if (!segments.isEmpty()) {
                return report;
            }
            long start = endPosition >= 0 ? endPosition : newLogStart;
            return new WalRecoveryReport(1, 0, start, start, report.tornTailBytes(), report.dropped(), report.duration());
        }
    }

    private final Path directory;
    private final WalOptions options;
    private final FileIO io;
    private final CRC32C crc = new CRC32C();
    /** Inspect only ({@link #inspect()}): open files for reading, change nothing, record what a repair would do. */
    private final boolean readOnly;
    /** The checksums of the frame {@link #frameProblem} last rejected for a CRC mismatch, else null. */
    private Integer lastStoredCrc;
    private Integer lastComputedCrc;
    /** In read-only mode: the corruption found and what {@link CorruptionPolicy#TRUNCATE} would cut. */
    private WalInspection.Damage corruption;
    private final List<WalRecoveryReport.DroppedRegion> plannedCut = new ArrayList<>();

    WalRecovery(Path directory, WalOptions options) {
        this(directory, options, false);
    }

    private WalRecovery(Path directory, WalOptions options, boolean readOnly) {
        this.directory = directory;
        this.options = options;
        this.io = options.fileIO();
        this.readOnly = readOnly;
    }

    /**
     * Classifies log {@code logName} in {@code directory} exactly as {@link #recover()} would, but
     * changes nothing: files are opened for reading only, no lock is taken, nothing is zeroed,
     * copied, renamed or deleted.
     */
    static WalInspection inspect(Path directory, String logName) throws IOException {
        var options = WalOptions.builder().name(logName).corruptionPolicy(CorruptionPolicy.TRUNCATE).build();
        return new WalRecovery(directory, options, true).inspectLog();
    }

    private WalInspection inspectLog() throws IOException {
        var scans = new ArrayList<Scan>();
        try {
            for (var path : listSegments()) {
                scans.add(scan(path));
            }
            var segments = new ArrayList<WalInspection.SegmentInfo>();
            for (var scan : scans) {
                segments.add(new WalInspection.SegmentInfo(scan.path, scan.base, scan.logId, scan.capacity,
                        scan.fileSize, scan.records, scan.endOffset, scan.endPosition, scan.headerProblem));
            }
            long firstBase = scans.isEmpty() ? -1 : scans.get(0).base;
            int keep = checkChain(scans, new ArrayList<>());
            var kept = new ArrayList<>(segments.subList(0, keep));
            WalInspection.Damage torn = null;
            if (keep > 0) {
                var last = scans.get(keep - 1);
                // What recover() would zero in the newest segment it keeps (repairTornTail).
                long bytes = last.dirtyEnd - last.endOffset;
                if (bytes > 0) {
                    torn = new WalInspection.Damage(WalInspection.DamageKind.TORN_TAIL, last.path, last.endOffset,
                            last.endPosition, bytes, last.problem != null ? last.problem
                            : "non-zero bytes after the last record", null, last.storedCrc, last.computedCrc,
                            last.laterValidRecords);
                }
                // A segment cut at an offset keeps its records before the cut only.
                var info = kept.get(keep - 1);
                kept.set(keep - 1, new WalInspection.SegmentInfo(info.path(), info.basePosition(), info.logId(),
                        info.capacity(), info.fileSize(), last.records, last.endOffset, last.endPosition,
                        info.headerProblem()));
            }
            long end = keep == 0 ? firstBase : scans.get(keep - 1).endPosition;
            return new WalInspection(directory, options.name(), segments, kept, end, torn, corruption, plannedCut);
        } finally {
            for (var scan : scans) {
                scan.channel.close();
            }
        }
    }

    static Path preallocatedFile(Path directory, String logName) {
        return directory.resolve(WalFileNames.spareFileName(logName));
    }

    static Path sparseFile(Path directory, String logName) {
        return directory.resolve(WalFileNames.sparseFileName(logName));
    }

    /**
     * Recovers the log. Returns no segments if the directory holds none of this log's segments
     * (end position -1: a new log) or if every segment was cut away (end position: where the log
     * starts again).
     */
    Recovered recover() throws IOException {
        long started = System.nanoTime();
        io.deleteIfExists(preallocatedFile(directory, options.name()));
        io.deleteIfExists(sparseFile(directory, options.name()));
        var paths = listSegments();
        var scans = new ArrayList<Scan>();
        try {
            for (var path : paths) {
                scans.add(scan(path));
            }
            var dropped = new ArrayList<WalRecoveryReport.DroppedRegion>();
            long firstBase = scans.isEmpty() ? -1 : scans.get(0).base;
            int keep = checkChain(scans, dropped);
            while (scans.size() > keep) {
                var removed = scans.remove(scans.size() - 1);
                removed.channel.close();
            }
            long tornBytes = 0;
            if (!scans.isEmpty()) {
                tornBytes = repairTornTail(scans.get(scans.size() - 1));
            }
            if (!dropped.isEmpty() || tornBytes > 0) {
                io.syncDirectory(directory);
            }
            var segments = new ArrayList<Segment>();
            long records = 0;
            for (var scan : scans) {
                segments.add(new Segment(scan.path, scan.base, scan.capacity, new FileChannelSegmentWriter(scan.channel)));
                records += scan.records;
            }
            // With every segment cut away, the log starts again where its first segment started.
            long end = scans.isEmpty() ? firstBase : scans.get(scans.size() - 1).endPosition;
            long start = scans.isEmpty() ? firstBase : scans.get(0).base;
            long logId = scans.isEmpty() ? 0 : scans.get(0).logId;
            var report = new WalRecoveryReport(segments.size(), records, start, end, tornBytes, dropped,
                    Duration.ofNanos(System.nanoTime() - started));
            return new Recovered(segments, logId, end, report);
        } catch (IOException | RuntimeException e) {
            for (var scan : scans) {
                scan.channel.close();
            }
            throw e;
        }
    }

    private List<Path> listSegments() throws IOException {
        var found = new ArrayList<Path>();
        try (var stream = Files.newDirectoryStream(directory, options.name() + "-*.wal")) {
            for (var path : stream) {
                if (baseFromName(path) >= 0) {
                    found.add(path);
                }
            }
        }
        found.sort((a, b) -> Long.compare(baseFromName(a), baseFromName(b)));
        return found;
    }

    private long baseFromName(Path path) {
        return WalFileNames.segmentBase(options.name(), path.getFileName().toString());
    }

    /** What a scan of one segment found. */
    private static final class Scan {
        Path path;
        FileChannel channel;
        long base;
        long logId;
        long capacity;
        long fileSize;
        String headerProblem;
        long records;
        long endPosition;
        long endOffset;
        String problem;
        long laterValidRecords;
        long laterMaxDurableMark = -1;
        long dirtyEnd;
        Integer storedCrc;
        Integer computedCrc;
    }

    private Scan scan(Path path) throws IOException {
        var scan = new Scan();
        scan.path = path;
        scan.base = baseFromName(path);
        scan.channel = io.open(path, readOnly ? EnumSet.of(StandardOpenOption.READ)
                : EnumSet.of(StandardOpenOption.READ, StandardOpenOption.WRITE));
        scan.fileSize = scan.channel.size();
        var headerBuffer = ByteBuffer.allocate((int) Math.min(scan.fileSize, WalFormat.SEGMENT_HEADER_LENGTH));
        readFully(scan.channel, headerBuffer, 0);
        var decoded = WalFormat.decodeSegmentHeader(headerBuffer.flip());
        if (decoded instanceof String problem) {
            scan.headerProblem = problem;
            return scan;
        }
        var header = (WalFormat.SegmentHeader) decoded;
        if (header.basePosition() != scan.base) {
            scan.headerProblem = "the header says base position " + header.basePosition()
                    + " but the file name says " + scan.base;
            return scan;
        }
        scan.logId = header.logId();
        scan.capacity = header.capacity();
        if (scan.capacity < WalFormat.SEGMENT_HEADER_LENGTH || scan.capacity > WalOptions.MAX_SEGMENT_SIZE) {
            scan.headerProblem = "the header declares an impossible capacity of " + scan.capacity + " bytes";
            return scan;
        }
        int limit = (int) Math.min(scan.fileSize, scan.capacity);
        MappedByteBuffer map = scan.channel.map(FileChannel.MapMode.READ_ONLY, 0, limit);
        map.order(ByteOrder.LITTLE_ENDIAN);
        scanFrames(scan, map, limit);
        return scan;
    }

    private void scanFrames(Scan scan, ByteBuffer map, int limit) {
        int offset = WalFormat.SEGMENT_HEADER_LENGTH;
        long position = scan.base;
        while (true) {
            if (offset + WalFormat.FRAME_HEADER_LENGTH > limit || map.getInt(offset) == 0) {
                break;
            }
            var problem = frameProblem(map, offset, limit, position);
            if (problem != null) {
                scan.problem = problem;
                scan.storedCrc = lastStoredCrc;
                scan.computedCrc = lastComputedCrc;
                break;
            }
            int padded = (int) WalFormat.align(map.getInt(offset));
            offset += padded;
            position += padded;
            scan.records++;
        }
        scan.endOffset = offset;
        scan.endPosition = position;
        scan.dirtyEnd = offset;
        // Search what follows the end for frames that still validate and for any non-zero bytes. Only
        // the non-zero words matter: a frame at o can validate only if its position field, the word
        // at o + OFFSET_POSITION, holds its position, which is never 0 past the segment header. So
        // the zeros (all of a pre-written segment's unused capacity: 64 MiB by default, read at
        // every open) are skipped by a vectorized comparison instead of a look at every word.
        for (int w = nextNonZeroWord(map, offset, limit); w >= 0; w = nextNonZeroWord(map, w + 8, limit)) {
            scan.dirtyEnd = w + 8;
            int o = w - WalFormat.OFFSET_POSITION;
            if (o > offset && o + WalFormat.FRAME_HEADER_LENGTH <= limit) {
                long expected = scan.base + (o - WalFormat.SEGMENT_HEADER_LENGTH);
                if (map.getLong(w) == expected && frameProblem(map, o, limit, expected) == null) {
                    scan.laterValidRecords++;
                    scan.laterMaxDurableMark =
                            Math.max(scan.laterMaxDurableMark, map.getLong(o + WalFormat.OFFSET_DURABLE));
                }
            }
        }
        // A file cut short of its capacity may end inside an 8-byte word, which the loop above does
        // not look at. Without this, a frame header torn there (say only its length written) was
        // neither reported nor zeroed, and the next open found it again as a new torn tail.
        for (int o = Math.max(offset, limit & -WalFormat.ALIGNMENT); o < limit; o++) {
            if (map.get(o) != 0) {
                scan.dirtyEnd = limit;
                break;
            }
        }
    }

    /** 64 KiB of zeros to compare a segment's tail with; never modified (only absolute slices are taken). */
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 * 1024);

    /**
     * The offset of the first 8-byte word at or after {@code from} (a multiple of 8 from the segment's
     * start, as every frame is) that lies wholly before {@code limit} and is not zero, or -1.
     */
    static int nextNonZeroWord(ByteBuffer map, int from, int limit) {
        int at = from;
        while (limit - at >= 8) {
            int n = Math.min(ZEROS.capacity(), (limit - at) & -8);
            int mismatch = map.slice(at, n).mismatch(ZEROS.slice(0, n));
            if (mismatch >= 0) {
                return at + (mismatch & -8);
            }
            at += n;
        }
        return -1;
    }

    /** Why the frame at {@code offset} is not a valid record at {@code position}, or null if it is. */
    private String frameProblem(ByteBuffer map, int offset, int limit, long position) {
        lastStoredCrc = null;
        lastComputedCrc = null;
        int length = map.getInt(offset);
        if (length < WalFormat.FRAME_HEADER_LENGTH) {
            return "frame length " + length + " is smaller than the " + WalFormat.FRAME_HEADER_LENGTH
                    + "-byte frame header";
        }
        if ((long) offset + length > limit) {
            return "frame length " + length + " runs past the end of the segment (" + limit + " bytes)";
        }
        long stored = map.getLong(offset + WalFormat.OFFSET_POSITION);
        if (stored != position) {
            return "the frame says position " + stored + " but its place in the file is position " + position;
        }
        int storedCrc = map.getInt(offset + WalFormat.OFFSET_CRC);
        int computedCrc = WalFormat.frameCrc(crc, map, offset, length);
        if (storedCrc != computedCrc) {
            lastStoredCrc = storedCrc;
            lastComputedCrc = computedCrc;
            return String.format("stored CRC32C 0x%08x does not match the computed 0x%08x", storedCrc, computedCrc);
        }
        return null;
    }

    /**
     * Checks every segment and the chain between them. Returns how many segments to keep: all of
     * them, or under {@link CorruptionPolicy#TRUNCATE} those before the cut.
     */
    private int checkChain(List<Scan> scans, List<WalRecoveryReport.DroppedRegion> dropped) throws IOException {
        for (int i = 0; i < scans.size(); i++) {
            var scan = scans.get(i);
            boolean newest = i == scans.size() - 1;
            if (scan.headerProblem != null) {
                var message = corruptionMessage(scan.path, 0, scan.base, "the segment header is damaged: "
                        + scan.headerProblem, "a segment header is synced before the segment is used");
                return cut(scans, i, -1, message, dropped);
            }
            if (i > 0 && scan.logId != scans.get(0).logId) {
                var message = corruptionMessage(scan.path, 0, scan.base, String.format(
                        "the segment belongs to another log (log id 0x%016x, not 0x%016x)",
                        scan.logId, scans.get(0).logId), "segments of different logs were mixed in one directory");
                return cut(scans, i, -1, message, dropped);
            }
            if (i > 0) {
                // Checked here, after this segment's header, rather than with the previous segment:
                // a segment renamed to another base must be reported as a header that does not match
                // its file name, not as segments missing between it and the previous one.
                var previous = scans.get(i - 1);
                if (previous.endPosition != scan.base) {
                    var message = corruptionMessage(previous.path, previous.endOffset, previous.endPosition,
                            chainProblem(previous, scan), "segments are written back to back");
                    return cut(scans, i, -1, message, dropped);
                }
            }
            // A sealed segment whose records run exactly to the next segment's base holds all of its
            // records: whatever follows them is its unused tail, not data, even where a damaged byte
            // there looks like the start of a frame that does not validate.
            if (!newest && scan.endPosition == scans.get(i + 1).base) {
                continue;
            }
            // Non-zero bytes after the last record are a torn tail or damage in the newest segment.
            // In a sealed segment they matter when its records stop short of the next segment's base:
            // then a record of it was damaged (its length zeroed, say), and the damage must be
            // reported and cut here, with the records after it kept as *.dropped, rather than taken
            // for missing segments (which made TRUNCATE zero them as a "torn tail" without a copy).
            boolean damagedTail = scan.dirtyEnd > scan.endOffset
                    && (newest || scan.endPosition < scans.get(i + 1).base);
            if (scan.problem != null || damagedTail) {
                boolean synced = scan.laterMaxDurableMark > scan.endPosition;
                if (newest && !synced) {
                    continue; // a torn tail: repaired below
                }
                String why = synced
                        ? "records after it were written when the log was already durable up to position "
                          + scan.laterMaxDurableMark + ", so this record had been synced: this is damage, not a torn write"
                        : "segment " + (i + 1) + " of " + scans.size()
                          + " was sealed, synced in full, before the next segment was started";
                var problem = scan.problem != null ? scan.problem
                        : "there is no record here (frame length 0), yet non-zero bytes follow up to file offset "
                          + scan.dirtyEnd;
                var message = corruptionMessage(scan.path, scan.endOffset, scan.endPosition, problem, why);
                if (readOnly) {
                    corruption = new WalInspection.Damage(WalInspection.DamageKind.CORRUPTION, scan.path,
                            scan.endOffset, scan.endPosition, scan.dirtyEnd - scan.endOffset, problem, message,
                            scan.storedCrc, scan.computedCrc, scan.laterValidRecords);
                }
                return cut(scans, i, scan.endOffset, message, dropped);
            }
        }
        return scans.size();
    }

    /** Why the segment {@code next} does not start where {@code previous} ends. */
    private static String chainProblem(Scan previous, Scan next) {
        if (previous.endPosition > next.base) {
            return "the segment runs to position " + previous.endPosition + ", past the start (" + next.base
                    + ") of the next segment " + next.path.getFileName();
        }
        var problem = "the segment ends at position " + previous.endPosition + " but the next segment, "
                + next.path.getFileName() + ", starts at " + next.base;
        // The writer starts a new segment only for a record that does not fit in the old one. If every
        // position in the gap would have fit, no segment can be missing: this one's records were erased.
        if (next.base - previous.endPosition <= previous.capacity - previous.endOffset) {
            return problem + ": the records between would have fit in this segment, so its records from file offset "
                    + previous.endOffset + " on were zeroed";
        }
        return problem + ": the segments holding the positions between are missing";
    }

    private String corruptionMessage(Path file, long offset, long position, String problem, String why) {
        return "WAL segment " + file + " is corrupt at file offset " + offset + " (log position " + position + "): "
                + problem + ". This is corruption, not a torn tail: " + why + ". Nothing was changed on disk. "
                + "Restore the directory from a backup, or open the log with corruptionPolicy=TRUNCATE to cut it at "
                + "position " + position + " (the cut bytes are kept as *.dropped files beside the log).";
    }

    /**
     * Applies the corruption policy at segment {@code index}: fails, or cuts there. A cut at
     * {@code offset} keeps the segment up to that offset; {@code offset} -1 drops the whole segment.
     */
    private int cut(List<Scan> scans, int index, long offset, String message,
                    List<WalRecoveryReport.DroppedRegion> dropped) throws IOException {
        var damaged = scans.get(index);
        if (readOnly) {
            return planCut(scans, index, offset, message);
        }
        if (options.corruptionPolicy() == CorruptionPolicy.FAIL) {
            throw new WalCorruptionException(message, damaged.path, offset);
        }
        log.error("{} Cutting the log as corruptionPolicy=TRUNCATE asks.", message);
        int keep = index;
        if (offset >= 0) {
            keep = index + 1;
            long bytes = damaged.dirtyEnd - offset;
            var keptAs = unusedPath(damaged.path.resolveSibling(
                    WalFileNames.droppedFileName(damaged.path.getFileName().toString(), offset)));
            copyRegion(damaged.channel, offset, bytes, keptAs);
            zero(damaged.channel, offset, damaged.dirtyEnd);
            damaged.channel.force(false);
            damaged.dirtyEnd = offset;
            damaged.problem = null;
            dropped.add(new WalRecoveryReport.DroppedRegion(damaged.path, damaged.endPosition, bytes,
                    damaged.laterValidRecords, keptAs, message));
        }
        for (int i = offset >= 0 ? index + 1 : index; i < scans.size(); i++) {
            var scan = scans.get(i);
            var keptAs = unusedPath(scan.path.resolveSibling(
                    WalFileNames.droppedFileName(scan.path.getFileName().toString())));
            scan.channel.close();
            io.atomicMove(scan.path, keptAs);
            dropped.add(new WalRecoveryReport.DroppedRegion(scan.path, scan.base, scan.fileSize,
                    scan.records + scan.laterValidRecords, keptAs, message));
        }
        return keep;
    }

    /** In read-only mode: records what {@link #cut} would do under TRUNCATE, and does nothing. */
    private int planCut(List<Scan> scans, int index, long offset, String message) {
        var damaged = scans.get(index);
        if (corruption == null) {
            corruption = new WalInspection.Damage(WalInspection.DamageKind.CORRUPTION, damaged.path, Math.max(offset, 0),
                    damaged.base, offset >= 0 ? damaged.dirtyEnd - offset : damaged.fileSize, message, message,
                    null, null, damaged.laterValidRecords);
        }
        int keep = index;
        if (offset >= 0) {
            keep = index + 1;
            plannedCut.add(new WalRecoveryReport.DroppedRegion(damaged.path, damaged.endPosition,
                    damaged.dirtyEnd - offset, damaged.laterValidRecords, unusedPath(damaged.path.resolveSibling(
                    WalFileNames.droppedFileName(damaged.path.getFileName().toString(), offset))), message));
            damaged.dirtyEnd = offset;
            damaged.problem = null;
        }
        for (int i = offset >= 0 ? index + 1 : index; i < scans.size(); i++) {
            var scan = scans.get(i);
            plannedCut.add(new WalRecoveryReport.DroppedRegion(scan.path, scan.base, scan.fileSize,
                    scan.records + scan.laterValidRecords, unusedPath(scan.path.resolveSibling(
                    WalFileNames.droppedFileName(scan.path.getFileName().toString()))), message));
        }
        return keep;
    }

    /**
     * {@code path} if no such file exists, else the first free {@code path.2}, {@code path.3}, ...
     * A second cut at the same place (a bad sector damaging the rewritten record, or a log cut away
     * completely twice) used to replace the bytes an earlier cut had kept.
     */
    private static Path unusedPath(Path path) {
        var candidate = path;
        for (int n = 2; Files.exists(candidate, LinkOption.NOFOLLOW_LINKS); n++) {
            candidate = path.resolveSibling(path.getFileName() + "." + n);
        }
        return candidate;
    }

    /** Zeroes a torn tail of the newest segment and pads a short file to its capacity. */
    private long repairTornTail(Scan scan) throws IOException {
        long torn = scan.dirtyEnd - scan.endOffset;
        if (torn > 0) {
            zero(scan.channel, scan.endOffset, scan.dirtyEnd);
            log.warn("WAL segment {}: cut a torn tail of {} bytes at file offset {} (log position {}): {}; "
                            + "{} later frames that validated were never acknowledged as durable",
                    scan.path, torn, scan.endOffset, scan.endPosition,
                    scan.problem != null ? scan.problem : "non-zero bytes after the last record",
                    scan.laterValidRecords);
            options.listener().onTornTailTruncated(scan.path, scan.endOffset, torn);
        }
        if (scan.fileSize < scan.capacity) {
            zero(scan.channel, scan.fileSize, scan.capacity);
        }
        // Whatever an earlier process wrote may sit in the page cache only: sync it before we call it durable.
        scan.channel.force(false);
        return torn;
    }

    /** Writes zeros over [from, to) of the file. */
    static void zero(FileChannel channel, long from, long to) throws IOException {
        var zeros = ByteBuffer.allocateDirect((int) Math.min(1 << 20, Math.max(0, to - from)));
        while (from < to) {
            zeros.clear().limit((int) Math.min(zeros.capacity(), to - from));
            while (zeros.hasRemaining()) {
                from += channel.write(zeros, from);
            }
        }
    }

    private void copyRegion(FileChannel source, long from, long bytes, Path target) throws IOException {
        try (var out = io.open(target, EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE))) {
            long copied = 0;
            while (copied < bytes) {
                copied += source.transferTo(from + copied, bytes - copied, out);
            }
            out.force(true);
        }
    }

    static void readFully(FileChannel channel, ByteBuffer buffer, long offset) throws IOException {
        while (buffer.hasRemaining()) {
            int n = channel.read(buffer, offset);
            if (n < 0) {
                return;
            }
            offset += n;
        }
    }
}

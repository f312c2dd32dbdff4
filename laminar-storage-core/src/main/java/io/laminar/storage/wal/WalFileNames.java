package io.laminar.storage.wal;

import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The names of a log's files in its directory, part of the on-disk format (version 1, with
 * {@link WalFormat}). A log named {@code <name>} ({@link WalOptions#name()}: 1 to 64 letters,
 * digits, {@code '_'} or inner {@code '-'}) has these files:
 * <pre>
 * name                           what
 * &lt;name&gt;-&lt;base&gt;.wal              a segment; &lt;base&gt; is the position of its first record as 20
 *                                decimal digits, zero-padded (so the names sort in position order),
 *                                and equals the base position in the segment's header
 * &lt;name&gt;.lock                    the lock file: empty, and locked while the log is open
 * &lt;name&gt;-next.wal.tmp            the next segment, being pre-written with zeros; deleted by open
 * &lt;name&gt;-sparse.wal.tmp          the next segment when the pre-written one is not ready; deleted
 *                                by open
 * &lt;segment&gt;.dropped-&lt;offset&gt;     the bytes from file offset &lt;offset&gt; on of a segment that
 *                                {@link CorruptionPolicy#TRUNCATE} cut there
 * &lt;segment&gt;.dropped              a whole segment that {@link CorruptionPolicy#TRUNCATE} cut away
 * </pre>
 * where {@code <segment>} is a segment's file name. A {@code .dropped} name already taken by an
 * earlier cut gets {@code .2}, {@code .3}, ... appended. Of these files, only segments are ever
 * read back.
 *
 * <p>Several logs may share a directory under different names: a file name belongs to at most one
 * log (names hold no {@code '.'}, and a segment's name ends in exactly 20 digits and
 * {@code .wal}), which {@link #segmentBase} and {@link #logName} rely on.
 *
 * <p>Stateless; thread-safe.
 */
public final class WalFileNames {

    private static final Pattern LOG_NAME = Pattern.compile("[A-Za-z0-9_]+(-[A-Za-z0-9_]+)*");
    private static final int MAX_LOG_NAME_LENGTH = 64;
    private static final int BASE_DIGITS = 20;
    private static final String SEGMENT_SUFFIX = ".wal";
    private static final String LOCK_SUFFIX = ".lock";

    private WalFileNames() {
    }

    /** The file name of the segment of log {@code logName} whose first record is at {@code basePosition}. */
    public static String segmentFileName(String logName, long basePosition) {
        return String.format("%s-%020d%s", logName, basePosition, SEGMENT_SUFFIX);
    }

    /** The file name of the lock file of log {@code logName}. */
    public static String lockFileName(String logName) {
        return logName + LOCK_SUFFIX;
    }

    /**
     * The base position in {@code fileName} if it is the name of a segment of log {@code logName},
     * otherwise -1.
     */
    public static long segmentBase(String logName, String fileName) {
        int prefix = logName.length() + 1;
        if (fileName.length() != prefix + BASE_DIGITS + SEGMENT_SUFFIX.length() || !fileName.startsWith(logName)
                || fileName.charAt(logName.length()) != '-' || !fileName.endsWith(SEGMENT_SUFFIX)) {
            return -1;
        }
        return parseBase(fileName, prefix);
    }

    /**
     * The name of the log that {@code fileName} is a segment or the lock file of; empty if it is
     * neither (including the other files of a log, see above).
     */
    public static Optional<String> logName(String fileName) {
        String logName;
        if (fileName.endsWith(LOCK_SUFFIX)) {
            logName = fileName.substring(0, fileName.length() - LOCK_SUFFIX.length());
        } else {
            int prefix = fileName.length() - SEGMENT_SUFFIX.length() - BASE_DIGITS; // after the '-'
            if (prefix < 2 || !fileName.endsWith(SEGMENT_SUFFIX) || fileName.charAt(prefix - 1) != '-'
                    || parseBase(fileName, prefix) < 0) {
                return Optional.empty();
            }
            logName = fileName.substring(0, prefix - 1);
        }
        return isLogName(logName) ? Optional.of(logName) : Optional.empty();
    }

    /** Whether {@code name} may name a log (see the class comment). */
    static boolean isLogName(String name) {
        return name != null && name.length() <= MAX_LOG_NAME_LENGTH && LOG_NAME.matcher(name).matches();
    }

    /** The file name of the pre-written next segment of log {@code logName}. */
    static String spareFileName(String logName) {
        return logName + "-next.wal.tmp";
    }

    /** The file name of the sparse next segment of log {@code logName}. */
    static String sparseFileName(String logName) {
        return logName + "-sparse.wal.tmp";
    }

    /** The file name that keeps the bytes cut from segment {@code segmentFileName} at {@code offset}. */
    static String droppedFileName(String segmentFileName, long offset) {
        return segmentFileName + ".dropped-" + offset;
    }

    /** The file name that keeps segment {@code segmentFileName}, cut away whole. */
    static String droppedFileName(String segmentFileName) {
        return segmentFileName + ".dropped";
    }

    /** The 20 digits from {@code from} as a position, or -1 if they are not digits or too large. */
    private static long parseBase(String fileName, int from) {
        long base = 0;
        for (int i = from; i < from + BASE_DIGITS; i++) {
            char c = fileName.charAt(i);
            if (c < '0' || c > '9' || base > (Long.MAX_VALUE - (c - '0')) / 10) {
                return -1;
            }
            base = base * 10 + (c - '0');
        }
        return base;
    }
}

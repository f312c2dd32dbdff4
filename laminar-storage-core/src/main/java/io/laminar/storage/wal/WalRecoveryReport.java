package io.laminar.storage.wal;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * What {@link WriteAheadLog#open} found and repaired.
 *
 * @param segments           segments present after the repair
 * @param records            valid records found
 * @param startPosition      the oldest position still in the log
 * @param endPosition        the position the next record will get
 * @param tornTailBytes      bytes cut off a torn tail (0 if the tail was clean)
 * @param dropped            what an opt-in {@link CorruptionPolicy#TRUNCATE} cut off; empty otherwise
 * @param duration           how long the open took
 */
public record WalRecoveryReport(
        int segments,
        long records,
        long startPosition,
        long endPosition,
        long tornTailBytes,
        List<DroppedRegion> dropped,
        Duration duration) {

    public WalRecoveryReport {
        dropped = List.copyOf(dropped);
    }

    /**
     * A region cut off by {@link CorruptionPolicy#TRUNCATE}.
     *
     * @param file          the file the bytes came from
     * @param fromPosition  the first log position dropped
     * @param bytes         how many bytes of that file were dropped
     * @param validRecords  how many records in the dropped bytes still passed their checksum
     * @param keptAs        where the dropped bytes were kept
     * @param reason        why the log was cut there
     */
    public record DroppedRegion(Path file, long fromPosition, long bytes, long validRecords, Path keptAs,
                                String reason) {
    }
}

package io.laminar.storage.percore;

import io.laminar.storage.StorageException;
import io.laminar.storage.wal.WalInspection;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * {@link PerCoreWalView#inspect}: each core's log as a {@link WalInspection}, or none (an empty log
 * at position 0, as open would create it). Immutable; reads the segment files on each call.
 */
final class InspectedPerCoreWal implements PerCoreWalView {

    private final Path directory;
    private final WalInspection[] logs; // null: no segment, as a log open would create at 0
    private final int keyGroups;

    private InspectedPerCoreWal(Path directory, WalInspection[] logs, int keyGroups) {
        this.directory = directory;
        this.logs = logs;
        this.keyGroups = keyGroups;
    }

    static InspectedPerCoreWal of(Path directory) {
        int highest = -1;
        try {
            for (var name : WalInspection.logNames(directory)) {
                highest = Math.max(highest, CoreRecordFormat.core(name));
            }
        } catch (IOException e) {
            throw new StorageException("cannot list the per-core WAL directory " + directory + ": " + e, e);
        }
        if (highest < 0) {
            throw new StorageException("the directory " + directory + " holds no core's log (core-NNNN)");
        }
        var logs = new WalInspection[highest + 1];
        for (int core = 0; core <= highest; core++) {
            var log = WalInspection.of(directory, CoreRecordFormat.walName(core));
            var corruption = log.corruptionIfAny();
            if (corruption.isPresent()) {
                throw new StorageException(corruption.get().message() != null ? corruption.get().message()
                        : "the log of core " + core + " in " + directory + " is corrupt: " + corruption.get().problem());
            }
            logs[core] = log.segments().isEmpty() ? null : log;
        }
        return new InspectedPerCoreWal(directory, logs, WalLayout.read(directory).map(WalLayout::keyGroups).orElse(0));
    }

    static InspectedPerCoreWal empty(int cores, int keyGroups) {
        if (cores <= 0) {
            throw new IllegalArgumentException("cores must be positive: " + cores);
        }
        return new InspectedPerCoreWal(Path.of("(an empty WAL)"), new WalInspection[cores], keyGroups);
    }

    @Override
    public int keyGroups() {
        return keyGroups;
    }

    @Override
    public int cores() {
        return logs.length;
    }

    @Override
    public Path directory() {
        return directory;
    }

    private long start(int core) {
        var log = logs[core];
        return log == null || log.keptSegments().isEmpty() ? 0 : log.keptSegments().get(0).basePosition();
    }

    private long end(int core) {
        var log = logs[core];
        return log == null ? 0 : Math.max(start(core), log.endPosition());
    }

    @Override
    public CorePositions startPositions() {
        var positions = new long[cores()];
        for (int core = 0; core < positions.length; core++) {
            positions[core] = start(core);
        }
        return CorePositions.of(positions);
    }

    @Override
    public CorePositions durablePositions() {
        // Opening a log makes everything it keeps durable.
        var positions = new long[cores()];
        for (int core = 0; core < positions.length; core++) {
            positions[core] = end(core);
        }
        return CorePositions.of(positions);
    }

    @Override
    public boolean isBarrierAt(int core, long position, long barrierEpoch) {
        checkCore(core);
        if (logs[core] == null || position < start(core) || position >= end(core)) {
            return false;
        }
        try {
            var record = logs[core].cursor(position).next();
            if (record == null || record.position() != position) {
                return false;
            }
            var entry = CoreCursor.decode(directory, core, record);
            return entry.kind() == RecordKind.BARRIER && entry.epoch() == barrierEpoch;
        } catch (IllegalArgumentException e) {
            return false;
        } catch (StorageException e) {
            // The inspection found the log whole, so a file that cannot be read now was changed or
            // deleted meanwhile (a live application truncated it): not "another WAL's checkpoint".
            throw new StorageException("the log of core " + core + " in " + directory + " changed while it was"
                    + " inspected (" + e.getMessage() + "); run the command again", e);
        }
    }

    @Override
    public boolean canAdopt(CorePositions positions, long checkpointEpoch) {
        checkCores(positions);
        for (int core = 0; core < cores(); core++) {
            long position = positions.position(core);
            long records = logs[core] == null ? 0 : logs[core].records();
            boolean empty = records == 0 && start(core) == end(core);
            boolean adopted = records == 1 && start(core) == position && isBarrierAt(core, position, checkpointEpoch);
            if (!(empty && start(core) <= position) && !adopted) {
                return false;
            }
        }
        return true;
    }

    @Override
    public ReplayResult replay(CorePositions from, Consumer<CoreRecord> visitor) {
        checkCores(from);
        var cursors = new CoreCursor[cores()];
        for (int core = 0; core < cursors.length; core++) {
            long position = from.position(core);
            CoreCursor.Source source;
            if (logs[core] == null) {
                if (position != 0) {
                    throw new IllegalArgumentException("no record of core " + core + " in " + directory
                            + " starts at position " + position + " (its log is empty)");
                }
                source = CoreCursor.Source.EMPTY;
            } else {
                source = CoreCursor.Source.of(logs[core].cursor(position));
            }
            cursors[core] = new CoreCursor(directory, core, source, end(core));
            cursors[core].advance();
        }
        return CoreCursor.merge(cursors, Long.MAX_VALUE, visitor);
    }

    @Override
    public Path segmentFile(int core, long position) {
        checkCore(core);
        if (logs[core] != null) {
            for (var segment : logs[core].keptSegments()) {
                if (position >= segment.basePosition() && position < segment.endPosition()) {
                    return segment.path();
                }
            }
        }
        throw new IllegalArgumentException("position " + position + " is not in the log of core " + core + " in "
                + directory);
    }

    private void checkCore(int core) {
        if (core < 0 || core >= cores()) {
            throw new IllegalArgumentException("core " + core + " does not exist: cores is " + cores());
        }
    }

    private void checkCores(CorePositions positions) {
        if (positions.cores() != cores()) {
            throw new IllegalArgumentException("positions for " + positions.cores() + " cores, but the WAL in "
                    + directory + " has " + cores());
        }
    }
}

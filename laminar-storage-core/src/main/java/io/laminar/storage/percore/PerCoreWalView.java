package io.laminar.storage.percore;

import io.laminar.storage.StorageException;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * What recovery reads of a per-core WAL: its positions, its barriers and its replay. An open
 * {@link PerCoreWalManager} is one; {@link #inspect} gives one over a directory that is not opened
 * (no lock, no repair, nothing written), for tools that ask what recovery would do now, such as
 * {@code RecoveryManager.dryRun} and the {@code laminar} operator tool.
 */
public interface PerCoreWalView {

    /** How many cores. */
    int cores();

    /** The directory of the logs. */
    Path directory();

    /**
     * How many key groups the keys of this WAL are spread over (its {@link WalLayout}), or 0 if it
     * records none: written before key groups, its keys placed by an older hash; or
     * {@link #ANY_KEY_GROUPS} for {@link #empty(int)}.
     */
    int keyGroups();

    /** The position of the oldest record still in each core's log. */
    CorePositions startPositions();

    /** Every record of each core before this position is durable (and is replayed). */
    CorePositions durablePositions();

    /** See {@link PerCoreWalManager#isBarrierAt}. */
    boolean isBarrierAt(int core, long position, long barrierEpoch);

    /** See {@link PerCoreWalManager#canAdopt}. */
    boolean canAdopt(CorePositions positions, long checkpointEpoch);

    /** See {@link PerCoreWalManager#replay(CorePositions, Consumer)}. */
    ReplayResult replay(CorePositions from, Consumer<CoreRecord> visitor);

    /** The segment file of {@code core}'s log that holds the record at {@code position}. */
    Path segmentFile(int core, long position);

    /**
     * A read-only view of the per-core WAL in {@code directory} as {@link PerCoreWalManager#open}
     * would find it now, through {@link io.laminar.storage.wal.WalInspection} (the classification
     * of open-time recovery without its repair): a torn tail counts as cut off, as open would cut
     * it. The number of cores is the directory's (its highest core's log, plus one). Takes no
     * lock, changes nothing; another process may be writing the logs meanwhile.
     *
     * @throws StorageException if a log holds corruption, on which open would fail (the message is
     *                          open's), or the directory cannot be read or holds no core's log
     */
    static PerCoreWalView inspect(Path directory) {
        return InspectedPerCoreWal.of(directory);
    }

    /**
     * A view of {@code cores} empty logs starting at position 0, as a new data directory's: recovery
     * over it adopts the newest usable checkpoint, so its state is exactly that checkpoint's.
     */
    static PerCoreWalView empty(int cores) {
        return InspectedPerCoreWal.empty(cores, ANY_KEY_GROUPS);
    }

    /**
     * What {@link #keyGroups()} of {@link #empty(int)} returns: it takes the key groups of the
     * checkpoint it restores, as a new data directory created for it would.
     */
    int ANY_KEY_GROUPS = -1;

    /** {@link #empty(int)} whose {@link #keyGroups()} is {@code keyGroups} (0: none recorded). */
    static PerCoreWalView empty(int cores, int keyGroups) {
        return InspectedPerCoreWal.empty(cores, keyGroups);
    }
}

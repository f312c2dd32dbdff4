package io.laminar.storage.checkpoint;

import java.time.Duration;

/**
 * What a {@link Rescaler} did when a data directory or a checkpoint was restored with another number
 * of cores than it was written with. Immutable.
 *
 * @param oldCores           the cores the state was written with
 * @param newCores           the cores it now has
 * @param keyGroups          the number of key groups (unchanged by a rescale)
 * @param keyGroupsMoved     how many key groups changed core; every one of them when the old state
 *                           was placed before key groups ({@code legacyPlacement})
 * @param legacyPlacement    whether the old state was written before key groups existed (keys placed
 *                           by an older hash), so that every key was re-placed
 * @param restoredCheckpoint the checkpoint of the old layout the state was restored from, or null
 *                           (the old WAL alone)
 * @param rescaleCheckpoint  the checkpoint of the rescaled state, which the new layout starts from
 * @param stateBytesRead     the bytes of the old checkpoint's state files read
 * @param walBytesRead       the bytes of the old WAL replayed after that checkpoint
 * @param entries            the entries of the rescaled state, all cores
 * @param duration           how long the rescale took, from the first read to the switch
 */
public record RescaleReport(int oldCores, int newCores, int keyGroups, int keyGroupsMoved, boolean legacyPlacement,
        Long restoredCheckpoint, long rescaleCheckpoint, long stateBytesRead, long walBytesRead, long entries,
        Duration duration) {

    /** The bytes read from the old layout: state files and WAL. */
    public long bytesRead() {
        return stateBytesRead + walBytesRead;
    }
}

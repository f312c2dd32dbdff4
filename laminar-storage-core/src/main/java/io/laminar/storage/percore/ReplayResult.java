package io.laminar.storage.percore;

/**
 * What a {@link PerCoreWalManager#replay} visited.
 *
 * @param records      how many records (data and barriers) were passed to the visitor
 * @param lastEpoch    the highest epoch visited, or -1 if none
 * @param nextPositions per core, the position after the last visited record (the start position
 *                     if none was visited): where replaying that core would continue
 */
public record ReplayResult(long records, long lastEpoch, CorePositions nextPositions) {
}

package io.laminar.storage.checkpoint;

/**
 * How a checkpoint names what belongs to each core; part of the checkpoint format, so these
 * spellings never change without a manifest format version bump.
 *
 * <ul>
 *   <li>{@link #name(int) core-0003}: the manifest's operator entry that lists core 3's chain of
 *       state files (oldest first: a full file, then deltas), and, by default, the connector entry
 *       holding the source offsets core 3 reported at its cut. Operator and connector names that
 *       start with it are reserved for the core.</li>
 *   <li>{@link #stateFilePath state/core-0003/00000000000000000042-delta.lsf}: the store path of
 *       the state file checkpoint 42 wrote for core 3 ({@code full} or {@code delta}, in
 *       {@link StateFileFormat}).</li>
 * </ul>
 * Stateless.
 */
public final class CoreChains {

    private CoreChains() {
    }

    /** The name of core {@code core}'s entries in a manifest: {@code core-0003}. */
    public static String name(int core) {
        return String.format("core-%04d", core);
    }

    /** The store path of the state file that checkpoint {@code checkpointId} writes for {@code core}. */
    static String stateFilePath(int core, long checkpointId, boolean full) {
        return String.format("state/%s/%020d-%s.lsf", name(core), checkpointId, full ? "full" : "delta");
    }

    /**
     * As {@link #stateFilePath(int, long, boolean)}, written by the owner of epoch {@code ownerEpoch}
     * of a claimed store: {@code state/core-0003/00000000000000000042-e7-delta.lsf} (-1: an unclaimed
     * store, the name without the epoch). The epoch in the name keeps a fenced owner's late delete
     * away from a newer owner's files ({@link io.laminar.storage.store.OwnerFences}).
     */
    static String stateFilePath(int core, long checkpointId, boolean full, long ownerEpoch) {
        if (ownerEpoch < 0) {
            return stateFilePath(core, checkpointId, full);
        }
        return String.format("state/%s/%020d-e%d-%s.lsf", name(core), checkpointId, ownerEpoch,
                full ? "full" : "delta");
    }
}

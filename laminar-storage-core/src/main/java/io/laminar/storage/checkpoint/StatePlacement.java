package io.laminar.storage.checkpoint;

import io.laminar.storage.KeyGroups;
import java.util.List;

/**
 * Where each entry of a core's state belongs, so that a {@link Rescaler} can move it when the number
 * of cores changes. Cores own contiguous ranges of key groups ({@link KeyGroups}); an entry either
 * belongs to one key group (keyed state: it moves, whole with its group, to the core that owns the
 * group) or to the core itself ({@link #CORE_LOCAL}: bookkeeping such as a source position, which
 * the application merges with {@link #mergeCoreLocal}).
 *
 * <p>The placement must agree with how the application routes its work: an entry put by a task on
 * core {@code c} must belong to a key group core {@code c} owns. A rescale checks this for every
 * entry and refuses to move state that breaks it (it would land where the application never looks).
 *
 * <p>Implementations must be stateless and thread-safe; a rescale calls them from several threads
 * at once, before any core thread starts.
 */
public interface StatePlacement {

    /** What {@link #keyGroupOf} returns for an entry that belongs to its core, not to a key group. */
    int CORE_LOCAL = -1;

    /**
     * The default: every stored key is its own routing key, its key group
     * {@link KeyGroups#keyGroupOf KeyGroups.keyGroupOf(storeKey, keyGroups)}, which is what
     * {@code LaminarRuntime.coreOf(storeKey)} routes by.
     */
    StatePlacement BY_STORE_KEY = KeyGroups::keyGroupOf;

    /**
     * The key group of the stored entry {@code storeKey} among {@code keyGroups}, or
     * {@link #CORE_LOCAL}.
     */
    int keyGroupOf(byte[] storeKey, int keyGroups);

    /**
     * The value a core-local entry {@code storeKey} gets on a core of the new layout, or null for none.
     *
     * @param storeKey  the key of the entry
     * @param values    the entry's value on each old core whose keys move to this core, in old core
     *                  order, null where that core had no such entry (at least one is not null):
     *                  the old cores whose key-group ranges overlap {@code range}; all old cores when
     *                  the old state was placed before key groups existed
     * @param range     the key groups the new core owns
     * @param keyGroups the number of key groups
     * @throws IllegalStateException by default: an application with core-local entries must say how
     *                               they merge
     */
    default byte[] mergeCoreLocal(byte[] storeKey, List<byte[]> values, KeyGroups.Range range, int keyGroups) {
        throw new IllegalStateException("the state placement " + this + " calls an entry core-local but does not"
                + " say how to merge it when the number of cores changes: implement"
                + " StatePlacement.mergeCoreLocal");
    }
}

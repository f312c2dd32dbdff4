package io.laminar.storage.changelog;

import io.laminar.storage.state.StateSnapshot;
import java.util.Map;
import java.util.Objects;

/**
 * What one core thread captured at its checkpoint barrier, in {@link CoreChangelog#pollCheckpoint}:
 * its state and source offsets exactly at the point where its barrier for {@code epoch} sits in its
 * changelog (every change published before it is in {@code state}, none after). Immutable and safe to
 * hand to any thread.
 *
 * @param core          the core
 * @param epoch         the epoch whose barrier marks the cut
 * @param state         the core's state at the cut (an O(1) snapshot)
 * @param sourceOffsets what the core thread reported as its source positions at the cut
 */
public record CoreCut(int core, long epoch, StateSnapshot state, Map<String, String> sourceOffsets) {

    public CoreCut {
        Objects.requireNonNull(state, "state");
        sourceOffsets = Map.copyOf(sourceOffsets);
    }
}

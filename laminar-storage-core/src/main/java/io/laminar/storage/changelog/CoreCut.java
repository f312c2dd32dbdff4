package io.laminar.storage.changelog;

import io.laminar.storage.state.StateSnapshot;
import java.util.Map;
import java.util.Objects;

/**
 * What one core thread captured at its checkpoint barrier, in {@link CoreChangelog#pollCheckpoint}:
 * its state and {@link CutContext} (source offsets, watermark, operator states) exactly at the point where its barrier for {@code epoch} sits in its
 * changelog (every change published before it is in {@code state}, none after). Immutable and safe to
 * hand to any thread.
 *
 * @param core          the core
 * @param epoch         the epoch whose barrier marks the cut
 * @param state         the core's state at the cut (an O(1) snapshot)
 * @param context       what the core thread reported at the cut: source positions, watermark and
 *                      small operator states
 */
public record CoreCut(int core, long epoch, StateSnapshot state, CutContext context) {

    public CoreCut {
        Objects.requireNonNull(state, "state");
        context = context == null ? CutContext.EMPTY : context;
    }

    /** A cut with source offsets only. */
    public CoreCut(int core, long epoch, StateSnapshot state, Map<String, String> sourceOffsets) {
        this(core, epoch, state, CutContext.ofSourceOffsets(sourceOffsets));
    }

    /** What the core thread reported as its source positions at the cut. */
    public Map<String, String> sourceOffsets() {
        return context.sourceOffsets();
    }

    /** The core's event-time watermark at the cut, or {@link Long#MIN_VALUE} if it reported none. */
    public long watermark() {
        return context.watermark();
    }
}

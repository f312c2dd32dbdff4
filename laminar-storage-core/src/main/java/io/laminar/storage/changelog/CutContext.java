package io.laminar.storage.changelog;

import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a core thread reports at its checkpoint cut besides its state, captured in
 * {@link CoreChangelog#pollCheckpointWithContext} at the very point of its barrier, so that all of it
 * is consistent with the state snapshot taken there. Immutable (the arrays are copied in and out).
 *
 * @param sourceOffsets  the core's source positions at the cut
 * @param watermark      the core's event-time watermark at the cut, or {@link Long#MIN_VALUE} if it has none
 * @param operatorStates small operator states of the core at the cut, by operator name (kept inline
 *                       in the checkpoint's manifest: keep them small)
 */
public record CutContext(Map<String, String> sourceOffsets, long watermark, Map<String, byte[]> operatorStates) {

    /** No offsets, no watermark, no operator state. */
    public static final CutContext EMPTY = new CutContext(Map.of(), Long.MIN_VALUE, Map.of());

    public CutContext {
        sourceOffsets = sourceOffsets == null ? Map.of() : Map.copyOf(sourceOffsets);
        operatorStates = copy(operatorStates);
    }

    /** Only source offsets: no watermark, no operator state. */
    public static CutContext ofSourceOffsets(Map<String, String> sourceOffsets) {
        return new CutContext(sourceOffsets, Long.MIN_VALUE, Map.of());
    }

    /** The operator states, as copies. */
    @Override
    public Map<String, byte[]> operatorStates() {
        return copy(operatorStates);
    }

    private static Map<String, byte[]> copy(Map<String, byte[]> states) {
        if (states == null || states.isEmpty()) {
            return Map.of();
        }
        var out = new TreeMap<String, byte[]>();
        states.forEach((name, bytes) -> out.put(name, bytes == null ? new byte[0] : bytes.clone()));
        return Collections.unmodifiableMap(out);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof CutContext other) || watermark != other.watermark
                || !sourceOffsets.equals(other.sourceOffsets)
                || !operatorStates.keySet().equals(other.operatorStates.keySet())) {
            return false;
        }
        for (var e : operatorStates.entrySet()) {
            if (!Arrays.equals(e.getValue(), other.operatorStates.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        int h = sourceOffsets.hashCode() * 31 + Long.hashCode(watermark);
        for (var e : operatorStates.entrySet()) {
            h += e.getKey().hashCode() ^ Arrays.hashCode(e.getValue());
        }
        return h;
    }

    @Override
    public String toString() {
        return "CutContext[sourceOffsets=" + sourceOffsets + ", watermark=" + watermark + ", operatorStates="
                + operatorStates.keySet() + "]";
    }
}

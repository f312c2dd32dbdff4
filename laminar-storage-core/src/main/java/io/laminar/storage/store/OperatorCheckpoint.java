package io.laminar.storage.store;

import java.util.Arrays;
import java.util.List;

/**
 * One operator's state at a checkpoint: small state inline in the manifest, larger state in state
 * files (paths relative to the store root, each also listed in {@link CheckpointManifest#files()}).
 * Immutable.
 *
 * @param inline     small state, stored base64 in the manifest; empty if none
 * @param stateFiles the files holding the rest, in the order the operator restores them
 */
public record OperatorCheckpoint(byte[] inline, List<String> stateFiles) {

    public OperatorCheckpoint {
        inline = inline == null ? new byte[0] : inline.clone();
        stateFiles = List.copyOf(stateFiles);
    }

    @Override
    public byte[] inline() {
        return inline.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OperatorCheckpoint other && Arrays.equals(inline, other.inline)
                && stateFiles.equals(other.stateFiles);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(inline) + stateFiles.hashCode();
    }

    @Override
    public String toString() {
        return "OperatorCheckpoint[inline=" + inline.length + " bytes, stateFiles=" + stateFiles + "]";
    }
}

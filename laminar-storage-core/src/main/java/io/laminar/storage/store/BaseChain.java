package io.laminar.storage.store;

import java.util.List;
import java.util.Objects;

/**
 * A state chain of an older checkpoint that a rescaled checkpoint reads again instead of rewriting
 * it: the files of old core {@code core}'s chain (full first), of which only the entries in key
 * groups {@code firstKeyGroup} (inclusive) to {@code endKeyGroup} (exclusive) belong to the core
 * that references it. Immutable. See {@link CheckpointManifest#baseChains()}.
 *
 * @param core          the old core whose chain it is (the core its files' headers name)
 * @param firstKeyGroup the first key group taken from it
 * @param endKeyGroup   the key group after the last one taken from it
 * @param stateFiles    the chain's files, full first, every one listed in the manifest's {@code files}
 */
public record BaseChain(int core, int firstKeyGroup, int endKeyGroup, List<String> stateFiles) {

    public BaseChain {
        stateFiles = List.copyOf(Objects.requireNonNull(stateFiles, "stateFiles"));
        if (core < 0) {
            throw new IllegalArgumentException("core must not be negative, but was " + core);
        }
        if (firstKeyGroup < 0 || endKeyGroup <= firstKeyGroup) {
            throw new IllegalArgumentException("key groups " + firstKeyGroup + " to " + endKeyGroup
                    + " are no range: firstKeyGroup must be at least 0 and below endKeyGroup");
        }
        if (stateFiles.isEmpty()) {
            throw new IllegalArgumentException("the base chain of core " + core + " has no state file");
        }
    }

    /** Whether key group {@code group} is taken from this chain. */
    public boolean holds(int group) {
        return group >= firstKeyGroup && group < endKeyGroup;
    }

    /** "key groups 0 to 63 of old core 1", for messages. */
    public String describe() {
        return "key groups " + firstKeyGroup + " to " + (endKeyGroup - 1) + " of old core " + core;
    }
}

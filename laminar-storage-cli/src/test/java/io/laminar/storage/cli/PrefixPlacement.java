package io.laminar.storage.cli;

import io.laminar.storage.KeyGroups;
import io.laminar.storage.checkpoint.StatePlacement;
import java.util.Arrays;

/**
 * An application's placement for {@link RescalePlacementIT}: a key {@code <entity>:<field>} belongs to
 * the key group of {@code <entity>}, which is what the application routes by (not the whole key).
 */
public final class PrefixPlacement implements StatePlacement {

    /** The part of {@code key} the application routes by: up to the first ':'. */
    static byte[] routingKey(byte[] key) {
        for (int i = 0; i < key.length; i++) {
            if (key[i] == ':') {
                return Arrays.copyOf(key, i);
            }
        }
        return key;
    }

    @Override
    public int keyGroupOf(byte[] storeKey, int keyGroups) {
        return KeyGroups.keyGroupOf(routingKey(storeKey), keyGroups);
    }

    @Override
    public String toString() {
        return "PrefixPlacement";
    }
}

package io.laminar.storage.state;

import java.util.Arrays;

/**
 * How one key differs between two snapshots: its new value, or a deletion. Equality compares bytes.
 *
 * @param key   the key bytes
 * @param value the new value, or {@code null} if the key was deleted
 */
public record StateChange(byte[] key, byte[] value) {

    /** A deletion of {@code key}. */
    public static StateChange deleted(byte[] key) {
        return new StateChange(key, null);
    }

    /** Whether the key was deleted. */
    public boolean isDelete() {
        return value == null;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StateChange c && Arrays.equals(key, c.key) && Arrays.equals(value, c.value);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(key) + Arrays.hashCode(value);
    }

    @Override
    public String toString() {
        return StateSnapshot.hex(key) + (value == null ? " deleted" : "=" + StateSnapshot.hex(value));
    }
}

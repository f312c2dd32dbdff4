package io.laminar.storage.state;

import java.util.Arrays;

/**
 * One key and its value. Equality and hash code compare the bytes, not the array identities.
 *
 * @param key   the key bytes
 * @param value the value bytes
 */
public record StateEntry(byte[] key, byte[] value) {

    @Override
    public boolean equals(Object o) {
        return o instanceof StateEntry e && Arrays.equals(key, e.key) && Arrays.equals(value, e.value);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(key) + Arrays.hashCode(value);
    }

    @Override
    public String toString() {
        return StateSnapshot.hex(key) + "=" + StateSnapshot.hex(value);
    }
}

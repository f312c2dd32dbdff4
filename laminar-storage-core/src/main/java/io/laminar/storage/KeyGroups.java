package io.laminar.storage;

import java.util.Arrays;

/**
 * How keys are spread over cores: every key belongs to one of a fixed number of <em>key groups</em>
 * (chosen once per data directory and checkpoint store), and each core owns one contiguous range of
 * key groups. Changing the number of cores moves whole key groups between cores; the key group of a
 * key never changes. Stateless and thread-safe.
 *
 * <h2>The hash (part of the on-disk format)</h2>
 * {@code keyGroupOf(key, n) = floorMod(mix(Arrays.hashCode(key)), n)} where {@code mix} is
 * murmur3's 32-bit finalizer ({@code h ^= h >>> 16; h *= 0x85ebca6b; h ^= h >>> 13;
 * h *= 0xc2b2ae35; h ^= h >>> 16}). State files, WALs and replicated records are placed by it, so it
 * never changes without a format version bump.
 *
 * <h2>Ranges</h2>
 * With {@code n} key groups and {@code c} cores, key group {@code g} belongs to core
 * {@code g * c / n} (integer division), so core {@code i} owns the key groups
 * {@code [ceil(i * n / c), ceil((i + 1) * n / c))}: ranges differ in size by at most one.
 */
public final class KeyGroups {

    /** The number of key groups a new directory gets unless configured: up to 256 cores, 1 to 256 groups each. */
    public static final int DEFAULT_KEY_GROUPS = 256;

    /** The largest number of key groups (and so of cores) supported. */
    public static final int MAX_KEY_GROUPS = 32_768;

    private KeyGroups() {
    }

    /** The key group of {@code key} among {@code keyGroups} groups: see the class javadoc. */
    public static int keyGroupOf(byte[] key, int keyGroups) {
        checkKeyGroups(keyGroups);
        int h = Arrays.hashCode(key);
        // murmur3's finalizer: Arrays.hashCode alone spreads similar short keys poorly
        h ^= h >>> 16;
        h *= 0x85ebca6b;
        h ^= h >>> 13;
        h *= 0xc2b2ae35;
        h ^= h >>> 16;
        return Math.floorMod(h, keyGroups);
    }

    /** The core among {@code cores} that owns key group {@code keyGroup} of {@code keyGroups}. */
    public static int coreOfKeyGroup(int keyGroup, int keyGroups, int cores) {
        checkCores(keyGroups, cores);
        if (keyGroup < 0 || keyGroup >= keyGroups) {
            throw new IllegalArgumentException("keyGroup must be between 0 and " + (keyGroups - 1) + ", but was " + keyGroup);
        }
        return (int) ((long) keyGroup * cores / keyGroups);
    }

    /** The core among {@code cores} that owns {@code key}: the owner of its key group. */
    public static int coreOf(byte[] key, int keyGroups, int cores) {
        return coreOfKeyGroup(keyGroupOf(key, keyGroups), keyGroups, cores);
    }

    /** The key groups core {@code core} of {@code cores} owns. */
    public static Range rangeOf(int core, int keyGroups, int cores) {
        checkCores(keyGroups, cores);
        if (core < 0 || core >= cores) {
            throw new IllegalArgumentException("core must be between 0 and " + (cores - 1) + ", but was " + core);
        }
        return new Range(ceilDiv((long) core * keyGroups, cores), ceilDiv((long) (core + 1) * keyGroups, cores));
    }

    /**
     * Checks a configured number of key groups.
     *
     * @throws IllegalArgumentException naming the value and the allowed range
     */
    public static int checkKeyGroups(int keyGroups) {
        if (keyGroups < 1 || keyGroups > MAX_KEY_GROUPS) {
            throw new IllegalArgumentException(
                    "keyGroups must be between 1 and " + MAX_KEY_GROUPS + ", but was " + keyGroups);
        }
        return keyGroups;
    }

    private static void checkCores(int keyGroups, int cores) {
        checkKeyGroups(keyGroups);
        if (cores < 1 || cores > keyGroups) {
            throw new IllegalArgumentException("cores must be between 1 and the number of key groups ("
                    + keyGroups + "), but was " + cores);
        }
    }

    private static int ceilDiv(long dividend, int divisor) {
        return (int) ((dividend + divisor - 1) / divisor);
    }

    /**
     * The key groups {@code [first, end)}.
     *
     * @param first the first key group of the range
     * @param end   one past the last key group of the range
     */
    public record Range(int first, int end) {

        public Range {
            if (first < 0 || end < first) {
                throw new IllegalArgumentException("not a key-group range: [" + first + ", " + end + ")");
            }
        }

        /** Whether {@code keyGroup} is in this range. */
        public boolean contains(int keyGroup) {
            return keyGroup >= first && keyGroup < end;
        }

        /** The number of key groups in this range. */
        public int size() {
            return end - first;
        }
    }
}

package io.laminar.storage.percore;

import java.util.Arrays;

/**
 * One WAL position per core, indexed by core id: where replay starts after a checkpoint, or up to
 * where a core's log may be truncated. An immutable value, safe to share and to store in a
 * checkpoint manifest (write {@link #toArray()}, read back with {@link #of}).
 */
public final class CorePositions {

    private final long[] positions;

    private CorePositions(long[] positions) {
        this.positions = positions;
    }

    /** The positions of cores 0, 1, ... in order (copied). */
    public static CorePositions of(long... positions) {
        if (positions.length == 0) {
            throw new IllegalArgumentException("positions must name at least one core");
        }
        for (int core = 0; core < positions.length; core++) {
            if (positions[core] < 0) {
                throw new IllegalArgumentException("the position of core " + core + " must be at least 0, but was "
                        + positions[core]);
            }
        }
        return new CorePositions(positions.clone());
    }

    /** How many cores. */
    public int cores() {
        return positions.length;
    }

    /** The position of {@code core}. */
    public long position(int core) {
        if (core < 0 || core >= positions.length) {
            throw new IllegalArgumentException("core " + core + " does not exist: these positions are for cores 0 to "
                    + (positions.length - 1));
        }
        return positions[core];
    }

    /** A copy of the positions. */
    public long[] toArray() {
        return positions.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CorePositions other && Arrays.equals(positions, other.positions);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(positions);
    }

    @Override
    public String toString() {
        return "CorePositions" + Arrays.toString(positions);
    }
}

package io.laminar.storage.concurrent;

import java.util.concurrent.locks.LockSupport;

/**
 * How a loop that polls for work waits when it finds none: {@link Thread#onSpinWait()} for the first
 * {@code spins} rounds, then {@link Thread#yield()} for the next {@code yields} rounds, then a park
 * of {@code parkNanos} each round until {@link #reset()}, which the loop calls whenever it finds work.
 *
 * <p>A loop calls {@link #idle()}, which takes the whole round itself (its park has no blocker); or,
 * if it must say that it is parked or re-check for work before it parks (so that a producer knows to
 * unpark it), {@link #spinOrYield()}, and parks on its own, for at most {@link #parkNanos()}, when that
 * returns {@code false}.
 *
 * <p>Allocates nothing after construction. Not thread-safe: one instance per waiting thread, such as a
 * field of an object that a single thread owns.
 */
public final class Backoff {

    private final int spins;
    private final int spinsAndYields;
    private final long parkNanos;
    private int rounds;

    /**
     * @param spins     the rounds that spin, from the first one after a {@link #reset()} (or construction)
     * @param yields    the rounds that yield after those
     * @param parkNanos how long each later round parks
     */
    public Backoff(int spins, int yields, long parkNanos) {
        if (spins < 0 || yields < 0 || parkNanos <= 0) {
            throw new IllegalArgumentException("a back-off needs spins >= 0, yields >= 0 and parkNanos > 0, but "
                    + "was spins " + spins + ", yields " + yields + ", parkNanos " + parkNanos);
        }
        this.spins = spins;
        this.spinsAndYields = Math.addExact(spins, yields);
        this.parkNanos = parkNanos;
    }

    /**
     * Takes one idle round if it is a spinning or yielding one and returns {@code true}; once those are
     * used up, returns {@code false} at once: the caller parks (up to {@link #parkNanos()}).
     */
    public boolean spinOrYield() {
        int round = rounds;
        if (round < spins) {
            rounds = round + 1;
            Thread.onSpinWait();
            return true;
        }
        if (round < spinsAndYields) {
            rounds = round + 1;
            Thread.yield();
            return true;
        }
        return false;
    }

    /** Takes one idle round: spins, yields or parks for {@link #parkNanos()}. */
    public void idle() {
        if (!spinOrYield()) {
            LockSupport.parkNanos(parkNanos);
        }
    }

    /** Work was found: the next idle round spins again. */
    public void reset() {
        rounds = 0;
    }

    /** How long each round parks once the spins and yields are used up. */
    public long parkNanos() {
        return parkNanos;
    }
}

package io.laminar.storage.sample;

import java.math.BigInteger;

/**
 * What {@code GET /api/summary} answers, for one core or all of them. Immutable.
 *
 * @param keys    how many keys have an account
 * @param events  how many events (HTTP events and file lines) were applied
 * @param sum     the sum of all balances
 * @param batches how many batches were applied (counted by their owner core's marker)
 */
record Totals(long keys, long events, BigInteger sum, long batches) {

    static final Totals ZERO = new Totals(0, 0, BigInteger.ZERO, 0);

    Totals plus(Totals other) {
        return new Totals(keys + other.keys, events + other.events, sum.add(other.sum), batches + other.batches);
    }
}

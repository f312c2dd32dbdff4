package io.laminar.storage.concurrent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class BackoffTest {

    @Test
    void spinsAndYieldsTheGivenRoundsThenAsksToParkUntilReset() {
        var backoff = new Backoff(3, 2, 1_000);

        for (int round = 0; round < 5; round++) {
            assertThat(backoff.spinOrYield()).as("round %d", round).isTrue();
        }
        for (int round = 5; round < 10; round++) {
            assertThat(backoff.spinOrYield()).as("round %d", round).isFalse();
        }
        backoff.reset();
        for (int round = 0; round < 5; round++) {
            assertThat(backoff.spinOrYield()).as("round %d after reset", round).isTrue();
        }
        assertThat(backoff.spinOrYield()).isFalse();
        assertThat(backoff.parkNanos()).isEqualTo(1_000);
    }

    @Test
    void withNoSpinsOrYieldsTheFirstRoundParks() {
        assertThat(new Backoff(0, 0, 1).spinOrYield()).isFalse();
    }

    @Test
    void idleReachesAParkWithoutBlockerAfterTheSpinsAndYieldsAndSpinsAgainAfterReset() throws Exception {
        long park = TimeUnit.SECONDS.toNanos(60); // far longer than the test: only an unpark ends it
        var backoff = new Backoff(100, 10, park);
        var beforePark = new AtomicInteger(-1);
        var parkEnded = new AtomicBoolean();
        var afterReset = new AtomicBoolean();
        var waiter = Threads.daemon("laminar-test-backoff", () -> {
            for (int round = 0; round < 110; round++) {
                backoff.idle(); // would take 60 s if it parked
            }
            beforePark.set(110);
            backoff.idle();
            parkEnded.set(true);
            backoff.reset();
            for (int round = 0; round < 110; round++) {
                backoff.idle();
            }
            afterReset.set(true);
        });
        waiter.start();

        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (waiter.getState() != Thread.State.TIMED_WAITING) {
            assertThat(System.nanoTime()).as("the back-off to reach its park").isLessThan(deadline);
            Thread.onSpinWait();
        }
        assertThat(beforePark.get()).isEqualTo(110);
        assertThat(parkEnded).isFalse();
        assertThat(LockSupport.getBlocker(waiter)).isNull();

        LockSupport.unpark(waiter);
        waiter.join(10_000);
        assertThat(waiter.isAlive()).isFalse();
        assertThat(parkEnded).isTrue();
        assertThat(afterReset).isTrue();
    }

    @Test
    void rejectsNegativeRoundsAndNoPark() {
        assertThatThrownBy(() -> new Backoff(-1, 0, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Backoff(0, -1, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Backoff(0, 0, 0)).isInstanceOf(IllegalArgumentException.class);
    }
}

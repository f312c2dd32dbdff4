package io.laminar.storage.state;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A store overwrites its value arrays in place, also at the first write after a snapshot, while
 * other threads read that snapshot. Every value a snapshot hands out must be the whole version it
 * saw, never bytes of two versions: the values here are large, so that a copy which the writer
 * overtakes half-way is likely, and every byte of a version says which version it is.
 */
class SnapshotValueCopyTest {

    private static final int KEYS = 8;
    private static final int VALUE_BYTES = 64 * 1024;

    private static byte[] key(int i) {
        return new byte[] {(byte) i};
    }

    private static byte[] version(int round) {
        var value = new byte[VALUE_BYTES];
        Arrays.fill(value, (byte) round);
        return value;
    }

    /** A snapshot and the round every value in it was written in. */
    private record Published(StateSnapshot snapshot, int round) {
    }

    @Test
    void readersOfASnapshotNeverSeeAValueTornByTheWritersInPlaceWrites() throws Exception {
        var store = new ChangelogAwareStateStore(ChangelogSink.NONE);
        var versions = new byte[256][];
        for (int r = 0; r < versions.length; r++) {
            versions[r] = version(r);
        }
        for (int k = 0; k < KEYS; k++) {
            store.put(key(k), versions[0]);
        }
        var latest = new AtomicReference<>(new Published(store.snapshot(), 0));
        var failure = new AtomicReference<Throwable>();
        var reads = new AtomicLong();
        long end = System.nanoTime() + 1_500_000_000L;
        var readers = new ArrayList<Thread>();
        for (int t = 0; t < 2; t++) {
            var reader = new Thread(() -> {
                try {
                    while (System.nanoTime() < end && failure.get() == null) {
                        var published = latest.get();
                        byte expected = (byte) published.round();
                        for (int k = 0; k < KEYS; k++) {
                            assertUniform(published.snapshot().get(key(k)), expected, "get");
                        }
                        published.snapshot().forEach((key, value) -> assertUniform(value, expected, "forEach"));
                        reads.incrementAndGet();
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }, "snapshot-reader-" + t);
            reader.start();
            readers.add(reader);
        }
        int round = 0;
        long rounds = 0;
        while (System.nanoTime() < end && failure.get() == null) {
            round = (round + 1) & 0xff;
            for (int k = 0; k < KEYS; k++) {
                store.put(key(k), versions[round]); // the first write since the snapshot: copied to the undo log, then in place
                store.put(key(k), versions[round]); // the same epoch: in place again
            }
            latest.set(new Published(store.snapshot(), round));
            rounds++;
        }
        for (var reader : readers) {
            reader.join();
        }
        if (failure.get() != null) {
            throw new AssertionError("after " + rounds + " rounds and " + reads.get() + " snapshot reads",
                    failure.get());
        }
        assertThat(reads.get()).as("snapshot reads").isPositive();
        assertThat(rounds).as("rounds of in-place writes").isGreaterThan(100);
    }

    private static void assertUniform(byte[] value, byte expected, String how) {
        assertThat(value).as(how).hasSize(VALUE_BYTES);
        for (int i = 0; i < value.length; i++) {
            if (value[i] != expected) {
                throw new AssertionError(how + ": byte " + i + " of a value is of round " + value[i]
                        + ", not of its snapshot's round " + expected + ": a copy torn by an in-place write");
            }
        }
    }
}

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
        return new byte[] {(byte) (i >>> 8), (byte) i};
    }

    private static byte[] version(int round, int length) {
        var value = new byte[length];
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
            versions[r] = version(r, VALUE_BYTES);
        }
        for (int k = 0; k < KEYS; k++) {
            store.put(key(k), versions[0]);
        }
        race(store, versions, KEYS);
    }

    /**
     * As a restore loads them, the values start as ranges of one array (not at its start); the
     * writer then alternates two lengths, so that a cell's array, offset and length change
     * together: first out of the shared array, then between arrays of their own. A reader that
     * meets those fields half-changed must throw the copy away, never read out of bounds. Many
     * small values, so that readers spend their time where the fields are read, not copying.
     */
    @Test
    void readersNeverSeeAValueTornWhileItsCellLeavesASharedArrayOrChangesLength() throws Exception {
        int keys = 4096;
        int length = 32;
        var shared = new byte[3 + keys * length];
        var loader = ChangelogAwareStateStore.bulkLoader();
        for (int k = 0; k < keys; k++) {
            loader.onPut(key(k), shared, 3 + k * length, length); // all zero: of round 0
        }
        var store = loader.build(ChangelogSink.NONE);
        var versions = new byte[256][];
        for (int r = 0; r < versions.length; r++) {
            versions[r] = version(r, r % 2 == 0 ? length : 1 + r % 16);
        }
        race(store, versions, keys);
    }

    /**
     * The writer writes {@code versions} round after round and publishes a snapshot per round,
     * while two readers check that every value of the latest snapshot is the whole version of its
     * round; for 1.5 seconds.
     */
    private static void race(ChangelogAwareStateStore store, byte[][] versions, int keys) throws Exception {
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
                        var expected = versions[published.round()];
                        for (int k = 0; k < keys; k++) {
                            assertVersion(published.snapshot().get(key(k)), expected, "get");
                        }
                        published.snapshot().forEach((key, value) -> assertVersion(value, expected, "forEach"));
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
            for (int k = 0; k < keys; k++) {
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

    private static void assertVersion(byte[] value, byte[] version, String how) {
        assertThat(value).as(how).hasSize(version.length);
        byte expected = version[0];
        for (int i = 0; i < value.length; i++) {
            if (value[i] != expected) {
                throw new AssertionError(how + ": byte " + i + " of a value is of round " + value[i]
                        + ", not of its snapshot's round " + expected + ": a copy torn by an in-place write");
            }
        }
    }
}

package io.laminar.storage.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.ConcurrentModificationException;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

class ChangelogAwareStateStoreTest {

    private static final Logger log = LoggerFactory.getLogger(ChangelogAwareStateStoreTest.class);
    private static final byte[] ALPHABET = {0x00, 0x01, 0x3f, 0x7f, (byte) 0x80, (byte) 0x81, (byte) 0xc0, (byte) 0xff};

    static long seed(String test) {
        long seed = Long.getLong("laminar.seed", System.nanoTime());
        log.info("{} seed {} (rerun with -Dlaminar.seed={})", test, seed, seed);
        return seed;
    }

    static TreeMap<byte[], byte[]> newModel() {
        return new TreeMap<>(Arrays::compareUnsigned);
    }

    /** Keys of 0 to 5 bytes over an alphabet with the sign bit set and clear: about 37,000 keys. */
    static byte[] randomKey(Random random) {
        var key = new byte[random.nextInt(6)];
        for (int i = 0; i < key.length; i++) {
            key[i] = ALPHABET[random.nextInt(ALPHABET.length)];
        }
        return key;
    }

    static byte[] randomValue(Random random) {
        var value = new byte[random.nextInt(4) * 4];
        random.nextBytes(value);
        return value;
    }

    static List<StateEntry> entries(Map<byte[], byte[]> model) {
        var out = new ArrayList<StateEntry>();
        model.forEach((k, v) -> out.add(new StateEntry(k.clone(), v.clone())));
        return out;
    }

    static List<StateEntry> entries(Iterable<StateEntry> iterable) {
        var out = new ArrayList<StateEntry>();
        iterable.forEach(out::add);
        return out;
    }

    static List<StateChange> diff(Map<byte[], byte[]> before, Map<byte[], byte[]> after) {
        var keys = newModel();
        keys.putAll(before);
        keys.putAll(after);
        var out = new ArrayList<StateChange>();
        for (var key : keys.keySet()) {
            var a = before.get(key);
            var b = after.get(key);
            if (b == null) {
                out.add(StateChange.deleted(key));
            } else if (a == null || !Arrays.equals(a, b)) {
                out.add(new StateChange(key, b));
            }
        }
        return out;
    }

    /** Records the changelog as the strings a reader can compare, and keeps replayable entries. */
    static final class RecordingSink implements ChangelogSink {
        final List<String> events = new ArrayList<>();

        @Override
        public void onPut(byte[] key, byte[] value) {
            events.add("put " + StateSnapshot.hex(key) + "=" + StateSnapshot.hex(value));
        }

        @Override
        public void onDelete(byte[] key) {
            events.add("delete " + StateSnapshot.hex(key));
        }

        @Override
        public void onClear() {
            events.add("clear");
        }

        void replayInto(ChangelogSink target) {
            var hex = java.util.HexFormat.of();
            for (var event : events) {
                if (event.equals("clear")) {
                    target.onClear();
                } else if (event.startsWith("delete ")) {
                    target.onDelete(hex.parseHex(event.substring(7)));
                } else {
                    var kv = event.substring(4).split("=", -1);
                    target.onPut(hex.parseHex(kv[0]), hex.parseHex(kv[1]));
                }
            }
        }
    }

    private record Taken(StateSnapshot snapshot, TreeMap<byte[], byte[]> state) {
    }

    @Test
    void asSinkAppliesEachChangeAsAnOrdinaryOperationAndPublishesIt() {
        var published = new ModelState();
        var store = new ChangelogAwareStateStore(published);
        var sink = store.asSink();
        sink.onPut("a".getBytes(), "1".getBytes());
        sink.onPut("b".getBytes(), "2".getBytes());
        sink.onDelete("a".getBytes());
        var expected = new ModelState();
        expected.onPut("b".getBytes(), "2".getBytes());

        assertThat(ModelState.render(store)).isEqualTo(expected.render());
        assertThat(published.render()).isEqualTo(expected.render());
        sink.onClear();
        assertThat(store.size()).isZero();
        assertThat(published.render()).isEmpty();
    }

    @Test
    void randomOperationsMatchATreeMapAndSnapshotsKeepTheirStateWhileTheStoreChanges() {
        var random = new Random(seed("randomOperations"));
        var sink = new RecordingSink();
        var expectedEvents = new ArrayList<String>();
        var store = new ChangelogAwareStateStore(sink);
        var model = newModel();
        var taken = new ArrayList<Taken>();
        for (int op = 0; op < 80_000; op++) {
            int dice = random.nextInt(100_000);
            if (dice < 60_000) {
                var key = randomKey(random);
                var value = randomValue(random);
                store.put(key, value);
                expectedEvents.add("put " + StateSnapshot.hex(key) + "=" + StateSnapshot.hex(value));
                model.put(key, value.clone());
                if (value.length > 0) {
                    value[0] ^= 1; // the caller reuses its array: the store must have copied it
                }
            } else if (dice < 95_000) {
                var key = randomKey(random);
                boolean present = model.remove(key) != null;
                assertThat(store.delete(key)).isEqualTo(present);
                if (present) {
                    expectedEvents.add("delete " + StateSnapshot.hex(key));
                }
            } else if (dice < 95_004) { // rare: let the tree grow several levels deep
                store.clear();
                model.clear();
                expectedEvents.add("clear");
            } else if (dice < 95_150) {
                var snapshot = store.snapshot();
                assertThat(CowTree.checkInvariants(snapshot.root())).isEqualTo(model.size());
                var state = newModel();
                state.putAll(model);
                taken.add(new Taken(snapshot, state));
            } else {
                var key = randomKey(random);
                assertThat(store.get(key)).isEqualTo(model.get(key));
                assertThat(store.containsKey(key)).isEqualTo(model.containsKey(key));
            }
            assertThat(store.size()).isEqualTo(model.size());
        }
        assertThat(entries(store)).isEqualTo(entries(model));
        assertThat(sink.events).isEqualTo(expectedEvents);
        assertThat(taken).hasSizeGreaterThan(50);
        log.info("{} snapshots, final size {}, final height {}", taken.size(), store.size(),
                store.snapshot().root() instanceof CowTree.Inner inner ? inner.height : 0);

        // Every snapshot still holds exactly the state of its moment, and deltas equal the model's.
        Taken previous = null;
        for (var t : taken) {
            assertThat(t.snapshot().size()).isEqualTo(t.state().size());
            assertThat(entries(t.snapshot())).isEqualTo(entries(t.state()));
            for (var key : t.state().keySet()) {
                assertThat(t.snapshot().get(key)).isEqualTo(t.state().get(key));
            }
            var before = previous == null ? null : previous.snapshot();
            var beforeState = previous == null ? newModel() : previous.state();
            assertThat(t.snapshot().changesSince(before)).isEqualTo(diff(beforeState, t.state()));
            previous = t;
        }
        var last = store.snapshot();
        assertThat(last.changesSince(previous.snapshot())).isEqualTo(diff(previous.state(), model));
        assertThat(last.changesSince(last)).isEmpty();

        // The changelog alone rebuilds the store.
        var replayed = new ChangelogAwareStateStore(ChangelogSink.NONE);
        sink.replayInto(replayed.replayer());
        assertThat(entries(replayed)).isEqualTo(entries(model));
    }

    @Test
    void aDeltaAppliedToTheOlderStateGivesTheNewerState() {
        var random = new Random(seed("deltaApplies"));
        var store = new ChangelogAwareStateStore(ChangelogSink.NONE);
        var older = store.snapshot();
        for (int round = 0; round < 30; round++) {
            for (int i = 0; i < 2_000; i++) {
                if (random.nextInt(3) == 0) {
                    store.delete(randomKey(random));
                } else {
                    store.put(randomKey(random), randomValue(random));
                }
            }
            var newer = store.snapshot();
            var restored = ChangelogAwareStateStore.restore(older.iterator(), ChangelogSink.NONE);
            newer.changesSince(older, restored.replayer());
            assertThat(entries(restored)).isEqualTo(entries(newer));
            older = newer;
        }
    }

    @Test
    void aDeepTreeShrinksBackThroughMergesAndItsDeltasStayExact() {
        var random = new Random(seed("deepTree"));
        var store = new ChangelogAwareStateStore(ChangelogSink.NONE);
        var model = newModel();
        for (int i = 0; i < 100_000; i++) {
            var key = new byte[4];
            writeInt(key, random.nextBoolean() ? i : Integer.reverse(i)); // sequential and scattered inserts
            store.put(key, key);
            model.put(key, key);
        }
        var full = store.snapshot();
        var fullState = newModel();
        fullState.putAll(model);
        assertThat(full.root()).isInstanceOf(CowTree.Inner.class);
        assertThat(((CowTree.Inner) full.root()).height).isGreaterThanOrEqualTo(3);
        var keys = new ArrayList<>(model.keySet());
        java.util.Collections.shuffle(keys, random);
        for (int i = 0; i < keys.size(); i++) {
            store.delete(keys.get(i));
            model.remove(keys.get(i));
            if (i % 20_000 == 0 || i > keys.size() - 50) {
                var snapshot = store.snapshot();
                assertThat(CowTree.checkInvariants(snapshot.root())).isEqualTo(model.size());
                assertThat(snapshot.changesSince(full)).isEqualTo(diff(fullState, model));
            }
        }
        assertThat(store.isEmpty()).isTrue();
        assertThat(store.snapshot().root()).isInstanceOf(CowTree.Leaf.class);
        assertThat(entries(full)).isEqualTo(entries(fullState));
    }

    @Test
    void snapshotsAreReadFromAnotherThreadWhileTheCoreThreadKeepsWriting() throws Exception {
        var random = new Random(seed("concurrentSnapshots"));
        var store = new ChangelogAwareStateStore(ChangelogSink.NONE);
        var model = newModel();
        var executor = Executors.newSingleThreadExecutor();
        var done = new AtomicBoolean();
        try {
            var checks = new ArrayList<Future<Integer>>();
            for (int round = 0; round < 20; round++) {
                for (int i = 0; i < 3_000; i++) {
                    var key = randomKey(random);
                    if (random.nextInt(4) == 0) {
                        store.delete(key);
                        model.remove(key);
                    } else {
                        var value = randomValue(random);
                        store.put(key, value);
                        model.put(key, value);
                    }
                }
                var snapshot = store.snapshot();
                var expected = entries(model);
                // The reader iterates the snapshot again and again while this thread keeps writing.
                checks.add(executor.submit(() -> {
                    int passes = 0;
                    do {
                        assertThat(entries(snapshot)).isEqualTo(expected);
                        passes++;
                    } while (!done.get() && passes < 50);
                    return passes;
                }));
            }
            for (int i = 0; i < 200_000 && !checks.get(checks.size() - 1).isDone(); i++) {
                store.put(randomKey(random), randomValue(random));
                store.delete(randomKey(random));
            }
            done.set(true);
            for (var check : checks) {
                assertThat(check.get(60, TimeUnit.SECONDS)).isPositive();
            }
        } finally {
            done.set(true);
            executor.shutdownNow();
        }
    }

    @Test
    void overwritingAnOwnedValueWithOneOfTheSameLengthDoesNotAllocate() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        var store = new ChangelogAwareStateStore(ChangelogSink.NONE);
        int keys = 10_000;
        var key = new byte[8];
        var value = new byte[16];
        for (int i = 0; i < keys; i++) {
            writeInt(key, i);
            store.put(key, value);
        }
        store.snapshot(); // every node is now shared: the next round copies them once
        for (int round = 0; round < 20; round++) {
            overwriteAll(store, key, value, keys, round);
        }
        long before = threads.getCurrentThreadAllocatedBytes();
        long started = System.nanoTime();
        int rounds = 50;
        for (int round = 0; round < rounds; round++) {
            overwriteAll(store, key, value, keys, round);
        }
        long nanos = System.nanoTime() - started;
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        long puts = (long) rounds * keys;
        log.info("steady-state overwrite: {} ns/put (rough, no JMH), {} bytes allocated over {} puts",
                nanos / puts, allocated, puts);
        assertThat(allocated).as("bytes allocated by %d steady-state puts", puts).isLessThan(puts / 100);
        var read = new byte[16];
        writeInt(key, 7);
        assertThat(store.get(key, read)).isEqualTo(16);
        assertThat(readInt(read, 0)).isEqualTo(rounds - 1 + 7);
    }

    private static void overwriteAll(ChangelogAwareStateStore store, byte[] key, byte[] value, int keys, int round) {
        for (int i = 0; i < keys; i++) {
            writeInt(key, i);
            writeInt(value, round + i);
            store.put(key, value);
        }
    }

    private static void writeInt(byte[] into, int v) {
        into[0] = (byte) (v >>> 24);
        into[1] = (byte) (v >>> 16);
        into[2] = (byte) (v >>> 8);
        into[3] = (byte) v;
    }

    private static int readInt(byte[] from, int at) {
        return (from[at] & 0xFF) << 24 | (from[at + 1] & 0xFF) << 16 | (from[at + 2] & 0xFF) << 8 | (from[at + 3] & 0xFF);
    }

    @Test
    void aValueHandedToASnapshotIsNeverOverwrittenInPlace() {
        var store = new ChangelogAwareStateStore(ChangelogSink.NONE);
        var key = new byte[] {1};
        store.put(key, new byte[] {1, 1});
        store.put(key, new byte[] {2, 2}); // owned now: would be overwritten in place
        var snapshot = store.snapshot();
        store.put(key, new byte[] {3, 3});
        store.put(key, new byte[] {4, 4});
        assertThat(snapshot.get(key)).containsExactly(2, 2);
        assertThat(store.get(key)).containsExactly(4, 4);
    }

    @Test
    void restoringAndStartingFromASnapshotGiveTheSameState() {
        var random = new Random(seed("restore"));
        var store = new ChangelogAwareStateStore(ChangelogSink.NONE);
        for (int i = 0; i < 20_000; i++) {
            store.put(randomKey(random), randomValue(random));
        }
        var snapshot = store.snapshot();
        var restored = ChangelogAwareStateStore.restore(snapshot.iterator(), ChangelogSink.NONE);
        assertThat(CowTree.checkInvariants(restored.snapshot().root())).isEqualTo(snapshot.size());
        var adopted = ChangelogAwareStateStore.fromSnapshot(snapshot, ChangelogSink.NONE);
        assertThat(entries(restored)).isEqualTo(entries(snapshot));
        assertThat(entries(adopted)).isEqualTo(entries(snapshot));
        assertThat(restored.size()).isEqualTo(snapshot.size());

        // Writes to the adopted store leave the snapshot alone, and the restored tree accepts writes too.
        var expected = entries(snapshot);
        var model = newModel();
        snapshot.forEach((k, v) -> model.put(k.clone(), v.clone()));
        for (int i = 0; i < 5_000; i++) {
            var key = randomKey(random);
            if (random.nextBoolean()) {
                var value = randomValue(random);
                adopted.put(key, value);
                restored.put(key, value);
                model.put(key, value);
            } else {
                adopted.delete(key);
                restored.delete(key);
                model.remove(key);
            }
        }
        assertThat(entries(snapshot)).isEqualTo(expected);
        assertThat(entries(adopted)).isEqualTo(entries(model));
        assertThat(entries(restored)).isEqualTo(entries(model));
        assertThat(CowTree.checkInvariants(restored.snapshot().root())).isEqualTo(model.size());
        assertThat(CowTree.checkInvariants(adopted.snapshot().root())).isEqualTo(model.size());
    }

    @Test
    void aRetiredStoreHandsItsIndexAndCellsToTheFirstStoreStartedFromItsSnapshotOnly() {
        // Recovery's hand-over: the runtime's stores go on with the recovered stores' trees, indexes
        // and undo logs instead of indexing every key again. The second store from the same
        // snapshot builds cells and an index of its own: the first one writes the shared cells.
        var random = new Random(seed("retire"));
        var recovered = new ChangelogAwareStateStore(ChangelogSink.NONE);
        var model = newModel();
        for (int i = 0; i < 20_000; i++) {
            var key = randomKey(random);
            var value = randomValue(random);
            recovered.replayer().onPut(key, value);
            model.put(key.clone(), value.clone());
        }
        var snapshot = recovered.retire();
        assertThat(snapshot.takeHandover()).isNotNull(); // taken here: put it back through a new retire
        recovered = ChangelogAwareStateStore.fromSnapshot(snapshot, ChangelogSink.NONE);
        snapshot = recovered.retire();
        var first = ChangelogAwareStateStore.fromSnapshot(snapshot, ChangelogSink.NONE);
        assertThat(snapshot.takeHandover()).isNull();
        var second = ChangelogAwareStateStore.fromSnapshot(snapshot, ChangelogSink.NONE);
        var expected = entries(snapshot);
        assertThat(expected).isEqualTo(entries(model));
        for (var store : List.of(first, second)) {
            assertThat(store.checkInvariants()).isEqualTo(model.size());
            for (int i = 0; i < 3_000; i++) {
                var key = randomKey(random);
                if (random.nextInt(3) == 0) {
                    store.delete(key);
                } else {
                    store.put(key, randomValue(random));
                }
            }
            assertThat(store.checkInvariants()).isEqualTo(store.size());
        }
        // Neither store's writes reached the other's index, nor the snapshot.
        assertThat(entries(snapshot)).isEqualTo(expected);
        assertThat(first.size()).isEqualTo(entries(first).size());
        assertThat(second.size()).isEqualTo(entries(second).size());
    }

    @Test
    void restoreRefusesKeysOutOfOrder() {
        var entries = List.of(new StateEntry(new byte[] {2}, new byte[0]), new StateEntry(new byte[] {1}, new byte[0]));
        assertThatThrownBy(() -> ChangelogAwareStateStore.restore(entries.iterator(), ChangelogSink.NONE))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("strictly ascending");
    }

    @Test
    void aSinkThatThrowsLeavesTheStoreUnchanged() {
        var store = new ChangelogAwareStateStore(new ChangelogSink() {
            @Override
            public void onPut(byte[] key, byte[] value) {
                if (key.length == 0) {
                    throw new IllegalStateException("queue full");
                }
            }

            @Override
            public void onDelete(byte[] key) {
                throw new IllegalStateException("queue full");
            }

            @Override
            public void onClear() {
                throw new IllegalStateException("queue full");
            }
        });
        store.put(new byte[] {1}, new byte[] {1});
        assertThatThrownBy(() -> store.put(new byte[0], new byte[] {1})).hasMessage("queue full");
        assertThatThrownBy(() -> store.delete(new byte[] {1})).hasMessage("queue full");
        assertThatThrownBy(store::clear).hasMessage("queue full");
        assertThat(entries(store)).containsExactly(new StateEntry(new byte[] {1}, new byte[] {1}));
    }

    @Test
    void iteratingWhileWritingFailsFast() {
        var store = new ChangelogAwareStateStore(ChangelogSink.NONE);
        store.put(new byte[] {1}, new byte[0]);
        store.put(new byte[] {2}, new byte[0]);
        var it = store.iterator();
        it.next();
        store.put(new byte[] {3}, new byte[0]);
        assertThatThrownBy(it::hasNext).isInstanceOf(ConcurrentModificationException.class);
    }

    @Test
    void typedAccessKeepsNumericOrderForLongKeys() {
        var store = new ChangelogAwareStateStore(ChangelogSink.NONE);
        var typed = store.typed(Codec.int64(), Codec.utf8());
        for (long k : new long[] {5, -1, Long.MIN_VALUE, 0, Long.MAX_VALUE, -300}) {
            typed.put(k, "v" + k);
        }
        var keys = new ArrayList<Long>();
        typed.forEach((k, v) -> {
            assertThat(v).isEqualTo("v" + k);
            keys.add(k);
        });
        assertThat(keys).containsExactly(Long.MIN_VALUE, -300L, -1L, 0L, 5L, Long.MAX_VALUE);
        assertThat(typed.get(-300L)).isEqualTo("v-300");
        assertThat(typed.delete(-300L)).isTrue();
        assertThat(typed.get(-300L)).isNull();
    }
}

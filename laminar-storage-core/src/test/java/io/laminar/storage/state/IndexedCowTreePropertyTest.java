package io.laminar.storage.state;

import static io.laminar.storage.state.ChangelogAwareStateStoreTest.diff;
import static io.laminar.storage.state.ChangelogAwareStateStoreTest.entries;
import static io.laminar.storage.state.ChangelogAwareStateStoreTest.newModel;
import static io.laminar.storage.state.ChangelogAwareStateStoreTest.seed;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The store's copy-on-write tree with its hash index, checked against a {@link TreeMap} model under
 * random puts, overwrites, deletes, clears, snapshots, restores and starts from snapshots: every
 * read and the key order of every iteration equal the model's, every snapshot keeps exactly the
 * state of its moment, the delta between any two snapshots turns the older into the newer, and the
 * tree, its ownership marks and its index stay consistent ({@code checkInvariants}). A quarter of
 * the puts go through the replayers, whose first writes since a snapshot are placed into the tree
 * later, in key order: every read in between must already see them. Seeds are
 * logged: rerun with {@code -Dlaminar.seed=N}.
 */
class IndexedCowTreePropertyTest {

    private record Taken(StateSnapshot snapshot, TreeMap<byte[], byte[]> state) {
    }

    /**
     * A key space small enough that most puts overwrite (the index's fast path, in place or with a
     * new length) and deletes hit, keys of 0 to 20 bytes so the hash covers its 8-byte, 4-byte and
     * single-byte steps, values of a few lengths so that same-length overwrites are common.
     */
    private static byte[] key(Random random, int space) {
        int n = random.nextInt(space);
        var key = new byte[n % 21];
        long bits = n * 0x9E3779B97F4A7C15L;
        for (int i = 0; i < key.length; i++) {
            key[i] = (byte) ((bits >>> (i % 8 * 8)) + i / 8);
        }
        return key;
    }

    private static byte[] value(Random random) {
        var value = new byte[new int[] {0, 3, 8, 8, 8, 64}[random.nextInt(6)]];
        random.nextBytes(value);
        return value;
    }

    @Test
    void randomOperationsWithSnapshotsRestoresAndDeltasMatchTheModel() {
        long seed = seed("indexedCowTree");
        for (int run = 0; run < 6; run++) {
            var random = new Random(seed + run);
            // Key spaces from a few dozen (one leaf, a crowded index) to many thousands (a deep tree).
            runModel(random, new int[] {40, 300, 2_000, 20_000, 60_000, 5_000}[run], 30_000);
        }
    }

    private void runModel(Random random, int space, int operations) {
        var store = new ChangelogAwareStateStore(ChangelogSink.NONE);
        var model = newModel();
        var taken = new ArrayList<Taken>();
        for (int op = 0; op < operations; op++) {
            int dice = random.nextInt(1000);
            if (dice < 600) {
                var key = key(random, space);
                var value = value(random);
                // As a Ring 0 put, or as recovery's replay (first writes since a snapshot wait to be
                // placed into the tree, in key order, until something reads the tree's nodes).
                int via = random.nextInt(4);
                if (via == 0) {
                    store.replayer().onPut(key, value);
                } else if (via == 1) {
                    store.adoptingReplayer().onPut(key.clone(), value.clone());
                } else {
                    store.put(key, value);
                }
                model.put(key.clone(), value.clone());
                // The caller reuses its arrays: the store must have copied both.
                if (value.length > 0) {
                    value[0] ^= 1;
                }
                if (key.length > 0) {
                    key[0] ^= 1;
                }
            } else if (dice < 850) {
                var key = key(random, space);
                assertThat(store.delete(key)).isEqualTo(model.remove(key) != null);
            } else if (dice < 852) {
                store.clear();
                model.clear();
            } else if (dice < 870) {
                taken.add(new Taken(store.snapshot(), copy(model)));
            } else if (dice < 872) {
                // Start over from the newest snapshot, or from a bulk load of it, as recovery does.
                var snapshot = store.snapshot();
                taken.add(new Taken(snapshot, copy(model)));
                store = random.nextBoolean() ? ChangelogAwareStateStore.fromSnapshot(snapshot, ChangelogSink.NONE)
                        : ChangelogAwareStateStore.restore(snapshot.iterator(), ChangelogSink.NONE);
            } else {
                var key = key(random, space);
                var expected = model.get(key);
                assertThat(store.get(key)).isEqualTo(expected);
                assertThat(store.containsKey(key)).isEqualTo(expected != null);
                var into = new byte[8];
                int length = store.get(key, into);
                assertThat(length).isEqualTo(expected == null ? -1 : expected.length);
                if (expected != null && expected.length <= into.length) {
                    assertThat(java.util.Arrays.copyOf(into, length)).isEqualTo(expected);
                }
            }
            assertThat(store.size()).isEqualTo(model.size());
            if (op % 1_000 == 0) {
                assertThat(store.checkInvariants()).isEqualTo(model.size());
            }
        }
        assertThat(store.checkInvariants()).isEqualTo(model.size());
        assertThat(entries(store)).isEqualTo(entries(model));
        var visited = new ArrayList<StateEntry>();
        store.forEach((k, v) -> visited.add(new StateEntry(k.clone(), v.clone())));
        assertThat(visited).isEqualTo(entries(model));
        taken.add(new Taken(store.snapshot(), copy(model)));

        for (var t : taken) {
            assertThat(t.snapshot().size()).isEqualTo(t.state().size());
            assertThat(entries(t.snapshot())).isEqualTo(entries(t.state()));
            for (int i = 0; i < 50; i++) {
                var key = key(random, space);
                assertThat(t.snapshot().get(key)).isEqualTo(t.state().get(key));
            }
        }
        // The delta between any two snapshots, consecutive or not, in either direction.
        for (int i = 0; i < Math.min(40, taken.size()); i++) {
            var older = taken.get(random.nextInt(taken.size()));
            var newer = taken.get(random.nextInt(taken.size()));
            var changes = newer.snapshot().changesSince(older.snapshot());
            assertThat(changes).isEqualTo(diff(older.state(), newer.state()));
            var applied = ChangelogAwareStateStore.restore(older.snapshot().iterator(), ChangelogSink.NONE);
            newer.snapshot().changesSince(older.snapshot(), applied.replayer());
            assertThat(entries(applied)).isEqualTo(entries(newer.state()));
            assertThat(applied.checkInvariants()).isEqualTo(newer.state().size());
        }
    }

    private static TreeMap<byte[], byte[]> copy(TreeMap<byte[], byte[]> model) {
        var copy = newModel();
        model.forEach((k, v) -> copy.put(k, v.clone()));
        return copy;
    }

    @Test
    void overwritesBetweenFrequentSnapshotsNeverReachAnEarlierSnapshot() {
        // The checkpoint pattern: a fixed key space overwritten again and again with values of the
        // same length, a snapshot every few hundred puts; each snapshot must keep its own bytes.
        var random = new Random(seed("frequentSnapshots"));
        var store = new ChangelogAwareStateStore(ChangelogSink.NONE);
        var model = newModel();
        var taken = new ArrayList<Taken>();
        var value = new byte[16];
        for (int round = 0; round < 200; round++) {
            for (int i = 0; i < 300; i++) {
                var key = new byte[] {(byte) random.nextInt(64), (byte) random.nextInt(64)};
                random.nextBytes(value);
                store.put(key, value);
                model.put(key, value.clone());
                if (random.nextInt(20) == 0) {
                    var gone = new byte[] {(byte) random.nextInt(64), (byte) random.nextInt(64)};
                    assertThat(store.delete(gone)).isEqualTo(model.remove(gone) != null);
                }
            }
            taken.add(new Taken(store.snapshot(), copy(model)));
        }
        assertThat(store.checkInvariants()).isEqualTo(model.size());
        for (var t : taken) {
            assertThat(entries(t.snapshot())).isEqualTo(entries(t.state()));
        }
    }

    @Test
    void versionedFirstWritesKeepEverySnapshotWhileLeavesSplitMergeAndLeave() {
        // A bulk-loaded state, then rounds of: a snapshot, first writes to random keys (each records
        // the version it replaces in its cell's undo chain, leaving the shared leaf as it is),
        // deletes that empty and merge leaves and inserts that split them (copying the paths, with
        // the versioned cells moving into the copies), so that every snapshot reads cells whose
        // versions span many epochs from leaves of every age.
        var random = new Random(seed("leafRegistry"));
        var loader = ChangelogAwareStateStore.bulkLoader();
        var model = newModel();
        for (int i = 0; i < 20_000; i++) {
            var key = keyOf(i * 2);
            var value = value(random);
            loader.onPut(key.clone(), value.clone());
            model.put(key, value);
        }
        var store = loader.build(ChangelogSink.NONE);
        var taken = new ArrayList<Taken>();
        for (int round = 0; round < 40; round++) {
            taken.add(new Taken(store.snapshot(), copy(model)));
            for (int i = 0; i < 3_000; i++) {
                var key = keyOf(random.nextInt(44_000));
                int op = random.nextInt(10);
                if (op < 6 && model.containsKey(key) || op >= 8) {
                    var value = value(random);
                    store.put(key, value);
                    model.put(key, value.clone());
                } else {
                    // Deletes in runs of neighbouring keys, so that whole leaves empty or merge.
                    int first = random.nextInt(44_000);
                    for (int k = first; k < first + random.nextInt(60); k++) {
                        var gone = keyOf(k);
                        assertThat(store.delete(gone)).isEqualTo(model.remove(gone) != null);
                    }
                }
            }
            assertThat(store.checkInvariants()).isEqualTo(model.size());
            for (int probe = 0; probe < 200; probe++) {
                var key = keyOf(random.nextInt(44_000));
                assertThat(store.get(key)).isEqualTo(model.get(key));
            }
        }
        assertThat(entries(store.snapshot())).isEqualTo(entries(model));
        for (var t : taken) {
            assertThat(entries(t.snapshot())).isEqualTo(entries(t.state()));
        }
    }

    @Test
    void aReplayAfterASnapshotKeepsTheSnapshotAndItsDelta() {
        // Recovery's pattern: a bulk-loaded state, a snapshot of it, then a long replay that writes
        // most keys again. Keys share their first 8 bytes in runs (the radix sort's ties in the
        // delta), some are shorter than 8 bytes, and new keys split leaves meanwhile.
        var random = new Random(seed("deferredReplay"));
        var loader = ChangelogAwareStateStore.bulkLoader();
        var model = newModel();
        int size = 40_000;
        for (int i = 0; i < size; i += 2) {
            model.put(replayKey(i), new byte[] {(byte) i});
        }
        model.forEach((k, v) -> loader.onPut(k.clone(), v.clone())); // in key order
        var store = loader.build(ChangelogSink.NONE);
        var checkpoint = store.snapshot();
        var atCheckpoint = copy(model);
        var replayer = store.adoptingReplayer();
        for (int op = 0; op < 60_000; op++) {
            var key = replayKey(random.nextInt(size));
            if (random.nextInt(50) == 0) {
                assertThat(store.delete(key)).isEqualTo(model.remove(key) != null);
            } else {
                var value = new byte[random.nextInt(3)];
                random.nextBytes(value);
                model.put(key.clone(), value.clone());
                replayer.onPut(key, value);
            }
            if (op % 5_000 == 0) {
                var probe = replayKey(random.nextInt(size));
                assertThat(store.get(probe)).isEqualTo(model.get(probe));
            }
            assertThat(store.size()).isEqualTo(model.size());
        }
        var after = store.snapshot();
        assertThat(entries(after)).isEqualTo(entries(model));
        assertThat(store.checkInvariants()).isEqualTo(model.size());
        assertThat(entries(checkpoint)).isEqualTo(entries(atCheckpoint));
        assertThat(after.changesSince(checkpoint)).isEqualTo(diff(atCheckpoint, model));
    }

    /** Keys of 4 to 12 bytes; those of 12 bytes come in runs of 16 that share their first 8. */
    private static byte[] replayKey(int i) {
        if (i % 7 == 0) {
            return new byte[] {(byte) (i >>> 24), (byte) (i >>> 16), (byte) (i >>> 8), (byte) i};
        }
        int run = i >>> 4;
        return new byte[] {0, 0, 0, 0, (byte) (run >>> 24), (byte) (run >>> 16), (byte) (run >>> 8), (byte) run,
                (byte) (i * 37), 0, 0, (byte) i};
    }

    @Test
    void aLargeStateIndexedRegionByRegionAtRestoreFindsEveryKey() {
        // Above 4096 keys the index of a restored or adopted tree is built region by region
        // (PointIndex.of); sizes around the table's doublings.
        var random = new Random(seed("largeIndexBuild"));
        for (int size : new int[] {4_095, 4_097, 65_536, 100_003}) {
            var loader = ChangelogAwareStateStore.bulkLoader();
            var model = newModel();
            for (int i = 0; i < size; i++) {
                var key = new byte[] {(byte) (i >>> 24), (byte) (i >>> 16), (byte) (i >>> 8), (byte) i, 7};
                var value = new byte[random.nextInt(5)];
                random.nextBytes(value);
                model.put(key.clone(), value.clone());
                loader.onPut(key, value);
            }
            var restored = loader.build(ChangelogSink.NONE);
            var adopted = ChangelogAwareStateStore.fromSnapshot(restored.snapshot(), ChangelogSink.NONE);
            for (var store : List.of(restored, adopted)) {
                assertThat(store.checkInvariants()).isEqualTo(size);
                for (var entry : model.entrySet()) {
                    assertThat(store.get(entry.getKey())).isEqualTo(entry.getValue());
                }
                assertThat(store.get(new byte[] {0, 0, 0, 0, 8})).isNull();
            }
        }
    }

    @Test
    void theIndexFindsEveryCellThroughCollisionsWrapAroundAndBackwardShiftDeletes() {
        // Hashes drawn from a handful of values, several of them homed at the table's last slots,
        // so runs are long and wrap around the end; removals must leave every other cell findable.
        var random = new Random(seed("indexCollisions"));
        var index = new PointIndex(0);
        var live = new HashMap<Integer, CowTree.Cell>();
        var hashes = new int[] {0, 1, 15, 14, 31, 63, -1, 7};
        for (int op = 0; op < 40_000; op++) {
            int id = random.nextInt(600);
            var present = live.get(id);
            if (present == null) {
                var cell = new CowTree.Cell(keyOf(id), hashes[id % hashes.length], new byte[0], 0);
                index.add(cell);
                live.put(id, cell);
            } else if (random.nextBoolean()) {
                index.remove(present);
                live.remove(id);
            } else {
                var fresh = new CowTree.Cell(present.key, present.hash, new byte[1], 0);
                index.remove(present);
                index.add(fresh);
                live.put(id, fresh);
            }
            if (op % 97 == 0) {
                assertThat(index.size()).isEqualTo(live.size());
                for (int k = 0; k < 600; k++) {
                    var cell = index.find(keyOf(k), hashes[k % hashes.length]);
                    assertThat(cell).as("cell of key %d", k).isSameAs(live.get(k));
                }
            }
        }
    }

    private static byte[] keyOf(int id) {
        return new byte[] {(byte) (id >>> 8), (byte) id};
    }

    @Test
    void theHashCoversEveryByteOfKeysOfEveryLength() {
        // Flipping any single bit of a key of any length from 0 to 40 bytes changes its hash (the
        // hash reads 8, then 4, then 1 byte at a time: a byte it skipped would show here).
        var random = new Random(seed("hashCoverage"));
        for (int length = 0; length <= 40; length++) {
            var key = new byte[length];
            random.nextBytes(key);
            int hash = PointIndex.hash(key);
            List<Integer> same = new ArrayList<>();
            for (int bit = 0; bit < length * 8; bit++) {
                key[bit / 8] ^= (byte) (1 << (bit % 8));
                if (PointIndex.hash(key) == hash) {
                    same.add(bit);
                }
                key[bit / 8] ^= (byte) (1 << (bit % 8));
            }
            assertThat(same).as("bits of a %d-byte key that do not change its hash", length).isEmpty();
            assertThat(PointIndex.hash(java.util.Arrays.copyOf(key, length + 1)))
                    .as("a trailing zero byte changes the hash of a %d-byte key", length).isNotEqualTo(hash);
        }
    }
}

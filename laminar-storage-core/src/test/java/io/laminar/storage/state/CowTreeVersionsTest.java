package io.laminar.storage.state;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The versions a {@link CowTree} keeps for its snapshots: how long the undo logs live, the restart
 * of the epoch numbers before they could wrap around, and deltas between snapshots that share no
 * undo log.
 */
class CowTreeVersionsTest {

    private static byte[] key(int i) {
        return new byte[] {(byte) (i >>> 8), (byte) i};
    }

    private static byte[] value(int i, int round) {
        return new byte[] {(byte) i, (byte) round, 7};
    }

    private static Map<String, String> entries(StateSnapshot snapshot) {
        var out = new TreeMap<String, String>();
        snapshot.forEach((k, v) -> out.put(Arrays.toString(k), Arrays.toString(v)));
        var iterated = new TreeMap<String, String>();
        snapshot.iterator().forEachRemaining(e -> iterated.put(Arrays.toString(e.key()), Arrays.toString(e.value())));
        assertThat(iterated).isEqualTo(out);
        return out;
    }

    private static Map<String, String> entries(CowTree tree) {
        var out = new TreeMap<String, String>();
        tree.forEach((k, v) -> out.put(Arrays.toString(k), Arrays.toString(v)));
        return out;
    }

    @Test
    void theWriterRecordsReplacedValuesOnlyWhileASnapshotThatMayReadThemIsHeld() throws InterruptedException {
        var tree = new CowTree();
        for (int i = 0; i < 1_000; i++) {
            tree.put(key(i), value(i, 0), false);
        }
        assertThat(tree.undoRecords()).as("no snapshot taken yet").isEqualTo(-1);
        var held = tree.snapshot();
        var before = entries(held);
        for (int i = 0; i < 1_000; i++) {
            tree.put(key(i), value(i, 1), false);
            tree.put(key(i), value(i, 2), false); // the same epoch: in place, no second record
        }
        assertThat(tree.undoRecords()).isEqualTo(1_000);
        assertThat(entries(held)).isEqualTo(before);

        held = null; // the only snapshot: its undo log may go
        before = null;
        var deadline = System.nanoTime() + 10_000_000_000L;
        while (tree.undoRecords() != -1 && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(10);
        }
        assertThat(tree.undoRecords()).as("the log after its last reader was collected").isEqualTo(-1);
        var next = tree.snapshot();
        var atNext = entries(next);
        for (int i = 0; i < 1_000; i++) {
            tree.put(key(i), value(i, 3), false);
        }
        assertThat(tree.undoRecords()).as("a new snapshot: recording again").isEqualTo(1_000);
        assertThat(entries(next)).isEqualTo(atNext);
        assertThat(tree.checkInvariants()).isEqualTo(1_000);
    }

    @Test
    void epochNumbersRestartBeforeTheyWrapAroundAndEverySnapshotKeepsItsState() {
        var tree = new CowTree();
        for (int i = 0; i < 500; i++) {
            tree.put(key(i), value(i, 0), false);
        }
        tree.skipToEpoch(Integer.MAX_VALUE - 3);
        // Make the cells' epochs as late as the tree's before the first snapshot: the last epoch's.
        for (int i = 0; i < 500; i++) {
            tree.put(key(i), value(i, 1), false);
        }
        var snapshots = new ArrayList<StateSnapshot>();
        var states = new ArrayList<Map<String, String>>();
        for (int round = 2; round < 10; round++) {
            var snapshot = tree.snapshot();
            snapshots.add(snapshot);
            states.add(entries(snapshot));
            for (int i = round; i < 500; i += round) {
                tree.put(key(i), value(i, round), false);
            }
            tree.remove(key(round * 7));
            tree.put(key(1_000 + round), value(round, round), false);
            assertThat(tree.epoch()).isPositive().isLessThanOrEqualTo(Integer.MAX_VALUE);
        }
        assertThat(tree.epoch()).as("restarted").isLessThan(100);
        tree.checkInvariants();
        for (int s = 0; s < snapshots.size(); s++) {
            assertThat(entries(snapshots.get(s))).as("snapshot %d", s).isEqualTo(states.get(s));
        }
        var last = tree.snapshot();
        assertThat(entries(last)).isEqualTo(entries(tree));
        for (int s = 0; s < snapshots.size(); s++) { // across the restart the delta compares every entry
            assertThat(apply(states.get(s), last.changesSince(snapshots.get(s)))).isEqualTo(entries(last));
        }
    }

    @Test
    void aDeltaBetweenSnapshotsOfTwoStoresOrFromNewerToOlderComparesEveryEntry() {
        var store = new ChangelogAwareStateStore(ChangelogSink.NONE);
        for (int i = 0; i < 2_000; i++) {
            store.put(key(i), value(i, 0));
        }
        var a = store.snapshot();
        var fork = ChangelogAwareStateStore.fromSnapshot(a, ChangelogSink.NONE); // cells of its own
        for (int i = 0; i < 2_000; i += 3) {
            fork.put(key(i), value(i, 1));
            store.put(key(i + 1), value(i, 2));
        }
        fork.delete(key(5));
        fork.put(key(5_000), value(5, 5));
        var b = fork.snapshot();
        var c = store.snapshot();
        assertThat(apply(entries(a), b.changesSince(a))).isEqualTo(entries(b));
        assertThat(apply(entries(c), b.changesSince(c))).isEqualTo(entries(b));
        assertThat(apply(entries(b), c.changesSince(b))).isEqualTo(entries(c));
        assertThat(apply(entries(c), a.changesSince(c))).as("newer to older").isEqualTo(entries(a));
        assertThat(a.changesSince(a)).isEmpty();
        assertThat(c.changesSince(a)).hasSize(667);
    }

    @Test
    void storesBuiltFromASnapshotsValueArraysNeverWriteIntoThem() {
        var source = new ChangelogAwareStateStore(ChangelogSink.NONE);
        for (int i = 0; i < 100; i++) {
            source.put(key(i), value(i, 0));
        }
        var snapshot = source.snapshot();
        var before = entries(snapshot);
        var loader = ChangelogAwareStateStore.bulkLoader();
        snapshot.forEach(loader::onPut); // the snapshot's own arrays, as a rescale's regrouping passes them
        var regrouped = loader.build(ChangelogSink.NONE);
        var copied = ChangelogAwareStateStore.fromSnapshot(snapshot, ChangelogSink.NONE);
        for (int i = 0; i < 100; i++) {
            regrouped.put(key(i), value(i, 1)); // the same length: in place, were the arrays the store's own
            copied.put(key(i), value(i, 2));
            regrouped.put(key(i), value(i, 3));
        }
        assertThat(entries(snapshot)).isEqualTo(before);
        assertThat(regrouped.get(key(7))).isEqualTo(value(7, 3));
        assertThat(copied.get(key(7))).isEqualTo(value(7, 2));
    }

    private static Map<String, String> apply(Map<String, String> state, List<StateChange> changes) {
        var out = new TreeMap<>(state);
        for (var change : changes) {
            var k = Arrays.toString(change.key());
            if (change.isDelete()) {
                assertThat(out.remove(k)).as("deleted key %s was there", k).isNotNull();
            } else {
                out.put(k, Arrays.toString(change.value()));
            }
        }
        return out;
    }
}

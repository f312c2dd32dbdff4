package io.laminar.storage.sample;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.changelog.ChangelogFullException;
import io.laminar.storage.runtime.CoreContext;
import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.state.StateStore;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The crash safety of {@link CoreLedger}: the WAL keeps a prefix of each core's changes, so every
 * test cuts a task after each of its changes, recovers, sends the work again, and expects the state
 * of an uninterrupted run.
 */
class CoreLedgerTest {

    /** A store whose changes are recorded, so that any prefix of them can be replayed. */
    private static final class Recorded {
        final List<Consumer<StateStore>> changes = new ArrayList<>();
        final ChangelogAwareStateStore store = new ChangelogAwareStateStore(new ChangelogSink() {
            @Override
            public void onPut(byte[] key, byte[] value) {
                var k = key.clone();
                var v = value.clone();
                changes.add(s -> s.put(k, v));
            }

            @Override
            public void onDelete(byte[] key) {
                var k = key.clone();
                changes.add(s -> s.delete(k));
            }

            @Override
            public void onClear() {
                changes.add(StateStore::clear);
            }
        });

        /** A store holding the first {@code n} changes: what the WAL may keep after a crash. */
        ChangelogAwareStateStore prefix(int n) {
            var copy = new ChangelogAwareStateStore(ChangelogSink.NONE);
            changes.subList(0, n).forEach(change -> change.accept(copy));
            return copy;
        }
    }

    private static CoreContext context(StateStore store) {
        return new CoreContext() {
            @Override
            public int core() {
                return 0;
            }

            @Override
            public ChangelogAwareStateStore store() {
                return (ChangelogAwareStateStore) store;
            }
        };
    }

    private static Map<String, String> contents(StateStore store) {
        var out = new TreeMap<String, String>();
        store.forEach((k, v) -> out.put(new String(k, java.nio.charset.StandardCharsets.UTF_8),
                Base64.getEncoder().encodeToString(v)));
        return out;
    }

    private static BatchPart part(String id, boolean owner, BatchPart.KeyDelta... deltas) {
        var digest = new byte[Batch.DIGEST_LENGTH];
        digest[0] = (byte) id.hashCode();
        return new BatchPart(id, digest, owner, List.of(deltas));
    }

    /** The changes applying {@code part} makes: its redo record, its keys, a marker per key group, the deletion. */
    private static int changesOf(BatchPart part) {
        var groups = new java.util.TreeSet<Integer>();
        part.deltas().forEach(delta -> groups.add(keyGroupOf(delta.key())));
        if (part.owner()) {
            groups.add(keyGroupOf(part.batchId()));
        }
        return 2 + part.deltas().size() + groups.size();
    }

    private static int keyGroupOf(String key) {
        return io.laminar.storage.KeyGroups.keyGroupOf(key.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                io.laminar.storage.KeyGroups.DEFAULT_KEY_GROUPS);
    }

    private static FilePart lines(long end, FilePart.KeyLines... keys) {
        return new FilePart("/data/events.jsonl", end, List.of(keys));
    }

    /** A ledger with history: two keys changed by a batch and by file lines, one owned batch. */
    private static Recorded withHistory() {
        var recorded = new Recorded();
        var ledger = CoreLedger.recover(context(recorded.store));
        ledger.applyPart(part("earlier", true, new BatchPart.KeyDelta("alice", 10, 2), new BatchPart.KeyDelta("bob", -3, 1)));
        ledger.applyLines(lines(100, new FilePart.KeyLines("alice", new long[] {0, 40}, new long[] {1, 2})));
        return recorded;
    }

    @Test
    void aBatchPartCutAfterAnyOfItsChangesIsFinishedByRecoveryAndAppliedExactlyOnce() {
        var base = withHistory();
        int before = base.changes.size();
        var part = part("b-7", true, new BatchPart.KeyDelta("alice", 5, 1), new BatchPart.KeyDelta("carol", 7, 3),
                new BatchPart.KeyDelta("bob", -1, 1));
        var ledger = CoreLedger.recover(context(base.store));
        assertThat(ledger.applyPart(part)).isEqualTo(CoreLedger.PartOutcome.APPLIED);
        var expected = contents(base.store);
        var expectedTotals = ledger.totals();
        assertThat(expectedTotals).isEqualTo(new Totals(3, 2 + 1 + 2 + 1 + 3 + 1, BigInteger.valueOf(10 - 3 + 3 + 11), 2));
        int changes = base.changes.size() - before;
        assertThat(changes).as("pending, three keys, a marker per key group, delete of pending")
                .isEqualTo(changesOf(part));

        for (int kept = 0; kept <= changes; kept++) {
            var crashed = base.prefix(before + kept);
            var recovered = CoreLedger.recover(context(crashed));
            // Recovery finished the part if its redo record made it; else nothing of it is there.
            var again = recovered.applyPart(part);
            assertThat(again).as("resent after a crash that kept %d of %d changes", kept, changes)
                    .isEqualTo(kept == 0 ? CoreLedger.PartOutcome.APPLIED : CoreLedger.PartOutcome.ALREADY_APPLIED);
            assertThat(contents(crashed)).as("state after a crash that kept %d of %d changes", kept, changes)
                    .isEqualTo(expected);
            assertThat(recovered.totals()).isEqualTo(expectedTotals);
            assertThat(CoreLedger.recover(context(crashed)).totals()).as("counted again").isEqualTo(expectedTotals);
        }
    }

    /** A sink that refuses one change, the {@code n}th from now (1-based), as a full changelog queue does. */
    private static final class RefusingOnce implements ChangelogSink {
        private final ChangelogSink next;
        private int countdown;

        RefusingOnce(ChangelogSink next) {
            this.next = next;
        }

        void refuse(int n) {
            countdown = n;
        }

        private void check() {
            if (countdown > 0 && --countdown == 0) {
                throw new ChangelogFullException("the changelog queue of core 0 is full (test)");
            }
        }

        @Override
        public void onPut(byte[] key, byte[] value) {
            check();
            next.onPut(key, value);
        }

        @Override
        public void onDelete(byte[] key) {
            check();
            next.onDelete(key);
        }

        @Override
        public void onClear() {
            check();
            next.onClear();
        }
    }

    @Test
    void aPartSentAgainAfterAChangeWasRefusedDoesNotApplyItsKeysTwice() {
        var sink = new RefusingOnce(ChangelogSink.NONE);
        var store = new ChangelogAwareStateStore(sink);
        var ledger = CoreLedger.recover(context(store));
        var part = part("b-1", true, new BatchPart.KeyDelta("k1", 10, 1), new BatchPart.KeyDelta("k2", 5, 1));
        sink.refuse(3); // pending, k1, then k2 is refused

        assertThatThrownBy(() -> ledger.applyPart(part)).isInstanceOf(ChangelogFullException.class);
        assertThat(ledger.applyPart(part)).isEqualTo(CoreLedger.PartOutcome.APPLIED);

        assertThat(ledger.account("k1").balance()).isEqualTo(BigInteger.TEN);
        assertThat(ledger.account("k2").balance()).isEqualTo(BigInteger.valueOf(5));
        assertThat(ledger.applyPart(part)).isEqualTo(CoreLedger.PartOutcome.ALREADY_APPLIED);
        assertThat(ledger.totals()).isEqualTo(new Totals(2, 2, BigInteger.valueOf(15), 1))
                .isEqualTo(CoreLedger.recover(context(store)).totals());
    }

    @Test
    void aPartWhoseChangeIsRefusedAtAnyPointIsAppliedExactlyOnceBySendingItAgain() {
        var part = part("b-7", true, new BatchPart.KeyDelta("alice", 5, 1), new BatchPart.KeyDelta("carol", 7, 3),
                new BatchPart.KeyDelta("bob", -1, 1));
        var uninterrupted = withHistory();
        var expectedLedger = CoreLedger.recover(context(uninterrupted.store));
        expectedLedger.applyPart(part);
        var expected = contents(uninterrupted.store);
        var expectedTotals = expectedLedger.totals();
        int changes = changesOf(part); // pending, three keys, a marker per key group, delete of pending

        for (int refused = 1; refused <= changes; refused++) {
            var sink = new RefusingOnce(ChangelogSink.NONE);
            var store = new ChangelogAwareStateStore(sink);
            withHistory().changes.forEach(change -> change.accept(store));
            var ledger = CoreLedger.recover(context(store));
            sink.refuse(refused);

            assertThatThrownBy(() -> ledger.applyPart(part)).as("change %d of %d refused", refused, changes)
                    .isInstanceOf(ChangelogFullException.class);
            // Only the deletion of the redo record was refused: the part was applied, marker and all.
            var again = ledger.applyPart(part);
            assertThat(again).as("sent again after change %d of %d was refused", refused, changes)
                    .isEqualTo(refused == changes ? CoreLedger.PartOutcome.ALREADY_APPLIED
                            : CoreLedger.PartOutcome.APPLIED);
            assertThat(contents(store)).as("state after change %d of %d was refused", refused, changes)
                    .isEqualTo(expected);
            assertThat(ledger.totals()).as("totals after change %d of %d was refused", refused, changes)
                    .isEqualTo(expectedTotals);
            assertThat(CoreLedger.recover(context(store)).totals()).as("counted again").isEqualTo(expectedTotals);
        }
    }

    @Test
    void theNextPartOnTheCoreFinishesAPartLeftHalfAppliedByARefusedChange() {
        var sink = new RefusingOnce(ChangelogSink.NONE);
        var store = new ChangelogAwareStateStore(sink);
        var ledger = CoreLedger.recover(context(store));
        var first = part("b-1", true, new BatchPart.KeyDelta("k1", 10, 1), new BatchPart.KeyDelta("k2", 5, 1));
        var second = part("b-2", false, new BatchPart.KeyDelta("k1", 1, 1), new BatchPart.KeyDelta("k3", 2, 1));
        sink.refuse(3);
        assertThatThrownBy(() -> ledger.applyPart(first)).isInstanceOf(ChangelogFullException.class);

        // Another part comes first: the redo record of the first is not overwritten, it is finished.
        assertThat(ledger.applyPart(second)).isEqualTo(CoreLedger.PartOutcome.APPLIED);
        assertThat(ledger.applyPart(first)).isEqualTo(CoreLedger.PartOutcome.ALREADY_APPLIED);

        assertThat(ledger.account("k1")).isEqualTo(new Account(BigInteger.valueOf(11), 2, "b-2", -1));
        assertThat(ledger.account("k2").balance()).isEqualTo(BigInteger.valueOf(5));
        assertThat(ledger.account("k3").balance()).isEqualTo(BigInteger.TWO);
        assertThat(ledger.totals()).isEqualTo(new Totals(3, 4, BigInteger.valueOf(18), 1))
                .isEqualTo(CoreLedger.recover(context(store)).totals());
    }

    @Test
    void aPartWithTheIdOfAHalfAppliedOneButOtherEventsConflictsOnceThatOneIsFinished() {
        var sink = new RefusingOnce(ChangelogSink.NONE);
        var store = new ChangelogAwareStateStore(sink);
        var ledger = CoreLedger.recover(context(store));
        var first = part("b-1", true, new BatchPart.KeyDelta("k1", 10, 1), new BatchPart.KeyDelta("k2", 5, 1));
        sink.refuse(3);
        assertThatThrownBy(() -> ledger.applyPart(first)).isInstanceOf(ChangelogFullException.class);

        var other = new BatchPart("b-1", new byte[Batch.DIGEST_LENGTH], true,
                List.of(new BatchPart.KeyDelta("k1", 100, 1)));
        assertThat(ledger.applyPart(other)).isEqualTo(CoreLedger.PartOutcome.CONFLICT);
        assertThat(ledger.account("k1").balance()).isEqualTo(BigInteger.TEN);
        assertThat(ledger.account("k2").balance()).isEqualTo(BigInteger.valueOf(5));
    }

    @Test
    void fileLinesSentAgainAfterAChangeWasRefusedCountOnce() {
        var chunk = lines(200, new FilePart.KeyLines("alice", new long[] {100, 150}, new long[] {4, 8}),
                new FilePart.KeyLines("dave", new long[] {120}, new long[] {-6}));
        var uninterrupted = withHistory();
        var expectedLedger = CoreLedger.recover(context(uninterrupted.store));
        expectedLedger.applyLines(chunk);
        var expected = contents(uninterrupted.store);
        int changes = 3; // alice, dave, the position

        for (int refused = 1; refused <= changes; refused++) {
            var sink = new RefusingOnce(ChangelogSink.NONE);
            var store = new ChangelogAwareStateStore(sink);
            withHistory().changes.forEach(change -> change.accept(store));
            var ledger = CoreLedger.recover(context(store));
            sink.refuse(refused);

            assertThatThrownBy(() -> ledger.applyLines(chunk)).isInstanceOf(ChangelogFullException.class);
            ledger.applyLines(chunk);
            assertThat(contents(store)).as("state after change %d of %d was refused", refused, changes)
                    .isEqualTo(expected);
            assertThat(ledger.totals()).isEqualTo(expectedLedger.totals());
        }
    }

    @Test
    void fileLinesReadAgainAfterACutAfterAnyChangeCountOnce() {
        var base = withHistory();
        int before = base.changes.size();
        var chunk = lines(200, new FilePart.KeyLines("alice", new long[] {100, 150}, new long[] {4, 8}),
                new FilePart.KeyLines("dave", new long[] {120}, new long[] {-6}));
        var ledger = CoreLedger.recover(context(base.store));
        assertThat(ledger.applyLines(chunk)).isEqualTo(new FilePart.Outcome(3, 0));
        var expected = contents(base.store);
        var expectedTotals = ledger.totals();
        int changes = base.changes.size() - before;
        assertThat(changes).as("alice, dave, the position").isEqualTo(3);
        // Re-reading from an earlier offset: the chunk before this one, then this one, in other chunk bounds.
        var earlier = lines(120, new FilePart.KeyLines("alice", new long[] {0, 40, 100}, new long[] {1, 2, 4}));
        var rest = lines(200, new FilePart.KeyLines("dave", new long[] {120}, new long[] {-6}),
                new FilePart.KeyLines("alice", new long[] {150}, new long[] {8}));

        for (int kept = 0; kept <= changes; kept++) {
            var crashed = base.prefix(before + kept);
            var recovered = CoreLedger.recover(context(crashed));
            recovered.applyLines(earlier);
            recovered.applyLines(rest);
            assertThat(contents(crashed)).as("state after a crash that kept %d of %d changes", kept, changes)
                    .isEqualTo(expected);
            assertThat(recovered.totals()).isEqualTo(expectedTotals);
        }
        var account = CoreLedger.recover(context(base.store)).account("alice");
        assertThat(account).isEqualTo(new Account(BigInteger.valueOf(10 + 1 + 2 + 4 + 8), 6, "earlier", 150));
    }

    @Test
    void aPartWhoseIdWasAppliedWithOtherEventsConflictsAndChangesNothing() {
        var base = withHistory();
        var ledger = CoreLedger.recover(context(base.store));
        var before = contents(base.store);
        var other = new BatchPart("earlier", new byte[Batch.DIGEST_LENGTH], true,
                List.of(new BatchPart.KeyDelta("alice", 1, 1)));

        assertThat(ledger.applyPart(other)).isEqualTo(CoreLedger.PartOutcome.CONFLICT);
        assertThat(ledger.conflicts("earlier", other.digest())).isTrue();
        assertThat(ledger.conflicts("earlier", part("earlier", true).digest())).isFalse();
        assertThat(contents(base.store)).isEqualTo(before);
    }

    @Test
    void anOwnerPartWithoutKeysOnlyRecordsTheBatch() {
        var recorded = new Recorded();
        var ledger = CoreLedger.recover(context(recorded.store));
        assertThat(ledger.applyPart(part("empty", true))).isEqualTo(CoreLedger.PartOutcome.APPLIED);
        assertThat(recorded.changes).hasSize(1);
        assertThat(ledger.totals()).isEqualTo(new Totals(0, 0, BigInteger.ZERO, 1));
        assertThat(ledger.applyPart(part("empty", true))).isEqualTo(CoreLedger.PartOutcome.ALREADY_APPLIED);
        // A non-owner part does not count as a batch.
        ledger.applyPart(part("elsewhere", false, new BatchPart.KeyDelta("x", 1, 1)));
        assertThat(CoreLedger.recover(context(recorded.store)).totals()).isEqualTo(new Totals(1, 1, BigInteger.ONE, 1));
    }

    @Test
    void theSourcePositionNeverMovesBackAndNamesItsFile() {
        var recorded = new Recorded();
        var ledger = CoreLedger.recover(context(recorded.store));
        ledger.applyLines(lines(500));
        ledger.applyLines(lines(300));
        assertThat(ledger.sourcePosition()).isEqualTo(new SourcePosition("/data/events.jsonl", 500));
        assertThatThrownBy(() -> ledger.applyLines(new FilePart("/other.jsonl", 600, List.of())))
                .hasMessageContaining("/data/events.jsonl").hasMessageContaining("/other.jsonl");
    }

    @Test
    void balancesAreExactBeyondSixtyFourBits() {
        var recorded = new Recorded();
        var ledger = CoreLedger.recover(context(recorded.store));
        ledger.applyPart(part("big-1", true, new BatchPart.KeyDelta("k", Long.MAX_VALUE, 1)));
        ledger.applyPart(part("big-2", true, new BatchPart.KeyDelta("k", Long.MAX_VALUE, 1)));
        var twice = BigInteger.valueOf(Long.MAX_VALUE).multiply(BigInteger.TWO);
        assertThat(ledger.account("k").balance()).isEqualTo(twice);
        assertThat(CoreLedger.recover(context(recorded.store)).totals().sum()).isEqualTo(twice);
    }
}

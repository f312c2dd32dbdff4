package io.laminar.storage.sample;

import io.laminar.storage.KeyGroups;
import io.laminar.storage.runtime.CoreContext;
import io.laminar.storage.state.StateStore;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sample's state on one core and every way it changes, each idempotent across crashes.
 *
 * <h2>Why each change is safe to repeat</h2>
 * The WAL guarantees that after a crash a core's durable changes are a prefix of the changes it
 * made, so a task that makes several changes may be cut anywhere between two of them.
 * <ul>
 *   <li>A batch part ({@link #applyPart}) writes its redo record {@code pending} first, then one
 *       change per key (each stamped with the batch id), then the batch marker of each key group
 *       it touched, then deletes {@code pending}. A {@code pending} left behind, by a crash or by a change that threw
 *       part-way (a full changelog queue with the overflow policy FAIL), is finished before
 *       anything else: by {@link #recover}, or by the next {@link #applyPart} on the core. Finishing
 *       applies the part to each key not yet stamped with its batch (without a marker, only this
 *       part can have stamped a key with its id), writes the marker and deletes {@code pending}. A
 *       part whose marker exists is skipped.</li>
 *   <li>A file part ({@link #applyLines}) changes each key once, stamping it with the offset of the
 *       key's last line; a line at or before a key's stamp is skipped. Then it advances the core's
 *       {@link SourcePosition}, never backwards. A chunk cut anywhere, by a crash or by a change
 *       that threw, is simply read and applied again.</li>
 * </ul>
 *
 * <p>Thread-safety: confined to its core's thread. {@link #recover} makes it there, in the
 * runtime's {@code CoreInitializer}; only tasks of that core touch it afterwards.
 */
final class CoreLedger {

    private static final Logger log = LoggerFactory.getLogger(CoreLedger.class);

    /** What applying a batch part found. */
    enum PartOutcome {
        /** This call applied the part. */
        APPLIED,
        /** The part of this batch was applied before: nothing changed. */
        ALREADY_APPLIED,
        /** Another batch with the same id was applied here: nothing changed. */
        CONFLICT
    }

    private final int core;
    private final StateStore store;
    private final int keyGroups;
    // The summary of this core's state: counted once by recover(), then kept up to date by each change.
    private long keys;
    private long events;
    private BigInteger sum = BigInteger.ZERO;
    private long batches;

    private CoreLedger(int core, StateStore store, int keyGroups) {
        this.core = core;
        this.store = store;
        this.keyGroups = keyGroups;
    }

    /** {@link #recover(CoreContext, int)} with {@link KeyGroups#DEFAULT_KEY_GROUPS}. */
    static CoreLedger recover(CoreContext context) {
        return recover(context, KeyGroups.DEFAULT_KEY_GROUPS);
    }

    /**
     * The ledger of a core whose state was just recovered: counts the state, then finishes the
     * batch parts a crash interrupted, if any (counting what that changes). Call on the core thread
     * before any task.
     *
     * @param keyGroups the runtime's number of key groups, which the batch markers are kept by
     */
    static CoreLedger recover(CoreContext context, int keyGroups) {
        var ledger = new CoreLedger(context.core(), context.store(), keyGroups);
        ledger.count();
        ledger.finishPending("a crash");
        log.info("core {} holds {} keys, {} events, {} owned batches", ledger.core, ledger.keys, ledger.events,
                ledger.batches);
        return ledger;
    }

    /**
     * Finishes the batch parts whose redo record {@code pending} was left on this core, if any.
     *
     * @param leftBy what left them unfinished, for the log
     * @return the parts of which this call wrote a marker
     */
    private List<BatchPart> finishPending(String leftBy) {
        var value = store.get(StateKeys.pending());
        if (value == null) {
            return List.of();
        }
        var marked = new ArrayList<BatchPart>();
        for (var part : PendingParts.decode(value, core)) {
            boolean wasMarked = groupsOf(part).keySet().stream()
                    .allMatch(group -> store.containsKey(StateKeys.batch(group, part.batchId())));
            int redone = finish(part);
            log.info("core {} finished its part of batch '{}', left unfinished by {}: {} of its {} keys were missing "
                    + "and are now applied", core, part.batchId(), leftBy, redone, part.deltas().size());
            if (!wasMarked) {
                marked.add(part);
            }
        }
        store.delete(StateKeys.pending());
        return marked;
    }

    /** The key group of an account key. */
    private int keyGroupOf(String key) {
        return KeyGroups.keyGroupOf(key.getBytes(StandardCharsets.UTF_8), keyGroups);
    }

    /**
     * The key groups of a part, each with its deltas; an owner's part also has the key group of its
     * batch id (whose marker counts the batch), with no delta if none of its keys is there.
     */
    private Map<Integer, List<BatchPart.KeyDelta>> groupsOf(BatchPart part) {
        var groups = new TreeMap<Integer, List<BatchPart.KeyDelta>>();
        for (var delta : part.deltas()) {
            groups.computeIfAbsent(keyGroupOf(delta.key()), g -> new ArrayList<>()).add(delta);
        }
        if (part.owner()) {
            groups.computeIfAbsent(keyGroupOf(part.batchId()), g -> new ArrayList<>());
        }
        return groups;
    }

    /**
     * Applies {@code part} to each of its keys not yet stamped with its batch and writes the marker
     * of each of its key groups unless it exists. Each change is counted once it is made, so that
     * the totals stay true if one throws. Leaves the redo record to the caller.
     *
     * @return how many keys it changed
     */
    private int finish(BatchPart part) {
        int changed = 0;
        for (var delta : part.deltas()) {
            var accountKey = StateKeys.account(delta.key());
            var before = store.get(accountKey);
            var account = before == null ? Account.EMPTY : Account.decode(before, delta.key());
            if (!account.lastBatchId().equals(part.batchId())) {
                store.put(accountKey, account.plusBatch(delta.amount(), delta.events(), part.batchId()).encode());
                counted(before == null, delta.events(), BigInteger.valueOf(delta.amount()));
                changed++;
            }
        }
        int ownerGroup = keyGroupOf(part.batchId());
        for (int group : groupsOf(part).keySet()) {
            var markerKey = StateKeys.batch(group, part.batchId());
            if (!store.containsKey(markerKey)) {
                boolean owner = part.owner() && group == ownerGroup;
                store.put(markerKey, new BatchMarker(owner, part.digest()).encode());
                if (owner) {
                    batches++;
                }
            }
        }
        return changed;
    }

    private void count() {
        store.forEach((key, value) -> {
            if (key[0] == StateKeys.ACCOUNT) {
                var account = Account.decode(value, StateKeys.name(key));
                keys++;
                events += account.events();
                sum = sum.add(account.balance());
            } else if (key[0] == StateKeys.BATCH && BatchMarker.isOwner(value)) {
                batches++;
            }
        });
    }

    /**
     * Applies the part to each of its key groups that has no marker of its batch id yet.
     *
     * <p>Markers are kept per key group, so that they move with their keys when the number of cores
     * changes: a part sent again after a rescale applies exactly the key groups whose keys it had
     * not changed, wherever they now are. If a marker of the part's id has another digest, the
     * part is refused ({@link PartOutcome#CONFLICT}) and nothing changes.
     *
     * <p>If a change throws (say, the changelog queue is full and its overflow policy is FAIL), the
     * keys changed so far stay changed and the redo record stays: the next call on this core,
     * whichever part it brings, finishes that part first. So sending a part again after a failure
     * applies exactly its missing keys, and answers {@link PartOutcome#APPLIED} if it completed it.
     */
    PartOutcome applyPart(BatchPart part) {
        var interrupted = finishPending("a change that threw (its request was answered with an error)");
        var groups = groupsOf(part);
        var missing = new TreeMap<Integer, List<BatchPart.KeyDelta>>();
        for (var group : groups.entrySet()) {
            var marker = store.get(StateKeys.batch(group.getKey(), part.batchId()));
            if (marker == null) {
                missing.put(group.getKey(), group.getValue());
            } else if (!Arrays.equals(BatchMarker.decode(marker, part.batchId()).digest(), part.digest())) {
                return PartOutcome.CONFLICT;
            }
        }
        if (missing.isEmpty()) {
            boolean completedNow = interrupted.stream().anyMatch(done -> done.batchId().equals(part.batchId())
                    && Arrays.equals(done.digest(), part.digest()));
            return completedNow ? PartOutcome.APPLIED : PartOutcome.ALREADY_APPLIED;
        }
        var deltas = new ArrayList<BatchPart.KeyDelta>();
        missing.values().forEach(deltas::addAll);
        boolean owner = part.owner() && missing.containsKey(keyGroupOf(part.batchId()));
        var rest = new BatchPart(part.batchId(), part.digest(), owner, deltas);
        if (!deltas.isEmpty()) {
            // A part without keys is a single change (its marker) and needs no redo record.
            store.put(StateKeys.pending(), PendingParts.encode(List.of(rest)));
        }
        finish(rest);
        if (!deltas.isEmpty()) {
            store.delete(StateKeys.pending());
        }
        return PartOutcome.APPLIED;
    }

    /** Whether this ledger holds the owner's marker of {@code batchId} with another digest than {@code digest}. */
    boolean conflicts(String batchId, byte[] digest) {
        var marker = store.get(StateKeys.batch(keyGroupOf(batchId), batchId));
        return marker != null && !Arrays.equals(BatchMarker.decode(marker, batchId).digest(), digest);
    }

    /** Applies the lines of {@code part} that are not applied yet, then advances this core's position. */
    FilePart.Outcome applyLines(FilePart part) {
        var position = sourcePosition();
        if (position != null && !position.file().equals(part.file())) {
            throw new IllegalStateException("core " + core + " applied the file source " + position.file()
                    + ", not " + part.file());
        }
        long applied = 0;
        long skipped = 0;
        for (var lines : part.keys()) {
            var accountKey = StateKeys.account(lines.key());
            var before = store.get(accountKey);
            var account = before == null ? Account.EMPTY : Account.decode(before, lines.key());
            var amount = BigInteger.ZERO;
            long count = 0;
            long last = account.lastFileOffset();
            for (int i = 0; i < lines.offsets().length; i++) {
                if (lines.offsets()[i] <= account.lastFileOffset()) {
                    skipped++;
                } else {
                    amount = amount.add(BigInteger.valueOf(lines.amounts()[i]));
                    count++;
                    last = lines.offsets()[i];
                }
            }
            if (count > 0) {
                store.put(accountKey, account.plusLines(amount, count, last).encode());
                counted(before == null, count, amount);
                applied += count;
            }
        }
        if (position == null || position.offset() < part.end()) {
            store.put(StateKeys.source(), new SourcePosition(part.file(), part.end()).encode());
        }
        return new FilePart.Outcome(applied, skipped);
    }

    private void counted(boolean newKey, long newEvents, BigInteger amount) {
        if (newKey) {
            keys++;
        }
        events += newEvents;
        sum = sum.add(amount);
    }

    /** The account of {@code key}, or {@code null} if it has none. */
    Account account(String key) {
        var value = store.get(StateKeys.account(key));
        return value == null ? null : Account.decode(value, key);
    }

    private Account accountOrEmpty(String key) {
        var account = account(key);
        return account == null ? Account.EMPTY : account;
    }

    /** Where this core stands in the file source, or {@code null} if it never applied a chunk. */
    SourcePosition sourcePosition() {
        return position(store, core);
    }

    /** The position recorded in {@code store} (any core's store, e.g. its state at a checkpoint cut). */
    static SourcePosition position(StateStore store, int core) {
        var value = store.get(StateKeys.source());
        return value == null ? null : SourcePosition.decode(value, core);
    }

    Totals totals() {
        return new Totals(keys, events, sum, batches);
    }
}

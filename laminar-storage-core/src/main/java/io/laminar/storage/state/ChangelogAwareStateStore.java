package io.laminar.storage.state;

import java.util.Iterator;
import java.util.Objects;

/**
 * A single-threaded keyed state store for one core (Ring 0) that publishes every change to a
 * {@link ChangelogSink} and takes O(1) snapshots for checkpoints.
 *
 * <h2>Thread-safety</h2>
 * Not thread-safe: every method except on the {@link StateSnapshot}s it returns must be called by
 * the one core thread that owns the store. Snapshots are immutable and may be read by any thread
 * while the core thread keeps writing.
 *
 * <h2>Changelog</h2>
 * {@link #put}, {@link #delete} (of a present key) and {@link #clear} call the sink first and then
 * apply the change, so a sink that throws (say, a full queue) leaves the store unchanged. Deleting
 * an absent key is not a change and is not published. The sink must copy what it keeps (see
 * {@link ChangelogSink}).
 *
 * <h2>Snapshots and checkpoints</h2>
 * The map is a copy-on-write B+-tree whose nodes and per-key cells carry an owner token, with a
 * hash index beside it that leads from each key straight to its cell. {@link #snapshot()} captures
 * the root and starts a new token: two small allocations, no copying, microseconds at most. After
 * it, the core thread copies a node (and the path to it) and the key's cell the first time it
 * writes to them, and mutates them in place from then on; the snapshot keeps the old ones. At an
 * epoch boundary a checkpoint takes a snapshot on the core thread, hands it to a Ring 1 thread, and
 * there writes either all of it or {@code snapshot.changesSince(previousSnapshot)}, a delta that
 * costs time in proportion to what changed.
 *
 * <h2>Cost of a put</h2>
 * <ul>
 *   <li>Overwriting a key already written since the last snapshot: a hash of the key, a probe of
 *       the index and, for a value of the same length, a copy of the bytes into the existing array.
 *       The tree is not touched and nothing is allocated. With another length: one value array.</li>
 *   <li>The first write to a key after a snapshot: a new cell and value array. If the writer has
 *       already copied the key's leaf since the snapshot, the cell goes into that copy, found through
 *       the tree's leaf registry; otherwise a descent of the tree copies the leaf and those of its
 *       ancestors not yet copied (a leaf is three objects: the node and two 32-slot arrays). The
 *       descent's cache misses are most of what a snapshot costs the core thread.</li>
 *   <li>A new key: the key and value copies and a cell, a descent, a new leaf (and parents) when a
 *       node splits, and now and then the index doubling.</li>
 *   <li>Whatever the sink allocates.</li>
 * </ul>
 *
 * <h2>Memory</h2>
 * Per key, besides the key and value arrays: two leaf slots (8 bytes, leaves about 3/4 full), the
 * cell (32 bytes) and the index's share of its table (8 to 16 bytes, the table at most half full).
 *
 * <h2>Restore</h2>
 * {@link #restore} bulk-loads entries in key order (from a checkpoint); {@link #fromSnapshot} starts
 * from a snapshot without copying it (it only indexes its cells); {@link #replayer()} applies
 * changelog entries (WAL replay) without publishing them again.
 */
public final class ChangelogAwareStateStore implements StateStore {

    private final CowTree tree;
    private final ChangelogSink changelog;

    /** An empty store publishing to {@code changelog} (use {@link ChangelogSink#NONE} for none). */
    public ChangelogAwareStateStore(ChangelogSink changelog) {
        this(new CowTree(), changelog);
    }

    private ChangelogAwareStateStore(CowTree tree, ChangelogSink changelog) {
        this.tree = tree;
        this.changelog = Objects.requireNonNull(changelog, "changelog");
    }

    /**
     * A store holding {@code entries}, which must come in strictly ascending unsigned key order (as
     * a snapshot iterates them); the arrays are copied. Nothing is published to the sink: restored
     * state is already durable.
     *
     * @throws IllegalArgumentException if a key is not greater than the one before it
     */
    public static ChangelogAwareStateStore restore(Iterator<StateEntry> entries, ChangelogSink changelog) {
        var loader = new CowTree.Loader();
        while (entries.hasNext()) {
            var entry = entries.next();
            loader.add(entry.key().clone(), entry.value().clone());
        }
        return new ChangelogAwareStateStore(loader.build(), changelog);
    }

    /**
     * A store that starts with the state of {@code snapshot}: it shares the snapshot's nodes and
     * cells and copies each the first time it writes to it. It builds its hash index in one pass
     * over the snapshot's cells (O(size), but no key or value is copied or hashed again).
     */
    public static ChangelogAwareStateStore fromSnapshot(StateSnapshot snapshot, ChangelogSink changelog) {
        return new ChangelogAwareStateStore(new CowTree(snapshot.root(), snapshot.size(), snapshot.takeHandover()),
                changelog);
    }

    /**
     * Takes a last snapshot and retires the store: the snapshot carries the store's hash index and
     * leaf registry, which the first {@link #fromSnapshot} of it takes over instead of building an
     * index and starting with no leaf registered (recovery hands its
     * stores to the runtime this way, so a restore indexes each key once, not twice). After this the
     * store must not be used (it has no index left: writes and point reads fail with a
     * {@link NullPointerException}); use the snapshot. The snapshot itself is an
     * ordinary one (thread-safe, immutable); until a {@code fromSnapshot} takes the index it also
     * holds the index's table (8 to 16 bytes per key) and the registry (under 1 byte per key).
     */
    public StateSnapshot retire() {
        long size = tree.size();
        var handover = tree.retire();
        return new StateSnapshot(tree.root(), size, handover);
    }

    @Override
    public byte[] get(byte[] key) {
        return tree.getCopy(key);
    }

    @Override
    public int get(byte[] key, byte[] into) {
        return tree.copyValue(key, into);
    }

    @Override
    public boolean containsKey(byte[] key) {
        return tree.get(key) != null;
    }

    /** Publishes the put, then maps {@code key} to a copy of {@code value}. */
    @Override
    public void put(byte[] key, byte[] value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        changelog.onPut(key, value);
        tree.put(key, value, false);
    }

    /** If {@code key} is present, publishes the deletion and removes it. */
    @Override
    public boolean delete(byte[] key) {
        if (tree.get(key) == null) {
            return false;
        }
        changelog.onDelete(key);
        return tree.remove(key);
    }

    /** Publishes the clear (always, even when empty), then removes every key in O(1). */
    @Override
    public void clear() {
        changelog.onClear();
        tree.clear();
    }

    @Override
    public long size() {
        return tree.size();
    }

    @Override
    public void forEach(EntryVisitor visitor) {
        tree.forEach(visitor);
    }

    @Override
    public Iterator<StateEntry> iterator() {
        return tree.iterator();
    }

    /**
     * An immutable, thread-safe view of the current state in O(1). Call it on the core thread at the
     * epoch boundary; read it anywhere.
     */
    @Override
    public StateSnapshot snapshot() {
        long size = tree.size();
        return new StateSnapshot(tree.freeze(), size);
    }

    /**
     * A sink that applies changelog entries to this store without publishing them again: feed it
     * the entries read back from the log, in order, after restoring the checkpoint they follow.
     * Arrays are copied. Same thread rules as the store. The first write to each key since the last
     * snapshot is placed into the tree later, in key order with the others (see the private
     * {@code replayer(boolean)}); the store's methods see every change at once.
     */
    public ChangelogSink replayer() {
        return replayer(false);
    }

    /**
     * As {@link #replayer()}, but the store adopts the key and value arrays it is given instead of
     * copying them: for a caller that hands over arrays of its own it never touches again (such as
     * those {@link StateChangeFormat#apply} decodes), which saves a copy of every replayed value.
     */
    public ChangelogSink adoptingReplayer() {
        return replayer(true);
    }

    /**
     * The first write to each key since the last snapshot is placed into the tree later, in key
     * order, with the others (see {@code CowTree.putDeferred}): a replay after a snapshot (recovery
     * takes one of the checkpoint's state before it replays the WAL) then copies each leaf once and
     * finds the path to it in the CPU's cache, instead of a descent with a cache miss at every level
     * per record. Transparent to readers: the store places them before anything reads the tree.
     */
    private ChangelogSink replayer(boolean adopt) {
        return new ChangelogSink() {
            @Override
            public void onPut(byte[] key, byte[] value) {
                tree.putDeferred(key, value, adopt);
            }

            @Override
            public void onDelete(byte[] key) {
                tree.remove(key);
            }

            @Override
            public void onClear() {
                tree.clear();
            }
        };
    }

    /**
     * A sink that bulk-loads a new store from puts in strictly ascending unsigned key order, as a
     * full snapshot is written: much faster than putting entries one by one. It adopts the arrays
     * it is given (the caller must not touch them afterwards) and refuses deletes, clears and keys
     * out of order with an {@link IllegalArgumentException}. Single-threaded; build once.
     */
    public static BulkLoader bulkLoader() {
        return new BulkLoader();
    }

    /** See {@link #bulkLoader()}. */
    public static final class BulkLoader implements ChangelogSink {
        private final CowTree.Loader loader = new CowTree.Loader();

        private BulkLoader() {
        }

        @Override
        public void onPut(byte[] key, byte[] value) {
            loader.add(key, value);
        }

        @Override
        public void onDelete(byte[] key) {
            throw new IllegalArgumentException("a bulk load takes puts only, but got a delete");
        }

        @Override
        public void onClear() {
            throw new IllegalArgumentException("a bulk load takes puts only, but got a clear");
        }

        /** The store holding everything put so far, publishing its future changes to {@code changelog}. */
        public ChangelogAwareStateStore build(ChangelogSink changelog) {
            return new ChangelogAwareStateStore(loader.build(), changelog);
        }
    }

    /**
     * For tests: verifies the tree, its ownership marks and its index (see
     * {@link CowTree#checkInvariants()}) and returns the key count. Walks everything.
     */
    long checkInvariants() {
        return tree.checkInvariants();
    }

    @Override
    public String toString() {
        return "ChangelogAwareStateStore[size=" + tree.size() + "]";
    }
}

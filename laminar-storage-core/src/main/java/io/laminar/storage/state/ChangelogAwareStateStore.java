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
 * The map is a copy-on-write B+-tree of per-key cells that keep the versions snapshots still
 * read, with a hash index beside it that leads from each key straight to its cell.
 * {@link #snapshot()} captures the root and starts a new epoch: a few small allocations, no copying,
 * microseconds at most. After it, the first write to a key records the value it replaces in an undo
 * log that the snapshot holds, and the key's cell then takes the new value, where it is; a new key
 * or a removal copies the nodes on its path (the snapshot keeps the old ones). At an epoch
 * boundary a checkpoint takes a snapshot on the core thread, hands it to a Ring 1 thread, and there
 * writes either all of it or {@code snapshot.changesSince(previousSnapshot)}, a delta that
 * costs time in proportion to what changed.
 *
 * <h2>Cost of a put</h2>
 * <ul>
 *   <li>Overwriting a key already written since the last snapshot: a hash of the key, a probe of
 *       the index and, for a value of the same length, a copy of the bytes into the existing array.
 *       The tree is not touched and nothing is allocated. With another length: one value array.</li>
 *   <li>The first write to a key after a snapshot: as an overwrite, plus a new value array and an
 *       undo record (16 bytes in a chunk of records, appended in order) for the value it replaces.
 *       The tree is not touched: this is all that a snapshot, or a checkpoint writing one on another
 *       thread, costs the core thread.</li>
 *   <li>A new key: the key and value copies and a cell, a descent, a new leaf (and parents) when a
 *       node splits, and now and then the index doubling.</li>
 *   <li>Whatever the sink allocates.</li>
 * </ul>
 *
 * <h2>Memory</h2>
 * Per key, besides the key and value arrays: two leaf slots (8 bytes, leaves about 3/4 full), the
 * cell (32 bytes) and the index's share of its table (8 to 16 bytes, the table at most half full).
 * While a snapshot is held: the values replaced since it was taken, and 16 bytes of undo record per
 * key written since (each key once per snapshot); both go with the last snapshot that may read them.
 *
 * <h2>Restore</h2>
 * {@link #restore} bulk-loads entries in key order (from a checkpoint); {@link #fromSnapshot} starts
 * from a snapshot, going on with the retired store's own tree after {@link #retire} and building
 * cells of its own otherwise; {@link #replayer()} applies
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
        return new ChangelogAwareStateStore(loader.build(false), changelog);
    }

    /**
     * A store that starts with the state of {@code snapshot}. If the snapshot is the one a
     * {@link #retire} returned, the first call goes on with the retired store's tree, index and
     * undo logs: O(1), sharing every node until it changes its shape. Otherwise it builds cells,
     * nodes, an index and value arrays of its own (O(size), in key order; the key arrays are shared),
     * because a cell and its value array are only ever written by the one store whose they are.
     */
    public static ChangelogAwareStateStore fromSnapshot(StateSnapshot snapshot, ChangelogSink changelog) {
        var handover = snapshot.takeHandover();
        var tree = handover != null ? new CowTree(snapshot.root(), snapshot.size(), handover)
                : CowTree.copyOf(snapshot.root(), snapshot.number(), snapshot.log());
        return new ChangelogAwareStateStore(tree, changelog);
    }

    /**
     * Takes a last snapshot and retires the store: the snapshot carries the store's hash index,
     * epoch and undo log, with which the first {@link #fromSnapshot} of it goes on as this store
     * would have (recovery hands its stores to the runtime this way, so a restore indexes each key
     * once, not twice). After this the store must not be used (it has no index left: writes and
     * point reads fail with a {@link NullPointerException}); use the snapshot. The snapshot itself
     * is an ordinary one (thread-safe, immutable); until a {@code fromSnapshot} takes the index it
     * also holds the index's table (8 to 16 bytes per key).
     */
    public StateSnapshot retire() {
        return tree.retire();
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
        return tree.containsKey(key);
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
        if (!tree.containsKey(key)) {
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
        return tree.snapshot();
    }

    /**
     * A sink that applies changelog entries to this store without publishing them again: feed it
     * the entries read back from the log, in order, after restoring the checkpoint they follow.
     * Arrays are copied. Same thread rules as the store.
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

    private ChangelogSink replayer(boolean adopt) {
        return new ChangelogSink() {
            @Override
            public void onPut(byte[] key, byte[] value) {
                tree.put(key, value, adopt);
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
     * it is given, and the store later overwrites value arrays in place: give it arrays no one else
     * holds (the caller must not touch them afterwards). It refuses deletes, clears and keys out of
     * order with an {@link IllegalArgumentException}. Single-threaded; build once.
     */
    public static BulkLoader bulkLoader() {
        return new BulkLoader(false);
    }

    /**
     * As {@link #bulkLoader()}, for value arrays that a frozen snapshot handed out
     * ({@link StateSnapshot#freeze}) and still reads: the store never writes into them (the first
     * put of each key gives it an array of its own), so they are shared instead of copied.
     */
    public static BulkLoader bulkLoaderSharingValues() {
        return new BulkLoader(true);
    }

    /** See {@link #bulkLoader()}. */
    public static final class BulkLoader implements ChangelogSink {
        private final CowTree.Loader loader = new CowTree.Loader();
        private final boolean sharedValues;

        private BulkLoader(boolean sharedValues) {
            this.sharedValues = sharedValues;
        }

        @Override
        public void onPut(byte[] key, byte[] value) {
            loader.add(key, value);
        }

        /**
         * As {@link #onPut(byte[], byte[])}, for a value that is {@code length} bytes of {@code array}
         * from {@code offset}: the store adopts that range of the array, as it adopts whole arrays,
         * so that a restore can read many values into one large array (see
         * {@code StateFileFormat}). Different keys may share one array, never one range.
         */
        public void onPut(byte[] key, byte[] array, int offset, int length) {
            java.util.Objects.checkFromIndexSize(offset, length, array.length);
            loader.add(key, array, offset, length);
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
            return new ChangelogAwareStateStore(loader.build(sharedValues), changelog);
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

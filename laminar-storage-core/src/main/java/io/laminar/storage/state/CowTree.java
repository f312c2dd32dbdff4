package io.laminar.storage.state;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.WeakReference;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.ConcurrentModificationException;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.function.Consumer;

/**
 * The map under both state stores: a copy-on-write B+-tree of byte keys (unsigned lexicographic
 * order) whose cells keep the versions that snapshots still read, with a {@link PointIndex} beside it.
 *
 * <p>A leaf holds, per key, the key array and a {@link Cell}. The tree counts epochs: a snapshot
 * ({@link #snapshot}) is numbered with the current epoch and starts the next one, and sees, of each
 * cell in its tree, the version written in the latest epoch not after its number.
 *
 * <p><b>Values are versioned in their cell.</b> A write to a key whose cell was last written in the
 * current epoch overwrites it in place (no snapshot can see that version). The first write to a key
 * in an epoch keeps the cell where it is: it appends the version it replaces to the epoch's
 * {@link UndoLog}, then makes the cell's value the new one, in place if it has the same length (the
 * log keeps a copy of the old bytes in a slab it shares among many records). So no write of a
 * present key touches the tree or allocates in the steady state, and a snapshot costs its writer no
 * descent and no copy. A snapshot reads a cell written after it through the undo logs that follow
 * it, and copies every value it hands out, since the cell's array may be overwritten later (see
 * {@link #valueAt}).
 *
 * <p><b>The shape is copied on write.</b> Nodes carry an owner token; {@link #snapshot} starts a new
 * one, so from then on every existing node is read-only for the writer: a new key or a removal
 * copies the nodes on its path (the snapshot keeps the old ones, with the same cells), and a node
 * the writer owns is changed in place. Unchanged subtrees stay the very same objects in the tree and
 * in its snapshots, which {@link StateSnapshot#changesSince} uses, with the undo logs, to skip them.
 *
 * <p><b>Undo logs</b> are held by the snapshots that may read them: each snapshot holds the log of
 * the epoch after it, and each log the next one. The tree holds the current epoch's log only through
 * a weak reference: once no snapshot of an epoch before it is left, the log is collected and the
 * writer stops recording replaced versions until the next snapshot. So a replaced value lives as
 * long as a snapshot that may read it, and no longer.
 *
 * <p>The point index maps every key of the live tree to its cell: reads of the live tree and all
 * writes of present keys go through it; new keys and removals also descend the tree.
 *
 * <p>Invariants: every leaf is at the same depth; no node is empty except an empty root leaf;
 * {@code Inner.keys[i]} ({@code i >= 1}) is a lower bound of child {@code i} and greater than every
 * key of child {@code i - 1} ({@code keys[0]} is unused); {@code Leaf.keys[i] == Leaf.cells[i].key};
 * a node owned by the current token sits only under owned nodes (so no snapshot reaches it); no cell
 * is of an epoch after the current one, and no {@link #BORROWED} cell of the current one; the index
 * holds exactly the live tree's cells. A cell and its value array are in one tree's lineage only (a
 * store started from a snapshot without a hand-over gets cells and values of its own,
 * {@link #copyOf}), so one writer ever writes them.
 *
 * <p>Memory per key, besides the key and value arrays: the leaf's two slots (8 bytes, leaves about
 * 3/4 full), the cell (32 bytes) and the index's share of its table (8 to 16 bytes). Per first write
 * in an epoch, while a snapshot before it is held: the replaced value (in a slab, or its old array)
 * and 24 bytes of undo record.
 *
 * <p>Thread-safety: one writer thread; snapshots may be read by any threads at the same time (see
 * {@link #valueAt}). The writer publishes a cell's new version in this order: the undo record, the
 * cell's {@link Cell#undoSlot}, its {@link Cell#epoch} (a release store), then its value's bytes, or
 * its array, offset and length.
 */
final class CowTree {

    static final int LEAF_CAPACITY = 32;
    static final int INNER_CAPACITY = 32;
    /** Below this a node is merged with a neighbour when the two fit in one node. */
    private static final int MIN_FILL = 8;
    private static final VarHandle BIG_ENDIAN_LONGS =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
    private static final VarHandle CELL_EPOCH;
    /** How often a reader retries a cell that its writer keeps changing before it calls that a bug. */
    private static final int MAX_READ_RETRIES = 1_000_000;
    /**
     * {@link Cell#undoSlot} of a bulk-loaded cell whose value array is shared with a frozen snapshot
     * ({@link Loader#build}): its first write gives it an array of its own instead of writing into it.
     */
    private static final int BORROWED = -2;

    static {
        try {
            CELL_EPOCH = MethodHandles.lookup().findVarHandle(Cell.class, "epoch", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    abstract static sealed class Node permits Leaf, Inner {
        final Object owner;
        int size;

        Node(Object owner) {
            this.owner = owner;
        }
    }

    /**
     * One key and its current value, with the way back to the versions it replaced. Written by the
     * writer thread only; snapshots read it through {@link #valueAt}.
     */
    static final class Cell {
        /** Never modified; shared by the leaf, the index and the undo records. */
        final byte[] key;
        /** {@link PointIndex#hash} of the key. */
        final int hash;
        /**
         * The value written in {@link #epoch}. Its bytes change in place at the first write of a
         * later epoch (after {@link #epoch} changed) and while that is the tree's current epoch.
         */
        byte[] value;
        /** Where the value starts in {@link #value}: 0, or its place in a restore's slab. */
        int offset;
        /** The value's length: all of {@link #value}, or its part in a restore's slab. */
        int length;
        /** The epoch {@link #value} was written in. Changed with a release store, read by snapshots with an acquire. */
        int epoch;
        /**
         * The slot, in the undo log of {@link #epoch}, of the record of the version this one replaced,
         * or -1 if no snapshot could read that version when it was replaced, or {@link #BORROWED}.
         */
        int undoSlot = -1;

        Cell(byte[] key, int hash, byte[] value, int epoch) {
            this(key, hash, value, 0, value.length, epoch);
        }

        Cell(byte[] key, int hash, byte[] value, int offset, int length, int epoch) {
            this.key = key;
            this.hash = hash;
            this.value = value;
            this.offset = offset;
            this.length = length;
            this.epoch = epoch;
        }

        /** Gives the cell {@code value}, all of it (the writer's, in the order of {@link CowTree}). */
        void set(byte[] value) {
            this.value = value;
            this.offset = 0;
            this.length = value.length;
        }
    }

    static final class Leaf extends Node {
        /** The cells' keys again, so that a search reads no cell. */
        final byte[][] keys = new byte[LEAF_CAPACITY][];
        final Cell[] cells = new Cell[LEAF_CAPACITY];

        Leaf(Object owner) {
            super(owner);
        }
    }

    static final class Inner extends Node {
        /** 1 when the children are leaves. */
        final int height;
        final byte[][] keys = new byte[INNER_CAPACITY][];
        /** {@link #prefix} of each of {@link #keys}, so that most comparisons of a descent read no key array. */
        final long[] prefixes = new long[INNER_CAPACITY];
        final Node[] children = new Node[INNER_CAPACITY];

        Inner(Object owner, int height) {
            super(owner);
            this.height = height;
        }
    }

    /**
     * The versions that the first writes of one epoch replaced, for the snapshots taken before it:
     * record {@code i} is the cell, where the bytes of the value it had are (an array, an offset and
     * a length), the epoch of that value and the slot of that value's own record in its epoch's log
     * (or -1). Appended by the writer only; neither the records nor the bytes they point at are ever
     * changed, so readers that reach a record through a cell's release store (or a snapshot taken
     * after the epoch) read them without locks. Records live in chunks of {@value #CHUNK_RECORDS},
     * so that growing copies only the list of chunks.
     *
     * <p>A value that a first write overwrites in place is copied into the log's current slab, a
     * byte array shared by many records; slabs grow from {@value #MIN_SLAB_BYTES} to
     * {@value #MAX_SLAB_BYTES} bytes, so that a busy epoch allocates a few large arrays (which G1
     * allocates outside the young generation and never copies) instead of one array per write.
     */
    static final class UndoLog {
        private static final int CHUNK_BITS = 8;
        static final int CHUNK_RECORDS = 1 << CHUNK_BITS;
        static final int MIN_SLAB_BYTES = 64 * 1024;
        static final int MAX_SLAB_BYTES = 4 * 1024 * 1024;

        final int epoch;
        /** The next epoch's log: set by the writer at the snapshot that ends this epoch, before any write of the next. */
        volatile UndoLog next;
        private Chunk[] chunks = new Chunk[4];
        /** Records appended; a reader of an ended epoch's log (reached through a later snapshot) may read it. */
        private int count;
        /** Where {@link #appendCopy} copies the next value, from {@link #slabUsed} on; null before the first. */
        private byte[] slab;
        private int slabUsed;

        UndoLog(int epoch) {
            this.epoch = epoch;
        }

        private static final class Chunk {
            final Cell[] cells = new Cell[CHUNK_RECORDS];
            final byte[][] arrays = new byte[CHUNK_RECORDS][];
            final int[] offsets = new int[CHUNK_RECORDS];
            final int[] lengths = new int[CHUNK_RECORDS];
            final int[] epochs = new int[CHUNK_RECORDS];
            final int[] slots = new int[CHUNK_RECORDS];
        }

        /** As {@link #append}, for a range of {@code value} that the writer is about to overwrite: records a copy of its bytes. */
        int appendCopy(Cell cell, byte[] value, int from, int length, int epoch, int slot) {
            if (length > MAX_SLAB_BYTES) {
                return append(cell, Arrays.copyOfRange(value, from, from + length), 0, length, epoch, slot);
            }
            if (slab == null || slab.length - slabUsed < length) {
                int size = slab == null ? MIN_SLAB_BYTES : Math.min(MAX_SLAB_BYTES, slab.length * 2);
                slab = new byte[Math.max(size, length)];
                slabUsed = 0;
            }
            int offset = slabUsed;
            System.arraycopy(value, from, slab, offset, length);
            slabUsed = offset + length;
            return append(cell, slab, offset, length, epoch, slot);
        }

        /**
         * Records that {@code cell} had the {@code length} bytes of {@code array} from
         * {@code offset}, a range the cell gives up (no one writes into it again), of
         * {@code epoch}, whose own record is at {@code slot}; returns the new record's slot.
         */
        int append(Cell cell, byte[] array, int offset, int length, int epoch, int slot) {
            int at = count;
            int c = at >>> CHUNK_BITS;
            if (c == chunks.length) {
                chunks = Arrays.copyOf(chunks, c * 2);
            }
            var chunk = chunks[c];
            if (chunk == null) {
                chunk = new Chunk();
                chunks[c] = chunk;
            }
            int i = at & (CHUNK_RECORDS - 1);
            chunk.arrays[i] = array;
            chunk.offsets[i] = offset;
            chunk.lengths[i] = length;
            chunk.epochs[i] = epoch;
            chunk.slots[i] = slot;
            chunk.cells[i] = cell;
            count = at + 1;
            return at;
        }

        /** The chunk of record {@code slot}, or null if it has none (yet, for a reader racing the writer). */
        private Chunk chunkOf(int slot) {
            var all = chunks;
            int c = slot >>> CHUNK_BITS;
            return slot < 0 || c >= all.length ? null : all[c];
        }

        /** The cell of record {@code slot} (below {@link #count()}), for a reader of an ended epoch's log. */
        Cell cellAt(int slot) {
            return chunks[slot >>> CHUNK_BITS].cells[slot & (CHUNK_RECORDS - 1)];
        }

        /** The records appended; final once the epoch has ended. */
        int count() {
            return count;
        }
    }

    private static final WeakReference<UndoLog> NO_LOG = new WeakReference<>(null);

    /** The token of the nodes the writer may change in place. */
    private Object owner = new Object();
    /** The current epoch: the number of the next snapshot. */
    private int epoch;
    /** The current epoch's undo log, while a snapshot that may read it is held (see the class comment). */
    private WeakReference<UndoLog> log = NO_LOG;
    private Node root;
    private PointIndex index = new PointIndex(0);
    private long size;
    /** Counts structural and value changes, so that iterators over the live tree fail fast. */
    private int modCount;
    /** The lower bound of the node that the last {@link #insert} split off, read by its caller. */
    private byte[] splitKey;

    CowTree() {
        root = new Leaf(owner);
    }

    /**
     * A tree that goes on from the retired tree whose {@code handover} this is: it shares every node
     * of {@code root} (the retired tree's last snapshot, holding {@code size} keys) and copies each
     * the first time it changes its shape, and it takes over the index, the epoch and the undo log,
     * so that it writes the same cells as the retired tree would have.
     */
    CowTree(Node root, long size, Handover handover) {
        this.root = root;
        this.size = size;
        this.index = handover.index();
        this.epoch = handover.epoch();
        this.log = handover.log();
    }

    /** What a retired tree hands to the tree that goes on from its last snapshot. */
    record Handover(PointIndex index, int epoch, WeakReference<UndoLog> log) {
    }

    /**
     * A tree of its own holding the state of a snapshot ({@code root}, numbered {@code number}, with
     * the undo logs from {@code log} on): new cells and nodes and copies of the values, sharing the
     * key arrays (which no one writes into). O(size).
     */
    static CowTree copyOf(Node root, int number, UndoLog log) {
        var loader = new Loader();
        forEachCell(root, cell -> loader.add(cell.key, valueAt(cell, number, log, null)));
        return loader.build(false);
    }

    long size() {
        return size;
    }

    /**
     * The O(1) snapshot: hands out the current root and epoch and starts the next epoch, after which
     * every current node is read-only for the writer and every cell's current version is kept for
     * the snapshot.
     */
    StateSnapshot snapshot() {
        if (epoch == Integer.MAX_VALUE) {
            restartEpochs();
        }
        int number = epoch;
        var next = new UndoLog(number + 1);
        var current = log.get();
        if (current != null) {
            current.next = next;
        }
        log = new WeakReference<>(next);
        owner = new Object();
        epoch = number + 1;
        return new StateSnapshot(root, size, number, next);
    }

    /**
     * After two billion snapshots, goes on as a copy of itself (new cells, nodes and value arrays,
     * O(size), once) with epochs from zero, so that no epoch number ever wraps around. The snapshots
     * taken so far keep the old cells and arrays, which no writer writes again.
     */
    private void restartEpochs() {
        var loader = new Loader();
        forEachCell(root, cell -> loader.add(cell.key, ownCopy(cell)));
        var copy = loader.build(false);
        root = copy.root;
        index = copy.index;
        owner = copy.owner;
        epoch = copy.epoch;
        log = NO_LOG;
    }

    /** For tests of {@link #restartEpochs}: makes {@code next} the current epoch; no cell may be of a later one. */
    void skipToEpoch(int next) {
        epoch = next;
    }

    /** The current epoch (for tests). */
    int epoch() {
        return epoch;
    }

    /** For tests: the undo records of the current epoch, or -1 once no snapshot that may read them is held. */
    int undoRecords() {
        var undo = log.get();
        return undo == null ? -1 : undo.count();
    }

    /**
     * Takes a last snapshot and gives up the index, the epoch and the undo log with it, for a tree
     * that goes on from that snapshot ({@link #CowTree(Node, long, Handover)}) instead of building an
     * index again (O(size)). Any later write fails.
     */
    StateSnapshot retire() {
        var snapshot = snapshot();
        snapshot.handOver(new Handover(index, epoch, log));
        index = null; // a write after this is a bug: it fails rather than change a handed-over index
        return snapshot;
    }

    // ---- reads ---------------------------------------------------------------------------------

    static int compare(byte[] a, byte[] b) {
        return Arrays.compareUnsigned(a, b);
    }

    /**
     * The first eight bytes of {@code key}, big-endian, zero-padded: if two prefixes differ, their
     * unsigned order is the keys' order; if they are equal, the keys must be compared.
     */
    static long prefix(byte[] key) {
        if (key.length >= Long.BYTES) {
            return (long) BIG_ENDIAN_LONGS.get(key, 0);
        }
        long p = 0;
        for (int i = 0; i < Long.BYTES; i++) {
            p = p << 8 | (i < key.length ? key[i] & 0xFF : 0);
        }
        return p;
    }

    /** The cell of {@code key} under {@code node}, or null. */
    static Cell find(Node node, byte[] key) {
        long prefix = prefix(key);
        while (node instanceof Inner inner) {
            node = inner.children[childIndex(inner, key, prefix)];
        }
        var leaf = (Leaf) node;
        int i = search(leaf, key);
        return i >= 0 ? leaf.cells[i] : null;
    }

    /** The smallest key under {@code node}, which is not empty. */
    static byte[] firstKey(Node node) {
        while (node instanceof Inner inner) {
            node = inner.children[0];
        }
        return ((Leaf) node).keys[0];
    }

    /** The largest key under {@code node}, which is not empty. */
    static byte[] lastKey(Node node) {
        while (node instanceof Inner inner) {
            node = inner.children[inner.size - 1];
        }
        return ((Leaf) node).keys[node.size - 1];
    }

    /**
     * The value {@code cell} has in the snapshot numbered {@code number} whose first undo log is
     * {@code log} (the log of the epoch after it): the cell's own value if the cell was last written
     * in an epoch not after the snapshot, otherwise the value its undo records lead back to. Callable
     * from any thread while the writer writes, and by the writer itself with {@code number}
     * {@link Integer#MAX_VALUE} (its current values).
     *
     * <p>It returns a copy: {@code reuse} if that has the value's length, otherwise a new array
     * (which the caller may keep). A snapshot never hands out a cell's own array, because the
     * writer overwrites it in place at its first write after the snapshot.
     *
     * <p>Copying the cell's value between two reads of its epoch is a seqlock: the writer changes
     * the epoch before it touches the value, so bytes copied between two reads of the same epoch are
     * that epoch's, and a copy torn by a write is thrown away. A value of an epoch not after the
     * snapshot was written before the snapshot was taken, so the snapshot's publication made it
     * visible.
     */
    static byte[] valueAt(Cell cell, int number, UndoLog log, byte[] reuse) {
        for (int retry = 0; retry < MAX_READ_RETRIES; retry++) {
            int epoch = (int) CELL_EPOCH.getAcquire(cell);
            if (epoch <= number) {
                var value = cell.value;
                int offset = cell.offset;
                int length = cell.length;
                // The three fields are torn if the writer is at them (checked next): never copied out of bounds.
                var copy = length <= value.length - offset ? copy(value, offset, length, reuse) : null;
                VarHandle.acquireFence();
                if (copy != null && (int) CELL_EPOCH.getOpaque(cell) == epoch) {
                    return copy;
                }
                reuse = copy == null ? reuse : copy;
            } else {
                int slot = cell.undoSlot;
                VarHandle.acquireFence();
                if ((int) CELL_EPOCH.getOpaque(cell) == epoch) {
                    var value = undone(cell, epoch, slot, number, log, reuse);
                    if (value != null) {
                        return value;
                    }
                }
            }
            if (retry > 64) {
                Thread.yield();
            }
        }
        throw new IllegalStateException("the version of key " + StateSnapshot.hex(cell.key) + " for snapshot "
                + number + " could not be read: its cell keeps changing or its undo record is missing (a bug: report it)");
    }

    /**
     * The value of {@code cell} in snapshot {@code number}, from its undo record at {@code slot} in
     * the log of {@code epoch} (after the snapshot) and the records before it, copied as
     * {@link #valueAt} does; null if that first record is not the cell's (the slot was read while
     * the writer moved on: read the cell again).
     */
    private static byte[] undone(Cell cell, int epoch, int slot, int number, UndoLog log, byte[] reuse) {
        boolean first = true;
        while (true) {
            var l = log; // each record leads to an earlier epoch's log: walk again from the snapshot's
            while (l != null && l.epoch < epoch) {
                l = l.next;
            }
            var chunk = l == null || l.epoch != epoch ? null : l.chunkOf(slot);
            int i = slot & (UndoLog.CHUNK_RECORDS - 1);
            if (chunk == null || chunk.cells[i] != cell) {
                if (first) {
                    return null;
                }
                throw new IllegalStateException("the undo record of key " + StateSnapshot.hex(cell.key)
                        + " for epoch " + epoch + " is not where its newer record says (a bug: report it)");
            }
            first = false;
            int before = chunk.epochs[i];
            if (before <= number) {
                return copy(chunk.arrays[i], chunk.offsets[i], chunk.lengths[i], reuse);
            }
            epoch = before;
            slot = chunk.slots[i];
        }
    }

    /** The length of the value {@code cell} has in snapshot {@code number} (see {@link #valueAt}), mostly without copying it. */
    static int lengthAt(Cell cell, int number, UndoLog log) {
        int epoch = (int) CELL_EPOCH.getAcquire(cell);
        if (epoch <= number) {
            int length = cell.length;
            VarHandle.acquireFence();
            if ((int) CELL_EPOCH.getOpaque(cell) == epoch) {
                return length;
            }
        }
        return valueAt(cell, number, log, null).length; // written since the snapshot, or being written
    }

    /** {@code length} bytes of {@code from} at {@code offset}: in {@code reuse} if that has the length, otherwise in a new array. */
    private static byte[] copy(byte[] from, int offset, int length, byte[] reuse) {
        var to = reuse != null && reuse.length == length ? reuse : new byte[length];
        System.arraycopy(from, offset, to, 0, length);
        return to;
    }

    /** Whether the live tree holds {@code key} (through the index). */
    boolean containsKey(byte[] key) {
        return index.find(key, PointIndex.hash(key)) != null;
    }

    /** A copy of the value of {@code key}, or null: what a store's {@code get} returns. */
    byte[] getCopy(byte[] key) {
        var cell = index.find(key, PointIndex.hash(key));
        return cell == null ? null : ownCopy(cell);
    }

    /** A new array holding the live value of {@code cell}. */
    private static byte[] ownCopy(Cell cell) {
        return Arrays.copyOfRange(cell.value, cell.offset, cell.offset + cell.length);
    }

    /**
     * Copies the value of {@code key} into {@code into} if it fits; returns its length, or -1 if
     * there is none: a store's allocation-free {@code get}.
     */
    int copyValue(byte[] key, byte[] into) {
        var cell = index.find(key, PointIndex.hash(key));
        if (cell == null) {
            return -1;
        }
        if (cell.length <= into.length) {
            System.arraycopy(cell.value, cell.offset, into, 0, cell.length);
        }
        return cell.length;
    }

    /** Slot of {@code key} in the leaf, or {@code -(insertion point) - 1}. */
    private static int search(Leaf leaf, byte[] key) {
        int lo = 0;
        int hi = leaf.size - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            int c = compare(leaf.keys[mid], key);
            if (c < 0) {
                lo = mid + 1;
            } else if (c > 0) {
                hi = mid - 1;
            } else {
                return mid;
            }
        }
        return -(lo + 1);
    }

    /** The child whose range holds {@code key}: the last one whose lower bound is at most the key. */
    private static int childIndex(Inner inner, byte[] key, long prefix) {
        int lo = 1;
        int hi = inner.size - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            int c = Long.compareUnsigned(inner.prefixes[mid], prefix);
            if (c == 0) {
                c = compare(inner.keys[mid], key);
            }
            if (c <= 0) {
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return lo - 1;
    }

    // ---- writes --------------------------------------------------------------------------------

    /**
     * Maps {@code key} to {@code value}. With {@code adopt} the arrays become the tree's own (the
     * caller must not touch them again); otherwise they are copied as needed.
     */
    void put(byte[] key, byte[] value, boolean adopt) {
        int hash = PointIndex.hash(key);
        var cell = index.find(key, hash);
        if (cell == null) {
            addKey(key, hash, value, adopt);
        } else if (cell.epoch == epoch) {
            overwrite(cell, value, adopt);
        } else {
            newVersion(cell, value, adopt);
        }
        modCount++;
    }

    /**
     * Gives {@code cell}, written in the current epoch, {@code value}. No snapshot can see this
     * version, and a reader that copies the cell's array sees the epoch change that came before it.
     * A value of the same length is copied in place even when it could be adopted: the cell's
     * range may be part of a restore's slab, which would stay allocated for the other values in it.
     */
    private static void overwrite(Cell cell, byte[] value, boolean adopt) {
        if (cell.length == value.length) {
            // The steady-state overwrite: no allocation and no tree.
            System.arraycopy(value, 0, cell.value, cell.offset, value.length);
        } else {
            cell.set(adopt ? value : value.clone());
        }
    }

    /**
     * The first write to {@code cell} in this epoch: records the version it replaces in the epoch's
     * undo log (if a snapshot that may read it is held), then publishes {@code value} as the cell's
     * version of this epoch, in the order {@link #valueAt} relies on. A value of the same length
     * overwrites the cell's array in place, after its old bytes were copied into the undo log, so
     * that the steady state allocates nothing per write; any other takes the array's place. No
     * descent, no copy of a node.
     */
    private void newVersion(Cell cell, byte[] value, boolean adopt) {
        boolean inPlace = cell.undoSlot != BORROWED && value.length == cell.length; // even if adoptable: see overwrite
        var undo = log.get();
        int slot = -1;
        if (undo != null) {
            slot = inPlace ? undo.appendCopy(cell, cell.value, cell.offset, cell.length, cell.epoch, cell.undoSlot)
                    : undo.append(cell, cell.value, cell.offset, cell.length, cell.epoch, cell.undoSlot);
        }
        cell.undoSlot = slot;
        CELL_EPOCH.setRelease(cell, epoch);
        VarHandle.storeStoreFence(); // the epoch is visible before any byte or array of the new version
        if (inPlace) {
            System.arraycopy(value, 0, cell.value, cell.offset, value.length);
        } else {
            cell.set(adopt ? value : value.clone());
        }
    }

    /** Adds {@code key}, which the tree does not hold, to the tree and the index. */
    private void addKey(byte[] key, int hash, byte[] value, boolean adopt) {
        var fresh = new Cell(adopt ? key : key.clone(), hash, adopt ? value : value.clone(), epoch);
        var r = writable(root);
        root = r;
        var right = insert(r, fresh, prefix(key));
        if (right != null) {
            var top = new Inner(owner, height(r) + 1);
            top.children[0] = r;
            top.children[1] = right;
            top.keys[1] = splitKey;
            top.prefixes[1] = prefix(splitKey);
            top.size = 2;
            root = top;
        }
        index.add(fresh);
        size++;
    }

    /** Removes {@code key}; returns whether it was there. */
    boolean remove(byte[] key) {
        var cell = index.find(key, PointIndex.hash(key));
        if (cell == null) {
            return false; // no path copying for a key that is not there
        }
        index.remove(cell);
        var r = writable(root);
        root = r;
        removeFrom(r, cell, prefix(key));
        while (root instanceof Inner inner && inner.size <= 1) {
            root = inner.size == 0 ? new Leaf(owner) : inner.children[0];
        }
        size--;
        modCount++;
        return true;
    }

    /** O(1) in the tree: snapshots keep the old nodes and cells; the tree starts over with an empty root and index. */
    void clear() {
        root = new Leaf(owner);
        index = new PointIndex(0);
        size = 0;
        modCount++;
    }

    private static int height(Node node) {
        return node instanceof Inner inner ? inner.height : 0;
    }

    /** {@code node} itself if the writer owns it, otherwise an owned copy (the cells are shared). */
    private Node writable(Node node) {
        if (node.owner == owner) {
            return node;
        }
        if (node instanceof Leaf leaf) {
            var copy = new Leaf(owner);
            System.arraycopy(leaf.keys, 0, copy.keys, 0, leaf.size);
            System.arraycopy(leaf.cells, 0, copy.cells, 0, leaf.size);
            copy.size = leaf.size;
            return copy;
        }
        var inner = (Inner) node;
        var copy = new Inner(owner, inner.height);
        System.arraycopy(inner.keys, 0, copy.keys, 0, inner.size);
        System.arraycopy(inner.prefixes, 0, copy.prefixes, 0, inner.size);
        System.arraycopy(inner.children, 0, copy.children, 0, inner.size);
        copy.size = inner.size;
        return copy;
    }

    /** Inserts {@code cell}, of a key the tree does not hold, into an owned node; returns the new right sibling if the node split ({@link #splitKey} set). */
    private Node insert(Node node, Cell cell, long prefix) {
        if (node instanceof Leaf leaf) {
            return insertIntoLeaf(leaf, cell);
        }
        var inner = (Inner) node;
        int index = childIndex(inner, cell.key, prefix);
        var child = writable(inner.children[index]);
        inner.children[index] = child;
        var right = insert(child, cell, prefix);
        if (right == null) {
            return null;
        }
        return insertChild(inner, index + 1, splitKey, right);
    }

    private Node insertIntoLeaf(Leaf leaf, Cell cell) {
        int slot = search(leaf, cell.key);
        if (slot >= 0) {
            throw new IllegalStateException("the tree holds key " + StateSnapshot.hex(cell.key)
                    + " but its point index does not (a bug: report it)");
        }
        int at = -slot - 1;
        if (leaf.size < LEAF_CAPACITY) {
            insertAt(leaf, at, cell);
            return null;
        }
        var right = new Leaf(owner);
        int half = LEAF_CAPACITY / 2;
        int moved = LEAF_CAPACITY - half;
        System.arraycopy(leaf.keys, half, right.keys, 0, moved);
        System.arraycopy(leaf.cells, half, right.cells, 0, moved);
        Arrays.fill(leaf.keys, half, LEAF_CAPACITY, null);
        Arrays.fill(leaf.cells, half, LEAF_CAPACITY, null);
        right.size = moved;
        leaf.size = half;
        if (at <= half) {
            insertAt(leaf, at, cell);
        } else {
            insertAt(right, at - half, cell);
        }
        splitKey = right.keys[0];
        return right;
    }

    /** The slot of {@code cell} (by identity) in the leaf its key leads to. */
    private static int slotOf(Leaf leaf, Cell cell) {
        var cells = leaf.cells;
        for (int i = 0; i < leaf.size; i++) {
            if (cells[i] == cell) {
                return i;
            }
        }
        throw new IllegalStateException("the cell of key " + StateSnapshot.hex(cell.key)
                + " is not in the leaf its key leads to (a bug: report it)");
    }

    private static void insertAt(Leaf leaf, int at, Cell cell) {
        int tail = leaf.size - at;
        System.arraycopy(leaf.keys, at, leaf.keys, at + 1, tail);
        System.arraycopy(leaf.cells, at, leaf.cells, at + 1, tail);
        leaf.keys[at] = cell.key;
        leaf.cells[at] = cell;
        leaf.size++;
    }

    /** Puts {@code child} (lower bound {@code key}) at {@code at}; splits a full node and returns its right half. */
    private Node insertChild(Inner inner, int at, byte[] key, Node child) {
        if (inner.size < INNER_CAPACITY) {
            insertChildAt(inner, at, key, child);
            return null;
        }
        var right = new Inner(owner, inner.height);
        int half = INNER_CAPACITY / 2;
        int moved = INNER_CAPACITY - half;
        System.arraycopy(inner.keys, half, right.keys, 0, moved);
        System.arraycopy(inner.prefixes, half, right.prefixes, 0, moved);
        System.arraycopy(inner.children, half, right.children, 0, moved);
        Arrays.fill(inner.keys, half, INNER_CAPACITY, null);
        Arrays.fill(inner.children, half, INNER_CAPACITY, null);
        right.size = moved;
        inner.size = half;
        if (at <= half) {
            insertChildAt(inner, at, key, child);
        } else {
            insertChildAt(right, at - half, key, child);
        }
        splitKey = right.keys[0];
        right.keys[0] = null; // unused in a node; its lower bound now lives in the parent
        return right;
    }

    private static void insertChildAt(Inner inner, int at, byte[] key, Node child) {
        int tail = inner.size - at;
        System.arraycopy(inner.keys, at, inner.keys, at + 1, tail);
        System.arraycopy(inner.prefixes, at, inner.prefixes, at + 1, tail);
        System.arraycopy(inner.children, at, inner.children, at + 1, tail);
        inner.keys[at] = key;
        inner.prefixes[at] = prefix(key);
        inner.children[at] = child;
        inner.size++;
    }

    /** Removes {@code cell}, known to be in the tree, from an owned node. */
    private void removeFrom(Node node, Cell cell, long prefix) {
        if (node instanceof Leaf leaf) {
            int at = slotOf(leaf, cell);
            int tail = leaf.size - at - 1;
            System.arraycopy(leaf.keys, at + 1, leaf.keys, at, tail);
            System.arraycopy(leaf.cells, at + 1, leaf.cells, at, tail);
            leaf.size--;
            leaf.keys[leaf.size] = null;
            leaf.cells[leaf.size] = null;
            return;
        }
        var inner = (Inner) node;
        int index = childIndex(inner, cell.key, prefix);
        var child = writable(inner.children[index]);
        inner.children[index] = child;
        removeFrom(child, cell, prefix);
        if (child.size == 0) {
            removeChild(inner, index);
        } else if (child.size < MIN_FILL && inner.size > 1) {
            int left = index > 0 ? index - 1 : index;
            var rightNode = inner.children[left + 1];
            if (inner.children[left].size + rightNode.size <= capacity(child)) {
                var leftNode = writable(inner.children[left]);
                inner.children[left] = leftNode;
                append(leftNode, inner.keys[left + 1], rightNode);
                removeChild(inner, left + 1);
            }
        }
    }

    private static int capacity(Node node) {
        return node instanceof Leaf ? LEAF_CAPACITY : INNER_CAPACITY;
    }

    /** Moves every entry of {@code from} (lower bound {@code separator}) to the end of the owned {@code into}. */
    private void append(Node into, byte[] separator, Node from) {
        int n = into.size;
        if (into instanceof Leaf left) {
            var right = (Leaf) from;
            System.arraycopy(right.keys, 0, left.keys, n, right.size);
            // The cells move as they are: nodes are copied on write, cells are versioned in place.
            System.arraycopy(right.cells, 0, left.cells, n, right.size);
        } else {
            var left = (Inner) into;
            var right = (Inner) from;
            System.arraycopy(right.keys, 0, left.keys, n, right.size);
            System.arraycopy(right.prefixes, 0, left.prefixes, n, right.size);
            System.arraycopy(right.children, 0, left.children, n, right.size);
            left.keys[n] = separator;
            left.prefixes[n] = prefix(separator);
        }
        into.size = n + from.size;
    }

    private static void removeChild(Inner inner, int at) {
        int tail = inner.size - at - 1;
        System.arraycopy(inner.keys, at + 1, inner.keys, at, tail);
        System.arraycopy(inner.prefixes, at + 1, inner.prefixes, at, tail);
        System.arraycopy(inner.children, at + 1, inner.children, at, tail);
        inner.size--;
        inner.keys[inner.size] = null;
        inner.children[inner.size] = null;
        inner.keys[0] = null;
    }

    // ---- bulk load -----------------------------------------------------------------------------

    /**
     * Builds a tree, and its point index, from entries in strictly ascending key order, adopting the
     * arrays. Single-threaded; {@link #build} once.
     */
    static final class Loader {
        private final Object owner = new Object();
        private final java.util.ArrayList<Node> level = new java.util.ArrayList<>();
        private final java.util.ArrayList<byte[]> lowerBounds = new java.util.ArrayList<>();
        private Leaf leaf;
        private byte[] last;
        private long size;
        /**
         * Every cell added, in order, with its hash: the point index is built from these arrays at
         * the end, while the cells were just made (and cached), instead of by walking the finished
         * tree, where every cell is a cache miss. 8 bytes per key until {@link #build}.
         */
        private Cell[] loaded = new Cell[0];
        private int[] hashes = new int[0];

        void add(byte[] key, byte[] value) {
            add(key, value, 0, value.length);
        }

        /** As {@link #add(byte[], byte[])}, for a value that is {@code length} bytes of {@code array} at {@code offset}. */
        void add(byte[] key, byte[] array, int offset, int length) {
            if (last != null && compare(last, key) >= 0) {
                throw new IllegalArgumentException("bulk load needs keys in strictly ascending unsigned order, but "
                        + StateSnapshot.hex(key) + " came after " + StateSnapshot.hex(last));
            }
            // Leaves are filled to 3/4 so that the first new keys after a restore do not all split.
            if (leaf == null || leaf.size == LEAF_CAPACITY * 3 / 4) {
                leaf = new Leaf(owner);
                level.add(leaf);
                lowerBounds.add(key);
            }
            int hash = PointIndex.hash(key);
            var cell = new Cell(key, hash, array, offset, length, 0);
            leaf.keys[leaf.size] = key;
            leaf.cells[leaf.size] = cell;
            leaf.size++;
            if (size == loaded.length) {
                if (size >= PointIndex.MAX_KEYS) {
                    throw new IllegalStateException("a state store holds at most " + PointIndex.MAX_KEYS
                            + " keys; split the state over more cores or operators");
                }
                int capacity = (int) Math.min(PointIndex.MAX_KEYS, Math.max(1024, size * 2));
                loaded = Arrays.copyOf(loaded, capacity);
                hashes = Arrays.copyOf(hashes, capacity);
            }
            loaded[(int) size] = cell;
            hashes[(int) size] = hash;
            last = key;
            size++;
        }

        /**
         * The tree. Without {@code sharedValues} it owns the value arrays and overwrites them in
         * place later, so no one else may hold them. With it, the arrays are a frozen snapshot's
         * ({@link StateSnapshot#freeze}), which others still read: the cells start an epoch behind
         * the tree and {@link #BORROWED}, so the first write to each gives it an array of its own.
         */
        CowTree build(boolean sharedValues) {
            var nodes = level;
            var bounds = lowerBounds;
            int height = 0;
            while (nodes.size() > 1) {
                height++;
                var parents = new java.util.ArrayList<Node>();
                var parentBounds = new java.util.ArrayList<byte[]>();
                int per = INNER_CAPACITY * 3 / 4;
                int i = 0;
                while (i < nodes.size()) {
                    int end = Math.min(nodes.size(), i + per);
                    if (nodes.size() - end == 1) {
                        end++; // no parent with a single child: the last one takes the straggler
                    }
                    var parent = new Inner(owner, height);
                    for (int c = i; c < end; c++) {
                        parent.children[c - i] = nodes.get(c);
                        parent.keys[c - i] = c == i ? null : bounds.get(c);
                        parent.prefixes[c - i] = c == i ? 0 : prefix(bounds.get(c));
                    }
                    parent.size = end - i;
                    parents.add(parent);
                    parentBounds.add(bounds.get(i));
                    i = end;
                }
                nodes = parents;
                bounds = parentBounds;
            }
            var tree = new CowTree();
            tree.owner = owner;
            if (sharedValues) {
                for (int i = 0; i < size; i++) {
                    loaded[i].undoSlot = BORROWED;
                }
                tree.epoch = 1;
            }
            tree.root = nodes.isEmpty() ? new Leaf(owner) : nodes.get(0);
            tree.size = size;
            tree.index = PointIndex.of(loaded, hashes, (int) size);
            loaded = null;
            hashes = null;
            return tree;
        }
    }

    // ---- checks for tests ----------------------------------------------------------------------

    /**
     * Verifies the invariants of the tree under {@code root} and returns its entry count; throws
     * {@link IllegalStateException} naming the first violation. For tests: it walks everything.
     */
    static long checkInvariants(Node root) {
        if (root instanceof Inner inner && inner.size < 2) {
            throw new IllegalStateException("an inner root has " + inner.size + " children");
        }
        return check(root, null, null, height(root), true);
    }

    private static long check(Node node, byte[] lower, byte[] upper, int expectedHeight, boolean isRoot) {
        if (height(node) != expectedHeight) {
            throw new IllegalStateException("a node at height " + height(node) + " where " + expectedHeight + " belongs");
        }
        if (node.size == 0 && !isRoot) {
            throw new IllegalStateException("an empty node below the root");
        }
        if (node instanceof Leaf leaf) {
            for (int i = 0; i < leaf.size; i++) {
                var key = leaf.keys[i];
                if ((i > 0 && compare(leaf.keys[i - 1], key) >= 0) || (lower != null && compare(key, lower) < 0)
                        || (upper != null && compare(key, upper) >= 0)) {
                    throw new IllegalStateException("leaf key " + StateSnapshot.hex(key) + " out of order or bounds");
                }
                var cell = leaf.cells[i];
                if (cell == null || cell.key != key || cell.value == null) {
                    throw new IllegalStateException("leaf key " + StateSnapshot.hex(key) + " has no cell of its own");
                }
            }
            return leaf.size;
        }
        var inner = (Inner) node;
        long count = 0;
        for (int i = 0; i < inner.size; i++) {
            var from = i == 0 ? lower : inner.keys[i];
            var to = i + 1 < inner.size ? inner.keys[i + 1] : upper;
            if (i > 0 && ((lower != null && compare(from, lower) < 0) || (upper != null && compare(from, upper) >= 0))) {
                throw new IllegalStateException("separator " + StateSnapshot.hex(from) + " out of bounds");
            }
            if (i > 0 && inner.prefixes[i] != prefix(from)) {
                throw new IllegalStateException("separator " + StateSnapshot.hex(from) + " has a stale prefix");
            }
            count += check(inner.children[i], from, to, expectedHeight - 1, false);
        }
        return count;
    }

    /**
     * Verifies the live tree: the invariants of {@link #checkInvariants(Node)}, its size, that nothing
     * the writer owns sits under a node it does not own (a snapshot would see it change), that no
     * cell is of a later epoch than the current one, and that the point index holds exactly the
     * tree's cells. For tests: it walks everything.
     */
    long checkInvariants() {
        long count = checkInvariants(root);
        if (count != size) {
            throw new IllegalStateException("the tree holds " + count + " keys but counts " + size);
        }
        checkOwnership(root, true);
        forEachCell(root, cell -> {
            if (cell.epoch > epoch) {
                throw new IllegalStateException("the cell of " + StateSnapshot.hex(cell.key) + " is of epoch "
                        + cell.epoch + ", after the current " + epoch);
            }
            if (cell.undoSlot == BORROWED && cell.epoch == epoch) {
                // Such a cell would be overwritten in place, in an array a frozen snapshot still reads.
                throw new IllegalStateException("the cell of " + StateSnapshot.hex(cell.key)
                        + " shares its value array but is of the current epoch " + epoch);
            }
        });
        index.check(root, size);
        return count;
    }

    private void checkOwnership(Node node, boolean underOwned) {
        boolean owned = node.owner == owner;
        if (owned && !underOwned) {
            throw new IllegalStateException("an owned node under a node a snapshot may share");
        }
        if (node instanceof Inner inner) {
            for (int i = 0; i < inner.size; i++) {
                checkOwnership(inner.children[i], owned);
            }
        }
    }

    // ---- iteration -----------------------------------------------------------------------------

    /**
     * Visits the entries under {@code node} in key order, with their values in snapshot
     * {@code number} (see {@link #valueAt}) copied into one array per length that the next entry
     * reuses: a walk of the whole state allocates nothing per entry when the values are of one size.
     */
    static void forEach(Node node, int number, UndoLog log, EntryVisitor visitor) {
        var buffer = new byte[][] {null};
        forEachCell(node, cell -> {
            var value = valueAt(cell, number, log, buffer[0]);
            buffer[0] = value;
            visitor.visit(cell.key, value);
        });
    }

    /**
     * As {@link #forEach}, with values the visitor may keep: with {@code frozen} (no writer can
     * write the cells again) the cells' own ranges, otherwise new copies.
     */
    static void forEachShared(Node node, int number, UndoLog log, boolean frozen, ValueRangeVisitor visitor) {
        forEachCell(node, cell -> {
            if (frozen && cell.epoch <= number) {
                visitor.visit(cell.key, cell.value, cell.offset, cell.length);
            } else {
                var value = valueAt(cell, number, log, null);
                visitor.visit(cell.key, value, 0, value.length);
            }
        });
    }

    static void forEachCell(Node node, Consumer<Cell> action) {
        if (node instanceof Leaf leaf) {
            for (int i = 0; i < leaf.size; i++) {
                action.accept(leaf.cells[i]);
            }
        } else {
            var inner = (Inner) node;
            for (int i = 0; i < inner.size; i++) {
                forEachCell(inner.children[i], action);
            }
        }
    }

    /** Visits the live tree in key order; the visitor must not change the tree. */
    void forEach(EntryVisitor visitor) {
        int expected = modCount;
        var buffer = new byte[][] {null};
        forEachCell(root, cell -> {
            if (modCount != expected) {
                throw new ConcurrentModificationException("the state store was changed during its iteration");
            }
            if (cell.offset == 0 && cell.length == cell.value.length) {
                visitor.visit(cell.key, cell.value);
            } else {
                buffer[0] = copy(cell.value, cell.offset, cell.length, buffer[0]);
                visitor.visit(cell.key, buffer[0]);
            }
        });
    }

    /** An iterator over the live tree in key order, failing fast if the tree changes. */
    Iterator<StateEntry> iterator() {
        int expected = modCount;
        var cursor = new Cursor(root, Integer.MAX_VALUE, null);
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                check();
                return cursor.hasNext();
            }

            @Override
            public StateEntry next() {
                check();
                return cursor.next();
            }

            private void check() {
                if (modCount != expected) {
                    throw new ConcurrentModificationException("the state store was changed during its iteration");
                }
            }
        };
    }

    /**
     * Walks the leaves of a tree in key order, returning copies of the entries with their values in
     * snapshot {@code number} (see {@link #valueAt}); it holds the snapshot's first undo log, which
     * keeps the versions it reads.
     */
    static final class Cursor implements Iterator<StateEntry> {
        private final Node[] path = new Node[64];
        private final int[] indexes = new int[64];
        private final int number;
        private final UndoLog log;
        private int depth;
        private Leaf leaf;
        private int slot;

        Cursor(Node root, int number, UndoLog log) {
            this.number = number;
            this.log = log;
            descend(root);
        }

        private void descend(Node node) {
            while (node instanceof Inner inner) {
                path[depth] = inner;
                indexes[depth] = 0;
                depth++;
                node = inner.children[0];
            }
            leaf = (Leaf) node;
            slot = 0;
        }

        @Override
        public boolean hasNext() {
            while (slot >= leaf.size) {
                // Climb to the first ancestor with a next child, then go down its leftmost path.
                while (depth > 0 && indexes[depth - 1] + 1 >= path[depth - 1].size) {
                    depth--;
                }
                if (depth == 0) {
                    return false;
                }
                var parent = (Inner) path[depth - 1];
                int next = ++indexes[depth - 1];
                descend(parent.children[next]);
            }
            return true;
        }

        @Override
        public StateEntry next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            var value = valueAt(leaf.cells[slot], number, log, null);
            var entry = new StateEntry(leaf.keys[slot].clone(), value);
            slot++;
            return entry;
        }
    }
}

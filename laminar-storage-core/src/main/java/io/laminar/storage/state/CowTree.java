package io.laminar.storage.state;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.ConcurrentModificationException;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.function.Consumer;

/**
 * The map under both state stores: a copy-on-write B+-tree of byte keys (unsigned lexicographic
 * order) whose nodes and cells carry an owner token, with a {@link PointIndex} beside it.
 *
 * <p>A leaf holds, per key, the key array and a {@link Cell}: the key's current value. The writer
 * mutates in place every node and every cell whose {@code owner} is the tree's current token; any
 * other node or cell may be shared with a {@link StateSnapshot} and is copied (a node with the path
 * to it) the first time the writer changes it. {@link #freeze()} hands out the current root and
 * starts a new token, so from then on every existing node and cell is read-only for the writer:
 * that is the whole cost of a snapshot. Unchanged subtrees and cells stay the very same objects in
 * the tree and in its snapshots, which is what {@link StateSnapshot#changesSince} uses to skip them.
 *
 * <p>The point index maps every key of the live tree to its cell. A put of a present key whose cell
 * is owned never touches the tree: it finds the cell by hash and overwrites its value (in place when
 * the length is the same, so a steady-state overwrite allocates nothing). Only the first write to a
 * key after a snapshot (the cell is shared) descends the tree to put a new cell into a writable
 * leaf; new keys and removals descend it as a plain B+-tree does. Reads of the live tree go through
 * the index; snapshots read the tree.
 *
 * <p>That descent misses the CPU's cache at the lower levels, and it is most of what a snapshot
 * costs the writer. So each leaf has an id, each cell the id of the leaf the writer last put it in
 * ({@link Cell#leafId}), and the tree a registry of its current leaf of each id: a first write whose
 * cell's leaf the writer already copied since the snapshot finds that copy through the registry and
 * replaces the cell in it without descending. The registry holds no leaf that is no longer in the
 * tree (a leaf merged away or emptied is taken out of it), and a hint is used only if the leaf it
 * leads to is owned and holds the very cell, so a stale hint only costs the descent.
 *
 * <p>Invariants: every leaf is at the same depth; no node is empty except an empty root leaf;
 * {@code Inner.keys[i]} ({@code i >= 1}) is a lower bound of child {@code i} and greater than every
 * key of child {@code i - 1} ({@code keys[0]} is unused); {@code Leaf.keys[i] == Leaf.cells[i].key};
 * a node or cell owned by the current token sits only under owned nodes (so no snapshot reaches it);
 * the index holds exactly the live tree's cells, except for the cells of {@link #putDeferred} not yet
 * placed (see there), which every method that reads the tree's nodes places first; a leaf in the
 * registry is in the tree, at the index of its id.
 *
 * <p>Memory per key, besides the key and value arrays: the leaf's two slots (8 bytes, leaves about
 * 3/4 full), the cell (32 bytes), the index's share of its table (8 to 16 bytes) and the registry's
 * share (4 to 8 bytes per leaf, under 1 byte per key).
 *
 * <p>Not thread-safe: one writer thread; snapshots are the way to read from other threads.
 */
final class CowTree {

    static final int LEAF_CAPACITY = 32;
    static final int INNER_CAPACITY = 32;
    /** Below this a node is merged with a neighbour when the two fit in one node. */
    private static final int MIN_FILL = 8;
    private static final VarHandle BIG_ENDIAN_LONGS =
            MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    abstract static sealed class Node permits Leaf, Inner {
        final Object owner;
        int size;

        Node(Object owner) {
            this.owner = owner;
        }
    }

    /**
     * One key's value. The writer replaces {@link #value} (or overwrites its bytes) only while it
     * owns the cell; once a snapshot may see the cell it never changes again, so two snapshots that
     * hold the same cell hold the same value.
     */
    static final class Cell {
        /** Never modified; shared by the leaf, the index and later cells of the same key. */
        final byte[] key;
        /** {@link PointIndex#hash} of the key. */
        final int hash;
        final Object owner;
        byte[] value;
        /**
         * The {@link Leaf#id} of the leaf the cell was put in, or -1: a hint for writers (snapshots
         * never read it), set while the cell's writer still owns it. It goes stale when a split or
         * a merge moves the cell, when its leaf leaves the tree, or in another tree started from a
         * snapshot; every hint is checked before it is used, so a stale one only costs a descent.
         */
        int leafId = -1;

        Cell(byte[] key, int hash, byte[] value, Object owner) {
            this.key = key;
            this.hash = hash;
            this.value = value;
            this.owner = owner;
        }
    }

    static final class Leaf extends Node {
        /** This leaf's index in its tree's registry, or -1; a copy takes over the id of what it copies. */
        int id = -1;
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

    private Object owner = new Object();
    /** By id, the tree's current leaf of that id, or null (see the class comment); ids up to {@link #leafCount}. */
    private Leaf[] leaves = NO_LEAVES;
    private int leafCount;
    /** Ids whose leaf left the tree, for new leaves to take, so that the registry grows only with the tree. */
    private int[] freeIds = NO_IDS;
    private int freeCount;
    private Node root;
    private PointIndex index = new PointIndex(0);
    private long size;
    /** Counts structural and value changes, so that iterators over the live tree fail fast. */
    private int modCount;
    /** The lower bound of the node that the last {@link #insert} split off, read by its caller. */
    private byte[] splitKey;
    /**
     * First writes since a snapshot made by {@link #putDeferred}: the new cell of each is in the
     * index (so reads and later overwrites see it) while its leaf still holds the old cell, at the
     * same index of {@link #pendingOld}. {@link #placePending} puts them into the tree in key order.
     */
    private Cell[] pendingFresh = NO_CELLS;
    private Cell[] pendingOld = NO_CELLS;
    private int pendingCount;
    private static final Cell[] NO_CELLS = new Cell[0];
    private static final Leaf[] NO_LEAVES = new Leaf[0];
    private static final int[] NO_IDS = new int[0];

    CowTree() {
        root = newLeaf();
    }

    /**
     * A tree that starts out sharing every node and cell of {@code root} (holding {@code size} keys);
     * the first write to each copies it. It takes over the index and the leaf registry of
     * {@code handover} if that is not null: those of exactly the tree under {@code root}, whose tree
     * will never write again (see {@link #retire()}). Otherwise it builds the point index (O(size), no
     * key or value is copied) and starts with no leaf registered.
     */
    CowTree(Node root, long size, Handover handover) {
        this.root = root;
        this.size = size;
        if (handover != null) {
            index = handover.index();
            leaves = handover.leaves();
            leafCount = handover.leafCount();
            freeIds = handover.freeIds();
            freeCount = handover.freeCount();
        } else {
            index = PointIndex.of(root, size); // a leaf is registered once copied
        }
    }

    /** What a retired tree hands to a tree started from its last snapshot: its index and its leaf registry. */
    record Handover(PointIndex index, Leaf[] leaves, int leafCount, int[] freeIds, int freeCount) {
    }

    long size() {
        return size;
    }

    Node root() {
        placePending();
        return root;
    }

    /**
     * Freezes the tree for good and gives up its index and its leaf registry, which then match the
     * frozen root exactly: for a tree that will never be written again, so that a tree started from
     * its last snapshot takes them over instead of building the index again (O(size)) and starting
     * with no leaf registered. Any later write fails.
     */
    Handover retire() {
        freeze();
        var handed = new Handover(index, leaves, leafCount, freeIds, freeCount);
        index = null; // a write after this is a bug: it fails rather than change a handed-over index
        leaves = NO_LEAVES;
        leafCount = 0;
        freeIds = NO_IDS;
        freeCount = 0;
        return handed;
    }

    /** Makes every current node read-only for the writer and returns the root: the O(1) snapshot. */
    Node freeze() {
        placePending();
        owner = new Object();
        return root;
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

    /** The internal value array for {@code key} under {@code node}, or null; callers must not modify or keep it. */
    static byte[] get(Node node, byte[] key) {
        long prefix = prefix(key);
        while (node instanceof Inner inner) {
            node = inner.children[childIndex(inner, key, prefix)];
        }
        var leaf = (Leaf) node;
        int i = search(leaf, key);
        return i >= 0 ? leaf.cells[i].value : null;
    }

    /** The live tree's internal value array for {@code key} (through the index), or null; do not modify or keep it. */
    byte[] get(byte[] key) {
        var cell = index.find(key, PointIndex.hash(key));
        return cell == null ? null : cell.value;
    }

    /** A copy of the value of {@code key}, or null: what a store's {@code get} returns. */
    byte[] getCopy(byte[] key) {
        var value = get(key);
        return value == null ? null : value.clone();
    }

    /**
     * Copies the value of {@code key} into {@code into} if it fits; returns its length, or -1 if
     * there is none: a store's allocation-free {@code get}.
     */
    int copyValue(byte[] key, byte[] into) {
        var value = get(key);
        if (value == null) {
            return -1;
        }
        if (value.length <= into.length) {
            System.arraycopy(value, 0, into, 0, value.length);
        }
        return value.length;
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
        if (cell != null && cell.owner == owner) {
            overwrite(cell, value, adopt);
        } else if (cell != null) {
            // The first write since a snapshot: the snapshot keeps the old cell, the tree gets a new one.
            var fresh = new Cell(cell.key, hash, adopt ? value : value.clone(), owner);
            if (!replaceInCopiedLeaf(cell, fresh)) {
                place(fresh, cell);
            }
            index.replace(cell, fresh);
        } else {
            addKey(key, hash, value, adopt);
        }
        modCount++;
    }

    /** Gives {@code cell}, which this writer owns (no snapshot can see it), {@code value}. */
    private static void overwrite(Cell cell, byte[] value, boolean adopt) {
        if (!adopt && cell.value.length == value.length) {
            // The steady-state overwrite: no allocation, no tree, and no snapshot can see this array.
            System.arraycopy(value, 0, cell.value, 0, value.length);
        } else {
            cell.value = adopt ? value : value.clone();
        }
    }

    /** Adds {@code key}, which the tree does not hold, to the tree and the index. */
    private void addKey(byte[] key, int hash, byte[] value, boolean adopt) {
        var fresh = new Cell(adopt ? key : key.clone(), hash, adopt ? value : value.clone(), owner);
        place(fresh, null);
        index.add(fresh);
        size++;
    }

    /**
     * As {@link #put}, for a replay of many changes after a snapshot: the first
     * write to a key since the snapshot does not descend the tree at once. Its new cell goes into
     * the index (reads and later writes find it) and onto a list; {@link #placePending} later puts
     * the listed cells into the tree in key order, before anything reads the tree's nodes (a
     * snapshot, an iteration, a removal, the invariant checks). In key order, consecutive cells take
     * the same path down the tree, whose nodes are then in the CPU's cache, and each leaf is copied
     * once; in arrival order (random keys) each descent missed the cache at every level. Costs 16
     * bytes per listed key until they are placed, and 20 more while placing them.
     */
    void putDeferred(byte[] key, byte[] value, boolean adopt) {
        int hash = PointIndex.hash(key);
        int slot = index.findSlot(key, hash);
        var cell = slot < 0 ? null : index.at(slot);
        if (cell != null && cell.owner == owner) {
            overwrite(cell, value, adopt);
        } else if (cell != null) {
            var fresh = new Cell(cell.key, hash, adopt ? value : value.clone(), owner);
            index.replaceAt(slot, fresh);
            if (pendingCount == pendingFresh.length) {
                int capacity = Math.max(1024, pendingCount * 2);
                pendingFresh = Arrays.copyOf(pendingFresh, capacity);
                pendingOld = Arrays.copyOf(pendingOld, capacity);
            }
            pendingFresh[pendingCount] = fresh;
            pendingOld[pendingCount] = cell;
            pendingCount++;
        } else {
            // A new key changes the tree's shape; the listed cells' old cells stay in it, wherever a
            // split moves them, so placing them later still finds them by key.
            addKey(key, hash, value, adopt);
        }
        modCount++;
    }

    /** Whether cells of {@link #putDeferred} wait to be placed into the tree (for tests). */
    boolean hasPending() {
        return pendingCount > 0;
    }

    /** Puts every cell listed by {@link #putDeferred} into the tree, in key order, in place of its old cell. */
    void placePending() {
        int n = pendingCount;
        if (n == 0) {
            return;
        }
        var fresh = pendingFresh;
        var old = pendingOld;
        for (int i : KeyOrder.sort(fresh, n)) {
            place(fresh[i], old[i]);
        }
        pendingFresh = NO_CELLS;
        pendingOld = NO_CELLS;
        pendingCount = 0;
    }

    /** Puts {@code cell} into the tree: in place of {@code old}, the cell of its key, or as a new key if null. */
    private void place(Cell cell, Cell old) {
        var r = writable(root);
        root = r;
        var right = insert(r, cell, prefix(cell.key), old);
        if (right != null) {
            var top = new Inner(owner, height(r) + 1);
            top.children[0] = r;
            top.children[1] = right;
            top.keys[1] = splitKey;
            top.prefixes[1] = prefix(splitKey);
            top.size = 2;
            root = top;
        }
    }

    /**
     * Puts {@code fresh} in place of {@code old} in the leaf {@code old}'s hint leads to, if that leaf
     * is one the writer owns (so the path to it is owned too) and holds {@code old}; returns whether
     * it did. No descent: the registry, the leaf and its cells array are all it reads.
     */
    private boolean replaceInCopiedLeaf(Cell old, Cell fresh) {
        int id = old.leafId;
        if (id < 0 || id >= leafCount) {
            return false;
        }
        var leaf = leaves[id];
        if (leaf == null || leaf.owner != owner) {
            return false;
        }
        var cells = leaf.cells;
        for (int i = 0, n = leaf.size; i < n; i++) {
            if (cells[i] == old) {
                cells[i] = fresh;
                fresh.leafId = id;
                return true;
            }
        }
        return false;
    }

    /**
     * A new leaf owned by the writer, registered under a free id (a hint that still names the id
     * leads to a leaf without the hinted cell: the descent then places it).
     */
    private Leaf newLeaf() {
        var leaf = new Leaf(owner);
        if (freeCount > 0) {
            leaf.id = freeIds[--freeCount];
        } else {
            if (leafCount == leaves.length) {
                leaves = Arrays.copyOf(leaves, Math.max(1024, leafCount * 2));
            }
            leaf.id = leafCount++;
        }
        leaves[leaf.id] = leaf;
        return leaf;
    }

    private boolean registered(Leaf leaf) {
        return leaf.id >= 0 && leaf.id < leafCount && leaves[leaf.id] == leaf;
    }

    /** Takes {@code node}, which has just left the tree, out of the registry if it is a leaf there. */
    private void dropped(Node node) {
        if (node instanceof Leaf leaf && registered(leaf)) {
            leaves[leaf.id] = null;
            if (freeCount == freeIds.length) {
                freeIds = Arrays.copyOf(freeIds, Math.max(64, freeCount * 2));
            }
            freeIds[freeCount++] = leaf.id;
        }
    }

    /** Removes {@code key}; returns whether it was there. */
    boolean remove(byte[] key) {
        var cell = index.find(key, PointIndex.hash(key));
        if (cell == null) {
            return false; // no path copying for a key that is not there
        }
        placePending(); // the leaf must hold the cell the index holds
        index.remove(cell);
        var r = writable(root);
        root = r;
        removeFrom(r, cell, prefix(key));
        while (root instanceof Inner inner && inner.size <= 1) {
            root = inner.size == 0 ? newLeaf() : inner.children[0];
        }
        size--;
        modCount++;
        return true;
    }

    /** O(1) in the tree: snapshots keep the old nodes; the tree starts over with an empty root and index. */
    void clear() {
        pendingFresh = NO_CELLS; // their keys are gone with the rest
        pendingOld = NO_CELLS;
        pendingCount = 0;
        leaves = NO_LEAVES; // every leaf has left the tree
        leafCount = 0;
        freeIds = NO_IDS;
        freeCount = 0;
        root = newLeaf();
        index = new PointIndex(0);
        size = 0;
        modCount++;
    }

    private static int height(Node node) {
        return node instanceof Inner inner ? inner.height : 0;
    }

    /** {@code node} itself if the writer owns it, otherwise an owned copy (value arrays are shared). */
    private Node writable(Node node) {
        if (node.owner == owner) {
            return node;
        }
        if (node instanceof Leaf leaf) {
            Leaf copy;
            if (registered(leaf)) {
                copy = new Leaf(owner); // takes the leaf's place in the registry: its cells' hints lead to it
                copy.id = leaf.id;
                leaves[leaf.id] = copy;
            } else {
                copy = newLeaf(); // a leaf of a snapshot this tree started from: no hint leads to it yet
            }
            System.arraycopy(leaf.keys, 0, copy.keys, 0, leaf.size);
            System.arraycopy(leaf.cells, 0, copy.cells, 0, leaf.size); // the cells stay shared: not owned
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

    /** Inserts into an owned node; returns the new right sibling if the node split ({@link #splitKey} set). */
    private Node insert(Node node, Cell cell, long prefix, Cell old) {
        if (node instanceof Leaf leaf) {
            return insertIntoLeaf(leaf, cell, old);
        }
        var inner = (Inner) node;
        int index = childIndex(inner, cell.key, prefix);
        var child = writable(inner.children[index]);
        inner.children[index] = child;
        var right = insert(child, cell, prefix, old);
        if (right == null) {
            return null;
        }
        return insertChild(inner, index + 1, splitKey, right);
    }

    private Node insertIntoLeaf(Leaf leaf, Cell cell, Cell old) {
        if (old != null) {
            // A scan of one array for the cell itself: no key array is read.
            leaf.cells[slotOf(leaf, old)] = cell;
            cell.leafId = leaf.id;
            return null;
        }
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
        var right = newLeaf(); // the cells moved into it keep their hints, which then fail once
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
        cell.leafId = leaf.id;
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
            dropped(child);
        } else if (child.size < MIN_FILL && inner.size > 1) {
            int left = index > 0 ? index - 1 : index;
            var rightNode = inner.children[left + 1];
            if (inner.children[left].size + rightNode.size <= capacity(child)) {
                var leftNode = writable(inner.children[left]);
                inner.children[left] = leftNode;
                append(leftNode, inner.keys[left + 1], rightNode);
                removeChild(inner, left + 1);
                dropped(rightNode);
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
            // Cells keep their own owner: those of a right node shared with a snapshot stay read-only.
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
        private Cell[] loaded = NO_CELLS;
        private int[] hashes = new int[0];

        void add(byte[] key, byte[] value) {
            if (last != null && compare(last, key) >= 0) {
                throw new IllegalArgumentException("bulk load needs keys in strictly ascending unsigned order, but "
                        + StateSnapshot.hex(key) + " came after " + StateSnapshot.hex(last));
            }
            // Leaves are filled to 3/4 so that the first writes after a restore do not all split.
            if (leaf == null || leaf.size == LEAF_CAPACITY * 3 / 4) {
                leaf = new Leaf(owner);
                leaf.id = level.size(); // the registry is the list of leaves
                level.add(leaf);
                lowerBounds.add(key);
            }
            int hash = PointIndex.hash(key);
            var cell = new Cell(key, hash, value, owner);
            cell.leafId = leaf.id;
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

        CowTree build() {
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
            tree.leaves = level.toArray(NO_LEAVES);
            tree.leafCount = level.size();
            tree.root = nodes.isEmpty() ? tree.newLeaf() : nodes.get(0);
            tree.size = size;
            tree.index = PointIndex.of(loaded, hashes, (int) size);
            loaded = NO_CELLS;
            hashes = new int[0];
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
     * the writer owns sits under a node it does not own (a snapshot would see it change), and that
     * the point index holds exactly the tree's cells. For tests: it walks everything.
     */
    long checkInvariants() {
        placePending();
        long count = checkInvariants(root);
        if (count != size) {
            throw new IllegalStateException("the tree holds " + count + " keys but counts " + size);
        }
        checkOwnership(root, true);
        index.check(root, size);
        checkRegistry();
        return count;
    }

    /** Every leaf in the registry is in the tree, under its own id, and every id listed as free is. */
    private void checkRegistry() {
        var inTree = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<Leaf, Boolean>());
        forEachLeaf(root, inTree::add);
        for (int id = 0; id < leafCount; id++) {
            var leaf = leaves[id];
            if (leaf != null && (leaf.id != id || !inTree.contains(leaf))) {
                throw new IllegalStateException("the leaf registry holds, under id " + id + ", a leaf "
                        + (leaf.id != id ? "with id " + leaf.id : "that is not in the tree"));
            }
        }
        for (int i = 0; i < freeCount; i++) {
            if (leaves[freeIds[i]] != null) {
                throw new IllegalStateException("the leaf registry lists id " + freeIds[i]
                        + " as free, but it is taken");
            }
        }
    }

    private static void forEachLeaf(Node node, Consumer<Leaf> action) {
        if (node instanceof Leaf leaf) {
            action.accept(leaf);
        } else {
            var inner = (Inner) node;
            for (int i = 0; i < inner.size; i++) {
                forEachLeaf(inner.children[i], action);
            }
        }
    }

    private void checkOwnership(Node node, boolean underOwned) {
        boolean owned = node.owner == owner;
        if (owned && !underOwned) {
            throw new IllegalStateException("an owned node under a node a snapshot may share");
        }
        if (node instanceof Leaf leaf) {
            for (int i = 0; i < leaf.size; i++) {
                if (leaf.cells[i].owner == owner && !owned) {
                    throw new IllegalStateException("the owned cell of " + StateSnapshot.hex(leaf.keys[i])
                            + " in a leaf a snapshot may share");
                }
            }
        } else {
            var inner = (Inner) node;
            for (int i = 0; i < inner.size; i++) {
                checkOwnership(inner.children[i], owned);
            }
        }
    }

    // ---- iteration -----------------------------------------------------------------------------

    static void forEach(Node node, EntryVisitor visitor) {
        if (node instanceof Leaf leaf) {
            for (int i = 0; i < leaf.size; i++) {
                visitor.visit(leaf.keys[i], leaf.cells[i].value);
            }
        } else {
            var inner = (Inner) node;
            for (int i = 0; i < inner.size; i++) {
                forEach(inner.children[i], visitor);
            }
        }
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
        placePending();
        int expected = modCount;
        forEach(root, (k, v) -> {
            if (modCount != expected) {
                throw new ConcurrentModificationException("the state store was changed during its iteration");
            }
            visitor.visit(k, v);
        });
    }

    /** An iterator over the live tree in key order, failing fast if the tree changes. */
    Iterator<StateEntry> iterator() {
        placePending();
        int expected = modCount;
        var cursor = new Cursor(root);
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

    /** Walks the leaves of a tree in key order, returning copies of the entries. */
    static final class Cursor implements Iterator<StateEntry> {
        private final Node[] path = new Node[64];
        private final int[] indexes = new int[64];
        private int depth;
        private Leaf leaf;
        private int slot;

        Cursor(Node root) {
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
            var entry = new StateEntry(leaf.keys[slot].clone(), leaf.cells[slot].value.clone());
            slot++;
            return entry;
        }
    }
}

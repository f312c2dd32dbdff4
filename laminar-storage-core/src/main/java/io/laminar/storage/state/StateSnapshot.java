package io.laminar.storage.state;

import java.lang.ref.Reference;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;

/**
 * An immutable view of a state store at one moment, taken in O(1) by {@link StateStore#snapshot()}.
 *
 * <p>Thread-safe: any number of threads may read and iterate it while the store's thread keeps
 * writing. The store never changes a node it has handed to a snapshot (it copies the node first),
 * and it keeps, for as long as the snapshot is held, the value each key had when it was taken (the
 * first write to a key after a snapshot copies the value it replaces into an undo log). Values
 * leave a snapshot as copies, checked against concurrent writes: the store overwrites its value
 * arrays in place. Hand it to other threads the usual safe way (a queue, a future, a volatile
 * field). It holds on to the nodes and the replaced values it may read: drop it once the
 * checkpoint that needed it is done.
 *
 * <p>{@link #changesSince} computes what a checkpoint delta needs: the keys put or deleted since an
 * older snapshot, in time proportional to what changed between two snapshots of one store.
 */
public final class StateSnapshot implements Iterable<StateEntry> {

    private static final HexFormat HEX = HexFormat.of();

    private static final java.lang.invoke.VarHandle HANDED_OVER;

    static {
        try {
            HANDED_OVER = java.lang.invoke.MethodHandles.lookup()
                    .findVarHandle(StateSnapshot.class, "handedOver", CowTree.Handover.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final CowTree.Node root;
    private final long size;
    /** The store's epoch when it was taken: it sees each cell's version of the latest epoch not after it. */
    private final int number;
    /** The undo log of the epoch after it: the versions replaced since, which it reads and keeps alive. */
    private final CowTree.UndoLog log;
    /**
     * The hash index, epoch and undo log of exactly this snapshot's tree, from a store that was
     * retired when it was taken ({@link ChangelogAwareStateStore#retire}), for the first
     * {@link ChangelogAwareStateStore#fromSnapshot} to go on with; null once taken, or if there is
     * none. Only ever read and cleared through {@link #HANDED_OVER}.
     */
    @SuppressWarnings("unused")
    private volatile CowTree.Handover handedOver;
    /** Set by {@link #freeze}: no store goes on from this snapshot, so its cells and their arrays never change. */
    private volatile boolean frozen;

    StateSnapshot(CowTree.Node root, long size, int number, CowTree.UndoLog log) {
        this.root = root;
        this.size = size;
        this.number = number;
        this.log = log;
    }

    /** Attaches the hand-over of the store that took this snapshot as its last one, before it is published. */
    void handOver(CowTree.Handover handover) {
        handedOver = handover;
    }

    /** The handed-over state, for the one caller that gets it first; null for every other. */
    CowTree.Handover takeHandover() {
        return (CowTree.Handover) HANDED_OVER.getAndSet(this, (CowTree.Handover) null);
    }

    CowTree.Node root() {
        return root;
    }

    int number() {
        return number;
    }

    CowTree.UndoLog log() {
        return log;
    }

    /** How many keys the snapshot holds. */
    public long size() {
        return size;
    }

    /** Whether it holds no key. */
    public boolean isEmpty() {
        return size == 0;
    }

    /** A copy of the value of {@code key}, or {@code null}. */
    public byte[] get(byte[] key) {
        var cell = CowTree.find(root, key);
        try {
            return cell == null ? null : CowTree.valueAt(cell, number, log, null);
        } finally {
            Reference.reachabilityFence(this); // it holds the undo log the read may need
        }
    }

    /** The sum of the lengths of its keys and values, the state's logical size: O(entries), copying no value. */
    public long logicalBytes() {
        long[] sum = {0};
        try {
            CowTree.forEachCell(root, cell -> sum[0] += cell.key.length + (long) CowTree.lengthAt(cell, number, log));
        } finally {
            Reference.reachabilityFence(this);
        }
        return sum[0];
    }

    /** Whether {@code key} has a value. */
    public boolean containsKey(byte[] key) {
        return CowTree.find(root, key) != null;
    }

    /**
     * Makes sure that no store ever goes on from this snapshot, so that its values never change
     * again, and returns whether that holds. It does for the snapshot that
     * {@link ChangelogAwareStateStore#retire} returned, as long as no
     * {@link ChangelogAwareStateStore#fromSnapshot} took its hand-over first (this takes it: a later
     * {@code fromSnapshot} builds a store of its own). Once frozen, {@link #forEachShared} hands out
     * the ranges of the store's own value arrays instead of copies, and they never change: a caller may keep them
     * (never modify them), as a rescale's regrouping does with
     * {@link ChangelogAwareStateStore#bulkLoaderSharingValues}.
     */
    public synchronized boolean freeze() {
        if (!frozen && takeHandover() != null) {
            frozen = true;
        }
        return frozen;
    }

    /**
     * Visits every entry in key order. The key arrays are the snapshot's own; each value is a copy
     * in an array that the next entry of the same length reuses. See {@link EntryVisitor}.
     */
    public void forEach(EntryVisitor visitor) {
        try {
            CowTree.forEach(root, number, log, visitor);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Visits every entry in key order with a value the visitor may keep (see
     * {@link ValueRangeVisitor}): once {@link #freeze frozen}, the range of the store's own array
     * that holds it, shared rather than copied; otherwise a new copy of its own. The key arrays are
     * the snapshot's own.
     */
    public void forEachShared(ValueRangeVisitor visitor) {
        try {
            CowTree.forEachShared(root, number, log, frozen, visitor);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /** The entries in key order, as copies. */
    @Override
    public Iterator<StateEntry> iterator() {
        return new CowTree.Cursor(root, number, log);
    }

    /**
     * Reports to {@code changes}, in key order, every key whose value in this snapshot differs from
     * its value in {@code older}: {@code onPut} with the new value, or {@code onDelete}; never
     * {@code onClear}. Applying them to {@code older}'s state gives this snapshot's state. The key
     * arrays are the snapshot's own (never modify them; they never change, so the sink may keep
     * them), and each value is a new copy that the sink may keep.
     *
     * <p>Cost, when {@code older} is an earlier snapshot of the same store: proportional to the keys
     * written in between and to the nodes that new keys and removals copied, not to the state size.
     * Any two snapshots may be compared; otherwise it compares every entry.
     *
     * @param older the state to compare with, or {@code null} for empty state (every entry is a put)
     */
    public void changesSince(StateSnapshot older, ChangelogSink changes) {
        try {
            new Diff(older, changes).run();
        } finally {
            Reference.reachabilityFence(this);
            Reference.reachabilityFence(older);
        }
    }

    /**
     * The cells first written in the epochs after {@code older} up to this snapshot, sorted by key
     * (a key may come more than once), read from the undo logs between the two; null if
     * {@code older} is not an earlier snapshot of the same store (the logs do not lead from one to
     * the other).
     */
    private CowTree.Cell[] writtenSince(StateSnapshot older) {
        if (older.number >= number) {
            return null;
        }
        int n = 0;
        for (var l = older.log; l != log; l = l.next) {
            if (l == null || l.epoch > number) {
                return null;
            }
            n += l.count();
        }
        var cells = new CowTree.Cell[n];
        n = 0;
        for (var l = older.log; l != log; l = l.next) {
            for (int i = 0, count = l.count(); i < count; i++) {
                cells[n++] = l.cellAt(i);
            }
        }
        var order = KeyOrder.sort(cells, n);
        var sorted = new CowTree.Cell[n];
        for (int i = 0; i < n; i++) {
            sorted[i] = cells[order[i]];
        }
        return sorted;
    }

    /** One run of {@link #changesSince}: a walk of both trees in key order. */
    private final class Diff {
        private final StateSnapshot older;
        private final ChangelogSink changes;
        /** See {@link #writtenSince}; null if subtrees the two share must be compared entry by entry. */
        private final CowTree.Cell[] written;
        private int nextWritten;
        /** The values {@link #compare} reads, reused while their lengths do not change. */
        private byte[] was;
        private byte[] is;

        Diff(StateSnapshot older, ChangelogSink changes) {
            this.older = older;
            this.changes = changes;
            this.written = older == null ? null : writtenSince(older);
        }

        void run() {
            var a = new DiffCursor(older == null ? null : older.root);
            var b = new DiffCursor(root);
            while (true) {
                var x = a.top();
                var y = b.top();
                if (x == null && y == null) {
                    return;
                }
                if (x == y && a.offset == 0 && b.offset == 0 && written != null) {
                    // The same subtree on both sides: no key came or went in it, and of the values
                    // only those of the keys written in between may differ.
                    changesIn(y);
                    a.pop();
                    b.pop();
                    continue;
                }
                int hx = x == null ? -1 : height(x);
                int hy = y == null ? -1 : height(y);
                // Expand the taller side until the two line up at a level where shared nodes can meet.
                if (hx > 0 && hx >= hy) {
                    a.expand();
                    if (hy == hx) {
                        b.expand();
                    }
                    continue;
                }
                if (hy > 0) {
                    b.expand();
                    continue;
                }
                var xl = (CowTree.Leaf) x;
                var yl = (CowTree.Leaf) y;
                int c = xl == null ? 1 : yl == null ? -1 : CowTree.compare(xl.keys[a.offset], yl.keys[b.offset]);
                if (c < 0) {
                    changes.onDelete(xl.keys[a.offset]);
                    a.advance();
                } else if (c > 0) {
                    changes.onPut(yl.keys[b.offset], valueNow(yl.cells[b.offset]));
                    b.advance();
                } else {
                    compare(yl.keys[b.offset], xl.cells[a.offset], yl.cells[b.offset]);
                    a.advance();
                    b.advance();
                }
            }
        }

        /** Reports the keys written in between that lie in {@code shared} and whose value changed. */
        private void changesIn(CowTree.Node shared) {
            var first = CowTree.firstKey(shared);
            var last = CowTree.lastKey(shared);
            while (nextWritten < written.length && CowTree.compare(written[nextWritten].key, first) < 0) {
                nextWritten++; // in a part of the trees already compared entry by entry
            }
            while (nextWritten < written.length && CowTree.compare(written[nextWritten].key, last) <= 0) {
                var key = written[nextWritten].key;
                var cell = CowTree.find(shared, key);
                if (cell != null) {
                    compare(key, cell, cell);
                }
                while (nextWritten < written.length && CowTree.compare(written[nextWritten].key, key) == 0) {
                    nextWritten++;
                }
            }
        }

        private void compare(byte[] key, CowTree.Cell before, CowTree.Cell after) {
            was = CowTree.valueAt(before, older.number, older.log, was);
            is = CowTree.valueAt(after, number, log, is);
            if (!Arrays.equals(was, is)) {
                changes.onPut(key, is.clone());
            }
        }

        private byte[] valueNow(CowTree.Cell cell) {
            return CowTree.valueAt(cell, number, log, null);
        }
    }

    /** {@link #changesSince(StateSnapshot, ChangelogSink)} as a list, in key order. */
    public List<StateChange> changesSince(StateSnapshot older) {
        var out = new ArrayList<StateChange>();
        changesSince(older, new ChangelogSink() {
            @Override
            public void onPut(byte[] key, byte[] value) {
                out.add(new StateChange(key.clone(), value));
            }

            @Override
            public void onDelete(byte[] key) {
                out.add(StateChange.deleted(key.clone()));
            }

            @Override
            public void onClear() {
                throw new AssertionError("a diff never clears");
            }
        });
        return out;
    }

    private static int height(CowTree.Node node) {
        return node instanceof CowTree.Inner inner ? inner.height : 0;
    }

    @Override
    public String toString() {
        return "StateSnapshot[size=" + size + "]";
    }

    static String hex(byte[] bytes) {
        if (bytes == null) {
            return "null";
        }
        return bytes.length <= 32 ? HEX.formatHex(bytes)
                : HEX.formatHex(bytes, 0, 32) + "...(" + bytes.length + " bytes)";
    }

    /**
     * The not yet compared part of one tree, as a stack of whole subtrees in key order; only the
     * top (a leaf) may be partly consumed, up to {@link #offset}.
     */
    private static final class DiffCursor {
        private final ArrayDeque<CowTree.Node> pending = new ArrayDeque<>();
        int offset;

        DiffCursor(CowTree.Node root) {
            if (root != null) {
                pending.push(root);
            }
        }

        /** The next subtree, skipping empty leaves, or null at the end. */
        CowTree.Node top() {
            var node = pending.peek();
            while (node != null && node.size == 0) {
                pending.pop();
                node = pending.peek();
            }
            return node;
        }

        void pop() {
            pending.pop();
            offset = 0;
        }

        void expand() {
            var inner = (CowTree.Inner) pending.pop();
            for (int i = inner.size - 1; i >= 0; i--) {
                pending.push(inner.children[i]);
            }
        }

        void advance() {
            if (++offset == pending.peek().size) {
                pop();
            }
        }
    }
}

package io.laminar.storage.state;

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
 * writing, because the store never modifies a node it has handed to a snapshot (it copies the node
 * first). Its fields are final, so it may even be published without synchronization. It holds on to
 * the nodes it sees: drop it once the checkpoint that needed it is done.
 *
 * <p>{@link #changesSince} computes what a checkpoint delta needs: the keys put or deleted since an
 * older snapshot, skipping every subtree the two share (which, between two snapshots of one store,
 * is every subtree not written in between).
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
    /**
     * The hash index and the leaf registry of exactly this snapshot's tree, from a store that was
     * retired when it was taken ({@link ChangelogAwareStateStore#retire}), for the first
     * {@link ChangelogAwareStateStore#fromSnapshot} to take over instead of building one; null once
     * taken, or if there is none. Only ever read and cleared through {@link #HANDED_OVER}.
     */
    @SuppressWarnings("unused")
    private volatile CowTree.Handover handedOver;

    StateSnapshot(CowTree.Node root, long size) {
        this(root, size, null);
    }

    StateSnapshot(CowTree.Node root, long size, CowTree.Handover handedOver) {
        this.root = root;
        this.size = size;
        this.handedOver = handedOver;
    }

    /** The handed-over index and registry, for the one caller that gets them first; null for every other. */
    CowTree.Handover takeHandover() {
        return (CowTree.Handover) HANDED_OVER.getAndSet(this, (CowTree.Handover) null);
    }

    CowTree.Node root() {
        return root;
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
        var value = CowTree.get(root, key);
        return value == null ? null : value.clone();
    }

    /** Whether {@code key} has a value. */
    public boolean containsKey(byte[] key) {
        return CowTree.get(root, key) != null;
    }

    /** Visits every entry in key order without copying; see {@link EntryVisitor}. */
    public void forEach(EntryVisitor visitor) {
        CowTree.forEach(root, visitor);
    }

    /** The entries in key order, as copies. */
    @Override
    public Iterator<StateEntry> iterator() {
        return new CowTree.Cursor(root);
    }

    /**
     * Reports to {@code changes}, in key order, every key whose value in this snapshot differs from
     * its value in {@code older}: {@code onPut} with the new value, or {@code onDelete}; never
     * {@code onClear}. Applying them to {@code older}'s state gives this snapshot's state. The arrays
     * are the snapshot's own: the sink must not modify them (it may keep them: they never change).
     *
     * <p>Cost: proportional to the entries in the subtrees that differ (plus their tree paths), not
     * to the state size. Any two snapshots may be compared; sharing only makes it faster.
     *
     * @param older the state to compare with, or {@code null} for empty state (every entry is a put)
     */
    public void changesSince(StateSnapshot older, ChangelogSink changes) {
        var a = new DiffCursor(older == null ? null : older.root);
        var b = new DiffCursor(root);
        while (true) {
            var x = a.top();
            var y = b.top();
            if (x == null && y == null) {
                return;
            }
            if (x == y && a.offset == 0 && b.offset == 0) {
                a.pop(); // the same object on both sides: nothing in it changed
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
                changes.onPut(yl.keys[b.offset], yl.cells[b.offset].value);
                b.advance();
            } else {
                // The same cell in both: unchanged (a cell a snapshot sees never changes again).
                var before = xl.cells[a.offset];
                var after = yl.cells[b.offset];
                if (before != after && !Arrays.equals(before.value, after.value)) {
                    changes.onPut(yl.keys[b.offset], after.value);
                }
                a.advance();
                b.advance();
            }
        }
    }

    /** {@link #changesSince(StateSnapshot, ChangelogSink)} as a list, in key order. */
    public List<StateChange> changesSince(StateSnapshot older) {
        var out = new ArrayList<StateChange>();
        changesSince(older, new ChangelogSink() {
            @Override
            public void onPut(byte[] key, byte[] value) {
                out.add(new StateChange(key.clone(), value.clone()));
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

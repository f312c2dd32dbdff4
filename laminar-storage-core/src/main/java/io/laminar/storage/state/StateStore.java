package io.laminar.storage.state;

import java.util.Iterator;

/**
 * A map of byte keys to byte values, ordered by unsigned lexicographic key order. Both stores of
 * this package implement it; neither is thread-safe (one thread writes and reads; hand a
 * {@link #snapshot()} to other threads).
 *
 * <p>Keys and values passed in are copied: the caller may reuse its arrays after a call returns.
 */
public interface StateStore extends Iterable<StateEntry> {

    /** A copy of the value of {@code key}, or {@code null} if there is none. */
    byte[] get(byte[] key);

    /**
     * Copies the value of {@code key} into {@code into} from index 0 if it fits, without allocating.
     *
     * @return the value's length ({@code > into.length} means nothing was copied), or -1 if absent
     */
    int get(byte[] key, byte[] into);

    /** Whether {@code key} has a value. */
    boolean containsKey(byte[] key);

    /** Maps {@code key} to {@code value}. */
    void put(byte[] key, byte[] value);

    /** Removes {@code key}; returns whether it was present. */
    boolean delete(byte[] key);

    /** Removes every key. */
    void clear();

    /** How many keys have a value. */
    long size();

    /** Whether there are no keys. */
    default boolean isEmpty() {
        return size() == 0;
    }

    /**
     * Visits every entry in key order without copying (see {@link EntryVisitor}). The visitor must
     * not change the store ({@link java.util.ConcurrentModificationException}).
     */
    void forEach(EntryVisitor visitor);

    /**
     * Visits every entry in no promised order; use it when order does not matter, so that a later
     * layout may serve it faster. Today it is key order.
     */
    default void forEachUnordered(EntryVisitor visitor) {
        forEach(visitor);
    }

    /**
     * The entries in key order, as copies. Fails fast with
     * {@link java.util.ConcurrentModificationException} if the store changes meanwhile.
     */
    @Override
    Iterator<StateEntry> iterator();

    /**
     * An immutable, thread-safe view of the current state, taken in O(1) (no copying). Later writes
     * copy the nodes they touch the first time, so frequent snapshots make writes allocate more.
     */
    StateSnapshot snapshot();

    /**
     * Typed access through codecs. Encoding and decoding allocate: the byte methods are the
     * allocation-free path.
     */
    default <K, V> TypedState<K, V> typed(Codec<K> keys, Codec<V> values) {
        return new TypedState<>(this, keys, values);
    }

    /**
     * This store as a {@link ChangelogSink}: each change is applied through {@link #put},
     * {@link #delete} or {@link #clear}, exactly as if called directly (a changelog-aware store
     * publishes it). Useful to drive a store from a stream of changes. Same threading as the store.
     */
    default ChangelogSink asSink() {
        var store = this;
        return new ChangelogSink() {
            @Override
            public void onPut(byte[] key, byte[] value) {
                store.put(key, value);
            }

            @Override
            public void onDelete(byte[] key) {
                store.delete(key);
            }

            @Override
            public void onClear() {
                store.clear();
            }
        };
    }
}

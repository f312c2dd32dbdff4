package io.laminar.storage.state;

import java.util.Objects;
import java.util.function.BiConsumer;

/**
 * A typed view of a {@link StateStore} through a key and a value {@link Codec}; same threading rules
 * as the store it wraps. Every call encodes (allocates); use the byte methods on hot paths.
 *
 * @param <K> the key type
 * @param <V> the value type
 */
public final class TypedState<K, V> {

    private final StateStore store;
    private final Codec<K> keys;
    private final Codec<V> values;

    TypedState(StateStore store, Codec<K> keys, Codec<V> values) {
        this.store = Objects.requireNonNull(store, "store");
        this.keys = Objects.requireNonNull(keys, "keys");
        this.values = Objects.requireNonNull(values, "values");
    }

    /** The value of {@code key}, or {@code null}. */
    public V get(K key) {
        var bytes = store.get(keys.encode(key));
        return bytes == null ? null : values.decode(bytes);
    }

    /** Maps {@code key} to {@code value}. */
    public void put(K key, V value) {
        store.put(keys.encode(key), values.encode(value));
    }

    /** Removes {@code key}; returns whether it was present. */
    public boolean delete(K key) {
        return store.delete(keys.encode(key));
    }

    /** Visits every entry in key order (the order of the encoded keys). */
    public void forEach(BiConsumer<K, V> action) {
        store.forEach((k, v) -> action.accept(keys.decode(k), values.decode(v)));
    }
}

package io.laminar.storage.state;

/**
 * Receives entries of a store or snapshot. The arrays are valid during the call only: a store
 * passes its own arrays, which its next write may overwrite, and a snapshot passes its own key
 * arrays and copies of the values in an array that the next entry reuses. Read them during the
 * call, never modify them, and copy what you need to keep.
 */
@FunctionalInterface
public interface EntryVisitor {

    /** Called once per entry. */
    void visit(byte[] key, byte[] value);
}

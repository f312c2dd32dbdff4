package io.laminar.storage.state;

/**
 * Receives entries of a store or snapshot without copying them. The arrays are the store's own:
 * read them during the call, never modify them, and copy what you need to keep.
 */
@FunctionalInterface
public interface EntryVisitor {

    /** Called once per entry. */
    void visit(byte[] key, byte[] value);
}

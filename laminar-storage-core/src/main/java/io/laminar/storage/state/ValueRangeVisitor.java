package io.laminar.storage.state;

/**
 * Receives entries of a snapshot whose values the receiver may keep: the value is {@code length}
 * bytes of {@code array} from {@code offset}, a range no one writes again (see
 * {@link StateSnapshot#forEachShared}). Never modify the arrays; other entries' values may share
 * an array, never a range.
 */
@FunctionalInterface
public interface ValueRangeVisitor {

    /** Called once per entry. */
    void visit(byte[] key, byte[] array, int offset, int length);
}

package io.laminar.storage.changelog;

import io.laminar.storage.state.StateChangeFormat;
import java.nio.ByteBuffer;

/**
 * One change on its way from a core thread to the drainer: a pooled, reused holder of the key and
 * value bytes themselves (so that it can be replayed), never a reference into the store.
 *
 * <p>Owned by one thread at a time: filled by the core thread, handed over through the queue
 * (which publishes it safely), encoded by the drainer and handed back through the free list.
 */
final class ChangeEntry {

    /** The op of a barrier marker: not a change; {@link #changeNumber} holds the barrier's epoch. */
    static final byte MARKER = 0;

    byte op;
    byte[] key = new byte[32];
    int keyLength;
    byte[] value = new byte[64];
    int valueLength;
    long changeNumber;

    /** Copies the change in; grows the arrays only when a larger key or value comes by. */
    void set(byte op, byte[] key, byte[] value, long changeNumber) {
        this.op = op;
        this.changeNumber = changeNumber;
        keyLength = key == null ? 0 : key.length;
        if (keyLength > this.key.length) {
            this.key = new byte[keyLength];
        }
        if (keyLength > 0) {
            System.arraycopy(key, 0, this.key, 0, keyLength);
        }
        valueLength = value == null ? 0 : value.length;
        if (valueLength > this.value.length) {
            this.value = new byte[valueLength];
        }
        if (valueLength > 0) {
            System.arraycopy(value, 0, this.value, 0, valueLength);
        }
    }

    /** Turns the entry into the barrier marker of {@code epoch}. */
    void marker(long epoch) {
        op = MARKER;
        changeNumber = epoch;
        keyLength = 0;
        valueLength = 0;
    }

    int encodedLength() {
        return StateChangeFormat.encodedLength(op, keyLength, valueLength);
    }

    void encodeTo(ByteBuffer out) {
        StateChangeFormat.encode(out, op, key, keyLength, value, valueLength);
    }
}

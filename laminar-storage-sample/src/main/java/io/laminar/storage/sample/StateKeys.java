package io.laminar.storage.sample;

import java.nio.charset.StandardCharsets;

/**
 * The keys of the sample's state in a core's store: a one-byte kind, then the name in UTF-8.
 *
 * <ul>
 *   <li>{@code 'a' + key}: the {@link Account} of a key (on core {@code coreOf(key)});</li>
 *   <li>{@code 'b' + batchId}: the {@link BatchMarker} of a batch part applied on this core;</li>
 *   <li>{@code 'p'}: the {@link BatchPart} being applied on this core (a redo record, present only
 *       while a part is applied, or after a crash interrupted it);</li>
 *   <li>{@code 's'}: the {@link SourcePosition} through which this core has applied the file source.</li>
 * </ul>
 * Ordered by kind, so all accounts are one range of the store.
 */
final class StateKeys {

    static final byte ACCOUNT = 'a';
    static final byte BATCH = 'b';
    static final byte PENDING = 'p';
    static final byte SOURCE = 's';

    private StateKeys() {
    }

    static byte[] account(String key) {
        return prefixed(ACCOUNT, key);
    }

    static byte[] batch(String batchId) {
        return prefixed(BATCH, batchId);
    }

    static byte[] pending() {
        return new byte[] {PENDING};
    }

    static byte[] source() {
        return new byte[] {SOURCE};
    }

    /** The name after the kind byte. */
    static String name(byte[] stateKey) {
        return new String(stateKey, 1, stateKey.length - 1, StandardCharsets.UTF_8);
    }

    private static byte[] prefixed(byte kind, String name) {
        var bytes = name.getBytes(StandardCharsets.UTF_8);
        var key = new byte[bytes.length + 1];
        key[0] = kind;
        System.arraycopy(bytes, 0, key, 1, bytes.length);
        return key;
    }
}

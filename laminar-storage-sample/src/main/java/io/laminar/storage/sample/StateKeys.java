package io.laminar.storage.sample;

import java.nio.charset.StandardCharsets;

/**
 * The keys of the sample's state in a core's store: a one-byte kind, then the name in UTF-8.
 *
 * <ul>
 *   <li>{@code 'a' + key}: the {@link Account} of a key (on core {@code coreOf(key)}), in the key
 *       group of {@code key};</li>
 *   <li>{@code 'b' + keyGroup + batchId}: the {@link BatchMarker} that the keys of key group
 *       {@code keyGroup} (two bytes, big-endian) in batch {@code batchId} are applied, in that key
 *       group: the owner's is in the key group of {@code batchId};</li>
 *   <li>{@code 'p'}: the {@link BatchPart}s being applied on this core ({@link PendingParts}, a redo
 *       record, present only while a part is applied, or after a crash interrupted it);</li>
 *   <li>{@code 's'}: the {@link SourcePosition} through which this core has applied the file source.</li>
 * </ul>
 * Ordered by kind, so all accounts are one range of the store. Accounts and markers belong to a key
 * group and move with it when the number of cores changes; {@code 'p'} and {@code 's'} belong to
 * the core and are merged ({@link LedgerPlacement}).
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

    /** The key of the marker of key group {@code keyGroup} (below 65536) in batch {@code batchId}. */
    static byte[] batch(int keyGroup, String batchId) {
        var id = batchId.getBytes(StandardCharsets.UTF_8);
        var key = new byte[id.length + 3];
        key[0] = BATCH;
        key[1] = (byte) (keyGroup >>> 8);
        key[2] = (byte) keyGroup;
        System.arraycopy(id, 0, key, 3, id.length);
        return key;
    }

    /** The key group of a marker's key ({@link #batch}). */
    static int markerKeyGroup(byte[] stateKey) {
        if (stateKey.length < 3) {
            throw new IllegalStateException("the state key of a batch marker has " + stateKey.length
                    + " bytes, fewer than its kind and key group");
        }
        return (stateKey[1] & 0xFF) << 8 | (stateKey[2] & 0xFF);
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

package io.laminar.storage.sample;

import io.laminar.storage.KeyGroups;
import io.laminar.storage.checkpoint.StatePlacement;
import java.util.ArrayList;
import java.util.List;

/**
 * Where each entry of the sample's state belongs when the number of cores changes (see
 * {@link StateKeys}):
 * <ul>
 *   <li>an account {@code 'a' + key} is in the key group of {@code key}, the one
 *       {@code LaminarRuntime.coreOf(key)} routes it by;</li>
 *   <li>a batch marker {@code 'b' + keyGroup + batchId} is in the key group its key names, so the
 *       markers move with the keys they cover, and the owner's with the batch id: a batch sent again
 *       after a rescale is recognised, and applied to exactly the key groups it had not reached;</li>
 *   <li>the source position {@code 's'} belongs to the core: a new core takes the lowest position of
 *       the old cores whose keys it received, and none if one of them had none (it had applied no
 *       chunk). Every line before that position is applied to every key it now holds; lines after it
 *       may be applied already, and are skipped per key when read again (each account is stamped with
 *       the offset of its last line);</li>
 *   <li>the redo record {@code 'p'} belongs to the core: a new core takes the parts the old cores
 *       were applying, each cut down to the keys (and the owner's key group) it now owns, and finishes
 *       them when it starts ({@link CoreLedger#recover}).</li>
 * </ul>
 * Stateless; thread-safe.
 */
final class LedgerPlacement implements StatePlacement {

    @Override
    public int keyGroupOf(byte[] storeKey, int keyGroups) {
        if (storeKey.length == 0) {
            throw new IllegalStateException("the sample's state holds an empty key, which is no kind of its");
        }
        return switch (storeKey[0]) {
            case StateKeys.ACCOUNT -> KeyGroups.keyGroupOf(java.util.Arrays.copyOfRange(storeKey, 1, storeKey.length),
                    keyGroups);
            case StateKeys.BATCH -> StateKeys.markerKeyGroup(storeKey);
            case StateKeys.PENDING, StateKeys.SOURCE -> CORE_LOCAL;
            default -> throw new IllegalStateException("the sample's state holds a key of kind " + storeKey[0]
                    + ", which it never writes");
        };
    }

    @Override
    public byte[] mergeCoreLocal(byte[] storeKey, List<byte[]> values, KeyGroups.Range range, int keyGroups) {
        return switch (storeKey[0]) {
            case StateKeys.SOURCE -> lowestPosition(values);
            case StateKeys.PENDING -> pendingParts(values, range, keyGroups);
            default -> throw new IllegalStateException("not a core-local key of the sample: kind " + storeKey[0]);
        };
    }

    private static byte[] lowestPosition(List<byte[]> values) {
        SourcePosition lowest = null;
        for (var value : values) {
            if (value == null) {
                return null; // that core applied no chunk: the file is read again from the checkpoint's offset
            }
            var position = SourcePosition.decode(value, -1);
            if (lowest != null && !lowest.file().equals(position.file())) {
                throw new IllegalStateException("the old cores applied two source files, " + lowest.file() + " and "
                        + position.file());
            }
            if (lowest == null || position.offset() < lowest.offset()) {
                lowest = position;
            }
        }
        return lowest == null ? null : lowest.encode();
    }

    private static byte[] pendingParts(List<byte[]> values, KeyGroups.Range range, int keyGroups) {
        var kept = new ArrayList<BatchPart>();
        for (var value : values) {
            if (value == null) {
                continue;
            }
            for (var part : PendingParts.decode(value, -1)) {
                var deltas = part.deltas().stream()
                        .filter(delta -> range.contains(KeyGroups.keyGroupOf(
                                delta.key().getBytes(java.nio.charset.StandardCharsets.UTF_8), keyGroups)))
                        .toList();
                boolean owner = part.owner() && range.contains(KeyGroups.keyGroupOf(
                        part.batchId().getBytes(java.nio.charset.StandardCharsets.UTF_8), keyGroups));
                if (!deltas.isEmpty() || owner) {
                    kept.add(new BatchPart(part.batchId(), part.digest(), owner, deltas));
                }
            }
        }
        return kept.isEmpty() ? null : PendingParts.encode(kept);
    }
}

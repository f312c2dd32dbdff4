package io.laminar.storage.state;

import static io.laminar.storage.state.ChangelogAwareStateStoreTest.seed;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link KeyOrder} sorts cells exactly as a comparison sort by unsigned key order would: keys that
 * share their first 8, 16 or more bytes in long runs (its deeper radix passes), keys that differ
 * only by trailing zero bytes and length (its comparison fallback), empty keys. Seeds are logged.
 */
class KeyOrderTest {

    @Test
    void sortsLikeAComparisonSortWhateverTheKeysShare() {
        var random = new Random(seed("keyOrder"));
        for (int round = 0; round < 30; round++) {
            int n = round == 0 ? 70_000 : random.nextInt(5_000); // 16-bit digits from 65,536 keys on
            var cells = new CowTree.Cell[n];
            int shared = random.nextInt(30); // bytes every key starts with
            var common = new byte[shared];
            random.nextBytes(common);
            for (int i = 0; i < n; i++) {
                int length = shared + random.nextInt(12);
                var key = Arrays.copyOf(common, length);
                for (int b = shared; b < length; b++) {
                    key[b] = (byte) (random.nextInt(4) == 0 ? 0 : random.nextInt(3)); // many zeros and ties
                }
                cells[i] = new CowTree.Cell(key, 0, new byte[0], 0);
            }
            var order = KeyOrder.sort(cells, n);
            var expected = new ArrayList<Integer>();
            for (int i = 0; i < n; i++) {
                expected.add(i);
            }
            expected.sort((a, b) -> CowTree.compare(cells[a].key, cells[b].key));
            for (int i = 0; i < n; i++) {
                assertThat(cells[order[i]].key).as("round %d, position %d", round, i)
                        .isEqualTo(cells[expected.get(i)].key);
            }
            assertThat(Arrays.stream(order).distinct().count()).isEqualTo(n);
        }
    }
}

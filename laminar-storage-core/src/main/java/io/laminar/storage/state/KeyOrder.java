package io.laminar.storage.state;

import java.util.Arrays;

/**
 * Sorts cells by key (unsigned lexicographic order) without a comparison per pair in the common
 * case: a radix sort of the keys' first eight bytes ({@link CowTree#prefix}), then a comparison sort
 * of the keys within each run of equal prefixes only. A comparison sort of a million cells reads two
 * key arrays, scattered over the heap, per comparison (some twenty million cache misses); the radix
 * passes read each key once and then work on two primitive arrays.
 *
 * <p>Stateless; thread-safe.
 */
final class KeyOrder {

    private static final int DIGIT_BITS = 16;
    private static final int BUCKETS = 1 << DIGIT_BITS;

    private KeyOrder() {
    }

    /** The indexes {@code 0 .. n-1} of {@code cells} in the order of their keys. */
    static int[] sort(CowTree.Cell[] cells, int n) {
        var prefixes = new long[n];
        var order = new int[n];
        for (int i = 0; i < n; i++) {
            prefixes[i] = CowTree.prefix(cells[i].key);
            order[i] = i;
        }
        if (n > 1) {
            radixSort(prefixes, order, n);
            sortRunsOfEqualPrefixes(cells, prefixes, order, n);
        }
        return order;
    }

    /** Sorts {@code prefixes} as unsigned values, moving {@code order} along: LSD, 16 bits a pass. */
    private static void radixSort(long[] prefixes, int[] order, int n) {
        var prefixesOut = new long[n];
        var orderOut = new int[n];
        var counts = new int[BUCKETS];
        for (int shift = 0; shift < Long.SIZE; shift += DIGIT_BITS) {
            Arrays.fill(counts, 0);
            for (int i = 0; i < n; i++) {
                counts[(int) (prefixes[i] >>> shift) & (BUCKETS - 1)]++;
            }
            if (counts[(int) (prefixes[0] >>> shift) & (BUCKETS - 1)] == n) {
                continue; // every prefix has this digit: the pass would not move anything
            }
            int sum = 0;
            for (int b = 0; b < BUCKETS; b++) {
                int c = counts[b];
                counts[b] = sum;
                sum += c;
            }
            for (int i = 0; i < n; i++) {
                int at = counts[(int) (prefixes[i] >>> shift) & (BUCKETS - 1)]++;
                prefixesOut[at] = prefixes[i];
                orderOut[at] = order[i];
            }
            System.arraycopy(prefixesOut, 0, prefixes, 0, n);
            System.arraycopy(orderOut, 0, order, 0, n);
        }
    }

    /** Keys with the same first eight bytes: ordered by the whole key. */
    private static void sortRunsOfEqualPrefixes(CowTree.Cell[] cells, long[] prefixes, int[] order, int n) {
        int start = 0;
        while (start < n) {
            int end = start + 1;
            while (end < n && prefixes[end] == prefixes[start]) {
                end++;
            }
            if (end - start > 1) {
                var run = new Integer[end - start];
                for (int i = start; i < end; i++) {
                    run[i - start] = order[i];
                }
                Arrays.sort(run, (a, b) -> CowTree.compare(cells[a].key, cells[b].key));
                for (int i = start; i < end; i++) {
                    order[i] = run[i - start];
                }
            }
            start = end;
        }
    }
}

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

    /** Below this many keys a pass takes 8 bits: clearing and summing 2^16 counters would cost more than the keys. */
    private static final int WIDE_DIGITS_FROM = 1 << 16;

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

    /**
     * Sorts {@code prefixes} as unsigned values, moving {@code order} along: LSD, 16 bits a pass (8
     * for fewer than {@value #WIDE_DIGITS_FROM} keys).
     */
    private static void radixSort(long[] prefixes, int[] order, int n) {
        int digitBits = n >= WIDE_DIGITS_FROM ? 16 : 8;
        int buckets = 1 << digitBits;
        var prefixesOut = new long[n];
        var orderOut = new int[n];
        var counts = new int[buckets];
        for (int shift = 0; shift < Long.SIZE; shift += digitBits) {
            Arrays.fill(counts, 0);
            for (int i = 0; i < n; i++) {
                counts[(int) (prefixes[i] >>> shift) & (buckets - 1)]++;
            }
            if (counts[(int) (prefixes[0] >>> shift) & (buckets - 1)] == n) {
                continue; // every prefix has this digit: the pass would not move anything
            }
            int sum = 0;
            for (int b = 0; b < buckets; b++) {
                int c = counts[b];
                counts[b] = sum;
                sum += c;
            }
            for (int i = 0; i < n; i++) {
                int at = counts[(int) (prefixes[i] >>> shift) & (buckets - 1)]++;
                prefixesOut[at] = prefixes[i];
                orderOut[at] = order[i];
            }
            System.arraycopy(prefixesOut, 0, prefixes, 0, n);
            System.arraycopy(orderOut, 0, order, 0, n);
        }
    }

    /**
     * Orders each run of keys with equal bytes {@code [0, depth)} (zero-padded: {@code prefixes}
     * holds bytes {@code [depth - 8, depth)} of each): by the next eight bytes, radix-sorted again,
     * as deep as the keys go; a comparison sort settles what is left (short runs, and keys that
     * differ only by trailing zero bytes and length). Zero-padded bytes order keys as the keys do
     * wherever they differ, since a key whose padding is compared is a prefix of the other.
     */
    private static void sortRunsOfEqualPrefixes(CowTree.Cell[] cells, long[] prefixes, int[] order, int n) {
        sortRuns(cells, prefixes, order, 0, n, Long.BYTES);
    }

    private static final int SHORT_RUN = 16;

    private static void sortRuns(CowTree.Cell[] cells, long[] prefixes, int[] order, int from, int to, int depth) {
        int start = from;
        while (start < to) {
            int end = start + 1;
            while (end < to && prefixes[end] == prefixes[start]) {
                end++;
            }
            if (end - start > 1) {
                sortRun(cells, prefixes, order, start, end, depth);
            }
            start = end;
        }
    }

    /** Orders {@code order[from, to)}, whose keys agree on their (zero-padded) first {@code depth} bytes. */
    private static void sortRun(CowTree.Cell[] cells, long[] prefixes, int[] order, int from, int to, int depth) {
        int longest = 0;
        for (int i = from; i < to; i++) {
            longest = Math.max(longest, cells[order[i]].key.length);
        }
        if (to - from <= SHORT_RUN || longest <= depth) {
            var run = new Integer[to - from];
            for (int i = from; i < to; i++) {
                run[i - from] = order[i];
            }
            Arrays.sort(run, (a, b) -> CowTree.compare(cells[a].key, cells[b].key));
            for (int i = from; i < to; i++) {
                order[i] = run[i - from];
            }
            return;
        }
        int n = to - from;
        var sub = new long[n];
        var subOrder = new int[n];
        for (int i = 0; i < n; i++) {
            subOrder[i] = order[from + i];
            sub[i] = prefixAt(cells[subOrder[i]].key, depth);
        }
        radixSort(sub, subOrder, n);
        System.arraycopy(subOrder, 0, order, from, n);
        System.arraycopy(sub, 0, prefixes, from, n);
        sortRuns(cells, prefixes, order, from, to, depth + Long.BYTES);
    }

    /** Bytes {@code [offset, offset + 8)} of {@code key}, big-endian, zero-padded. */
    static long prefixAt(byte[] key, int offset) {
        long p = 0;
        for (int i = offset; i < offset + Long.BYTES; i++) {
            p = p << 8 | (i < key.length ? key[i] & 0xFF : 0);
        }
        return p;
    }
}

package io.laminar.storage.state;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The hash index beside a {@link CowTree}: every key of the live tree to its {@link CowTree.Cell},
 * so that point reads and overwrites find their cell without descending the tree (about four memory
 * reads: the table slot, the cell, its key, its value, against a dozen or more key comparisons
 * through the tree's levels).
 *
 * <p>Open addressing with linear probing over an array of cells, kept at most half full, so a hit
 * takes about 1.5 probes. Each cell stores its key's hash: probing compares hashes first and reads
 * a key only on a hash match, and growing rehashes without reading keys. Removal shifts the
 * following cells of the run back (no tombstones), so lookups never slow down with deletes.
 *
 * <p>The hash is a per-process seeded 64-bit multiply-xorshift over the key's bytes, eight at a
 * time. It is fast, not cryptographic: keys crafted to collide make probing slower (never wrong).
 *
 * <p>Not thread-safe, and never shared: it belongs to the writer of one tree. Snapshots do not see
 * it (they read the tree's frozen nodes), so it is mutated in place.
 */
final class PointIndex {

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INTS = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long SEED = ThreadLocalRandom.current().nextLong();
    private static final long MULTIPLIER = 0x9E3779B97F4A7C15L;

    private static final int MIN_CAPACITY = 16;
    /** The largest power-of-two array length. */
    private static final int MAX_CAPACITY = 1 << 30;
    /** At the largest table, a fill beyond 7/8 would make probing crawl: refuse more keys instead. */
    static final int MAX_KEYS = MAX_CAPACITY - (MAX_CAPACITY >>> 3);
    /** {@link #of} fills a big table one region of 2^13 slots (32 KiB of references) at a time. */
    private static final int REGION_SLOTS_BITS = 13;

    private CowTree.Cell[] table;
    private int count;

    /** An empty index with room for {@code expectedKeys} keys before it grows. */
    PointIndex(long expectedKeys) {
        table = new CowTree.Cell[capacityFor(expectedKeys)];
    }

    private static int capacityFor(long keys) {
        long wanted = Math.max(MIN_CAPACITY, keys * 2);
        return wanted >= MAX_CAPACITY ? MAX_CAPACITY : Integer.highestOneBit((int) wanted - 1) << 1;
    }

    /**
     * An index of the first {@code size} of {@code cells}, of distinct keys, whose hashes are the
     * first {@code size} of {@code hashes} (the arrays are not changed): O(size), no cell or key is
     * read. The cells are first grouped by the region of the table their hash leads to (a counting
     * sort over the hashes), then inserted region by region: inserted in key order, each would land
     * at a random slot of a table of many megabytes, a cache miss apiece (about 350 ns per key
     * measured here on a state of a million keys, against tens of nanoseconds grouped).
     */
    static PointIndex of(CowTree.Cell[] cells, int[] hashes, int size) {
        checkSize(size);
        var index = new PointIndex(size);
        var table = index.table;
        int mask = table.length - 1;
        int regionBits = Math.max(0, Integer.numberOfTrailingZeros(table.length) - REGION_SLOTS_BITS);
        if (regionBits == 0) {
            for (int i = 0; i < size; i++) {
                insert(table, cells[i], hashes[i] & mask);
            }
            index.count = size;
            return index;
        }
        int shift = Integer.numberOfTrailingZeros(table.length) - regionBits;
        var starts = new int[(1 << regionBits) + 1];
        for (int i = 0; i < size; i++) {
            starts[((hashes[i] & mask) >>> shift) + 1]++;
        }
        for (int r = 1; r < starts.length; r++) {
            starts[r] += starts[r - 1];
        }
        var grouped = new CowTree.Cell[size];
        var groupedHashes = new int[size];
        for (int i = 0; i < size; i++) {
            int at = starts[(hashes[i] & mask) >>> shift]++;
            grouped[at] = cells[i];
            groupedHashes[at] = hashes[i];
        }
        for (int i = 0; i < size; i++) {
            insert(table, grouped[i], groupedHashes[i] & mask);
        }
        index.count = size;
        return index;
    }

    private static void checkSize(long size) {
        if (size > MAX_KEYS) {
            throw new IllegalStateException("a state store holds at most " + MAX_KEYS + " keys, but this state has "
                    + size + "; split the state over more cores or operators");
        }
    }

    /** The hash of {@code key} that cells store and the index probes with. */
    static int hash(byte[] key) {
        int n = key.length;
        long h = SEED ^ (n * MULTIPLIER);
        int i = 0;
        for (; i + Long.BYTES <= n; i += Long.BYTES) {
            h = (h ^ (long) LONGS.get(key, i)) * MULTIPLIER;
            h ^= h >>> 32;
        }
        if (i + Integer.BYTES <= n) {
            h = (h ^ ((int) INTS.get(key, i) & 0xFFFF_FFFFL)) * MULTIPLIER;
            i += Integer.BYTES;
        }
        for (; i < n; i++) {
            h = (h ^ (key[i] & 0xFF)) * MULTIPLIER;
        }
        // MurmurHash3's finalizer: every input bit reaches the low bits the table is indexed by.
        h ^= h >>> 33;
        h *= 0xFF51AFD7ED558CCDL;
        h ^= h >>> 33;
        h *= 0xC4CEB9FE1A85EC53L;
        h ^= h >>> 33;
        return (int) h;
    }

    int size() {
        return count;
    }

    /** The cell of {@code key} ({@code hash} is {@link #hash}{@code (key)}), or null. */
    CowTree.Cell find(byte[] key, int hash) {
        var t = table;
        int mask = t.length - 1;
        for (int i = hash & mask; ; i = (i + 1) & mask) {
            var cell = t[i];
            if (cell == null) {
                return null;
            }
            if (cell.hash == hash && Arrays.equals(cell.key, key)) {
                return cell;
            }
        }
    }

    /** Adds {@code cell}, whose key the index must not hold yet. */
    void add(CowTree.Cell cell) {
        if (count >= MAX_KEYS) {
            throw new IllegalStateException("a state store holds at most " + MAX_KEYS
                    + " keys; split the state over more cores or operators");
        }
        if ((count + 1) * 2L > table.length && table.length < MAX_CAPACITY) {
            grow();
        }
        insert(table, cell);
        count++;
    }

    /** Removes {@code cell}, which the index must hold. */
    void remove(CowTree.Cell cell) {
        var t = table;
        int mask = t.length - 1;
        int hole = slotOf(cell);
        t[hole] = null;
        // Knuth's algorithm R: move back every later cell of the run whose home slot is not
        // cyclically within (hole, j], so that no probe for it meets the hole first.
        for (int j = (hole + 1) & mask; t[j] != null; j = (j + 1) & mask) {
            int home = t[j].hash & mask;
            boolean stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
            if (!stays) {
                t[hole] = t[j];
                t[j] = null;
                hole = j;
            }
        }
        count--;
    }

    private int slotOf(CowTree.Cell cell) {
        var t = table;
        int mask = t.length - 1;
        for (int i = cell.hash & mask; ; i = (i + 1) & mask) {
            if (t[i] == cell) {
                return i;
            }
            if (t[i] == null) {
                throw new IllegalStateException("the point index lost the cell of key " + StateSnapshot.hex(cell.key)
                        + " (a bug: report it)");
            }
        }
    }

    private static void insert(CowTree.Cell[] t, CowTree.Cell cell) {
        insert(t, cell, cell.hash & (t.length - 1));
    }

    /** Puts {@code cell} into the first free slot from {@code home} on. */
    private static void insert(CowTree.Cell[] t, CowTree.Cell cell, int home) {
        int mask = t.length - 1;
        int i = home;
        while (t[i] != null) {
            i = (i + 1) & mask;
        }
        t[i] = cell;
    }

    private void grow() {
        var old = table;
        var t = new CowTree.Cell[old.length * 2];
        for (var cell : old) {
            if (cell != null) {
                insert(t, cell);
            }
        }
        table = t;
    }

    /**
     * For tests: verifies that the index holds exactly the cells under {@code root} (by identity),
     * each reachable by probing; throws {@link IllegalStateException} naming the first mismatch.
     */
    void check(CowTree.Node root, long size) {
        if (count != size) {
            throw new IllegalStateException("the point index holds " + count + " keys, the tree " + size);
        }
        CowTree.forEachCell(root, cell -> {
            if (cell.hash != hash(cell.key)) {
                throw new IllegalStateException("the cell of " + StateSnapshot.hex(cell.key) + " has a stale hash");
            }
            if (find(cell.key, cell.hash) != cell) {
                throw new IllegalStateException("the point index does not lead to the tree's cell of "
                        + StateSnapshot.hex(cell.key));
            }
        });
    }
}

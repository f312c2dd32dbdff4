package io.laminar.storage.checkpoint;

import io.laminar.storage.concurrent.Threads;
import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.state.StateSnapshot;
import io.laminar.storage.state.ValueRangeVisitor;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Builds the states of a new set of cores out of the states of an old one, by key group: each new
 * core takes, from each of its {@link Piece}s, the keyed entries of one old state whose key group
 * (by the {@link StatePlacement}) lies in the piece's range; core-local entries are never taken.
 * The entries are merged in key order straight into a bulk-loaded store (the old states' key and
 * value arrays are shared, not copied: the old states are frozen, {@link StateSnapshot#freeze}, and
 * the new stores never write into a shared value array; an old state that cannot be frozen has its
 * values copied), the new cores in parallel (threads {@code laminar-regroup-N}, as many as
 * processors, ended before {@link #build} returns).
 *
 * <p>Every keyed entry of an old state must fall in exactly one piece that reads that state (the
 * pieces of a state cover the key groups its core owned): otherwise the placement does not match
 * the application's routing, and {@link Misplaced} names the entry rather than drop it.
 *
 * <p>Stateless; {@link #build} may run on any thread.
 */
final class Regrouping {

    /** Keyed entries of old state {@code source} in key groups {@code first} (inclusive) to {@code end}. */
    record Piece(int source, int first, int end) {
        boolean holds(int group) {
            return group >= first && group < end;
        }
    }

    /** A keyed entry of an old state that no piece reading that state takes. */
    static final class Misplaced extends IOException {
        private static final long serialVersionUID = 1L;
        final int source;
        final int keyGroup;

        Misplaced(int source, byte[] key, int keyGroup) {
            super("an entry of old state " + source + " (key " + HexFormat.of().formatHex(key, 0,
                    Math.min(key.length, 32)) + (key.length > 32 ? "..." : "") + ") belongs to key group " + keyGroup
                    + ", which that state's core did not own");
            this.source = source;
            this.keyGroup = keyGroup;
        }
    }

    /** The new states and the logical bytes (keys and values) of each. */
    record Result(List<ChangelogAwareStateStore> stores, long[] logicalBytes) {
    }

    private Regrouping() {
    }

    /**
     * Builds one store per element of {@code targets} (each a list of pieces of {@code sources}).
     *
     * @throws Misplaced if a keyed entry of a source falls in no piece reading it
     */
    static Result build(List<StateSnapshot> sources, List<List<Piece>> targets, StatePlacement placement,
            int keyGroups) throws IOException {
        var taken = new long[targets.size()][];
        var results = new ChangelogAwareStateStore[targets.size()];
        var bytes = new long[targets.size()];
        // A source no store goes on from hands out its own value ranges, which the new stores share
        // (and never write into); another one's values are copied.
        boolean anyShared = false;
        for (var source : sources) {
            anyShared |= source.freeze();
        }
        boolean sharing = anyShared;
        runParallel(targets.size(), target -> {
            var counts = new long[sources.size() + 1];
            var loader = sharing ? ChangelogAwareStateStore.bulkLoaderSharingValues()
                    : ChangelogAwareStateStore.bulkLoader();
            long[] logical = {0};
            merge(sources, targets.get(target), placement, keyGroups, counts, (key, array, offset, length) -> {
                loader.onPut(key, array, offset, length);
                logical[0] += key.length + (long) length;
            });
            results[target] = loader.build(ChangelogSink.NONE);
            bytes[target] = logical[0];
            taken[target] = counts;
        });
        var perSource = new long[sources.size()];
        for (var counts : taken) {
            for (int s = 0; s < sources.size(); s++) {
                perSource[s] += counts[s];
            }
        }
        check(sources, targets, placement, keyGroups, perSource);
        return new Result(List.of(results), bytes);
    }

    /**
     * Checks that every keyed entry of every source falls in a piece of {@code targets} that reads
     * that source, without building anything.
     */
    static void check(List<StateSnapshot> sources, List<List<Piece>> targets, StatePlacement placement,
            int keyGroups) throws IOException {
        check(sources, targets, placement, keyGroups, null);
    }

    /** With {@code taken} (per source, the entries the pieces took; null: unknown) a source is walked only if short. */
    private static void check(List<StateSnapshot> sources, List<List<Piece>> targets, StatePlacement placement,
            int keyGroups, long[] taken) throws IOException {
        runParallel(sources.size(), source -> {
            if (taken != null && taken[source] == sources.get(source).size()) {
                return;
            }
            var pieces = new ArrayList<Piece>();
            for (var target : targets) {
                for (var piece : target) {
                    if (piece.source() == source) {
                        pieces.add(piece);
                    }
                }
            }
            Misplaced[] misplaced = {null};
            sources.get(source).forEach((key, value) -> {
                if (misplaced[0] != null) {
                    return;
                }
                int group = groupOf(placement, key, keyGroups);
                if (group == StatePlacement.CORE_LOCAL) {
                    return;
                }
                boolean held = false;
                for (var piece : pieces) {
                    held |= piece.holds(group);
                }
                if (!held) {
                    misplaced[0] = new Misplaced(source, key.clone(), group);
                }
            });
            if (misplaced[0] != null) {
                throw misplaced[0];
            }
        });
    }

    private static int groupOf(StatePlacement placement, byte[] key, int keyGroups) {
        int group = placement.keyGroupOf(key, keyGroups);
        if (group != StatePlacement.CORE_LOCAL && (group < 0 || group >= keyGroups)) {
            throw new IllegalStateException("the state placement " + placement + " put a key in key group " + group
                    + ", but there are " + keyGroups);
        }
        return group;
    }

    /**
     * Passes the entries of {@code pieces} to {@code sink} in ascending unsigned key order (the
     * pieces' sources hold disjoint keys), as {@link StateSnapshot#forEachShared} hands them out: the
     * sources' key arrays, and a frozen source's own value ranges or copies. Counts per source the
     * entries taken. A single piece is streamed; several are first gathered (by reference), then
     * merged.
     */
    static void merge(List<StateSnapshot> sources, List<Piece> pieces, StatePlacement placement,
            int keyGroups, long[] counts, ValueRangeVisitor sink) {
        if (pieces.size() == 1) {
            var piece = pieces.get(0);
            sources.get(piece.source()).forEachShared((key, array, offset, length) -> {
                int group = groupOf(placement, key, keyGroups);
                if (group != StatePlacement.CORE_LOCAL && piece.holds(group)) {
                    sink.visit(key, array, offset, length);
                    counts[piece.source()]++;
                }
            });
            return;
        }
        var runs = new ArrayList<Run>();
        for (var piece : pieces) {
            var run = new Run(piece.source());
            sources.get(piece.source()).forEachShared((key, array, offset, length) -> {
                int group = groupOf(placement, key, keyGroups);
                if (group != StatePlacement.CORE_LOCAL && piece.holds(group)) {
                    run.add(key, array, offset, length);
                }
            });
            if (!run.keys.isEmpty()) {
                runs.add(run);
            }
        }
        while (!runs.isEmpty()) {
            int min = 0;
            for (int i = 1; i < runs.size(); i++) {
                if (Arrays.compareUnsigned(runs.get(i).key(), runs.get(min).key()) < 0) {
                    min = i;
                }
            }
            var run = runs.get(min);
            int next = run.next;
            sink.visit(run.key(), run.arrays.get(next), run.offsets[next], run.lengths[next]);
            counts[run.source]++;
            if (++run.next == run.keys.size()) {
                runs.remove(min);
            }
        }
    }

    /** The entries one piece takes, in key order, and how far the merge got. */
    private static final class Run {
        final int source;
        final List<byte[]> keys = new ArrayList<>();
        final List<byte[]> arrays = new ArrayList<>();
        int[] offsets = new int[16];
        int[] lengths = new int[16];
        int next;

        Run(int source) {
            this.source = source;
        }

        void add(byte[] key, byte[] array, int offset, int length) {
            int at = keys.size();
            if (at == offsets.length) {
                offsets = Arrays.copyOf(offsets, at * 2);
                lengths = Arrays.copyOf(lengths, at * 2);
            }
            keys.add(key);
            arrays.add(array);
            offsets[at] = offset;
            lengths[at] = length;
        }

        byte[] key() {
            return keys.get(next);
        }
    }

    /** Work on item {@code index}. */
    @FunctionalInterface
    interface Task {
        void run(int index) throws IOException;
    }

    /** Runs {@code task} for 0 to {@code count - 1} on up to as many threads as processors; the first failure is thrown. */
    static void runParallel(int count, Task task) throws IOException {
        if (count == 0) {
            return;
        }
        int threads = Math.max(1, Math.min(count, Runtime.getRuntime().availableProcessors()));
        if (threads == 1) {
            for (int i = 0; i < count; i++) {
                task.run(i);
            }
            return;
        }
        var pool = Executors.newFixedThreadPool(threads, Threads.numberedDaemonFactory("laminar-regroup-"));
        try {
            var futures = new ArrayList<Future<?>>();
            for (int i = 0; i < count; i++) {
                int index = i;
                futures.add(pool.submit(() -> {
                    task.run(index);
                    return null;
                }));
            }
            for (var future : futures) {
                try {
                    future.get();
                } catch (ExecutionException e) {
                    throw Causes.asIOException(e.getCause());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while regrouping state by key group");
        } finally {
            pool.shutdownNow();
            try {
                pool.awaitTermination(60, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

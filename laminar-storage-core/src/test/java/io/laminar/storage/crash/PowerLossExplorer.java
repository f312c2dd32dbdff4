package io.laminar.storage.crash;

import io.laminar.storage.io.DiskModel;
import io.laminar.storage.io.PowerLossFileIO;
import io.laminar.storage.io.PowerLossTrace;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;

/**
 * Runs a {@link Workload} once through a {@link PowerLossFileIO}, then cuts the power at every sync
 * point of its trace (just before and just after each {@code force} and directory sync) and at
 * random write boundaries, several times per point in seed-chosen modes, writes each crash image to
 * a scratch directory and lets the workload's {@link Checker} recover and check it.
 */
final class PowerLossExplorer {

    /** A workload: runs real code through the given FileIO, noting acknowledgements with {@link PowerLossFileIO#mark}. */
    interface Workload {
        String name();

        void run(PowerLossFileIO io, Path root, long seed) throws Exception;

        /** A checker for one pass over the trace; it is told every note before the point it checks. */
        Checker checker(long seed);
    }

    /** Recovers a crash image and throws if the result breaks a promise. */
    interface Checker {
        void onMark(Object note);

        void check(Path root) throws Exception;
    }

    /** What a run found. */
    record Result(String workload, int traceLength, int points, long states, List<String> violations) {
    }

    private final Path scratch;
    private final Path failures;

    PowerLossExplorer(Path scratch, Path failures) {
        this.scratch = scratch;
        this.failures = failures;
    }

    Result explore(Workload workload, long seed, int budget) throws Exception {
        var recording = scratch.resolve(workload.name() + "-recorded");
        var io = new PowerLossFileIO(recording);
        workload.run(io, recording, seed);
        var trace = io.trace();
        deleteTree(recording);
        var random = new Random(seed ^ workload.name().hashCode());
        var points = new TreeSet<Integer>();
        var writes = new ArrayList<Integer>();
        for (int i = 0; i < trace.size(); i++) {
            if (trace.isSync(i)) {
                points.add(i);
                points.add(i + 1);
            } else if (trace.isWrite(i)) {
                writes.add(i + 1);
            }
        }
        int syncPoints = points.size();
        for (int i = 0; i < syncPoints / 2 && !writes.isEmpty(); i++) {
            points.add(writes.get(random.nextInt(writes.size())));
        }
        points.add(trace.size());
        var chosen = new ArrayList<>(points);
        while (chosen.size() > budget) {
            chosen.remove(random.nextInt(chosen.size()));
        }
        var checker = workload.checker(seed);
        // The library logs every recovery at INFO and every torn tail at WARN: keep each state's log,
        // and show it only with a violation.
        var stateLog = new java.io.ByteArrayOutputStream();
        var err = System.err;
        System.setErr(new java.io.PrintStream(stateLog, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            return exploreFrom(workload, seed, budget, trace, chosen, checker, stateLog);
        } finally {
            System.setErr(err);
        }
    }

    private Result exploreFrom(Workload workload, long seed, int budget, PowerLossTrace trace, List<Integer> chosen,
            Checker checker, java.io.ByteArrayOutputStream stateLog) throws Exception {
        var model = new DiskModel();
        int applied = 0;
        long states = 0;
        var violations = new ArrayList<String>();
        int perPoint = Math.max(1, budget / chosen.size());
        int extra = budget - perPoint * chosen.size();
        for (int p = 0; p < chosen.size(); p++) {
            int point = chosen.get(p);
            for (; applied < point; applied++) {
                var op = trace.get(applied);
                model.apply(op);
                if (op instanceof PowerLossTrace.Op.Mark mark) {
                    checker.onMark(mark.note());
                }
            }
            int n = model.hasPendingChanges() ? perPoint + (p < extra ? 1 : 0) : 1;
            for (int k = 0; k < n; k++) {
                long stateSeed = mix(seed, workload.name().hashCode(), point, k);
                var image = model.crash(stateSeed);
                var dir = scratch.resolve(workload.name() + "-state");
                image.writeTo(dir);
                stateLog.reset();
                states++;
                try {
                    checker.check(dir);
                } catch (Throwable e) {
                    var kept = failures.resolve(workload.name() + "-" + point + "-" + stateSeed);
                    deleteTree(kept);
                    Files.createDirectories(kept.getParent());
                    image.writeTo(kept);
                    var stack = new StringWriter();
                    e.printStackTrace(new PrintWriter(stack));
                    violations.add(workload.name() + " at trace point " + point + " of " + trace.size()
                            + " (after " + (point > 0 ? trace.get(point - 1) : "nothing") + "), " + image.cut()
                            + ": " + e + "\n  image kept in " + kept + "\n" + stack + "\n  log of the recovery:\n" + stateLog);
                } finally {
                    deleteTree(dir);
                }
            }
        }
        return new Result(workload.name(), trace.size(), chosen.size(), states, violations);
    }

    static long mix(long seed, long a, long b, long c) {
        long h = seed;
        for (long v : new long[] {a, b, c}) {
            h = (h ^ v) * 0x9E3779B97F4A7C15L;
            h ^= h >>> 31;
        }
        return h;
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            for (var path : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.delete(path);
            }
        }
    }
}

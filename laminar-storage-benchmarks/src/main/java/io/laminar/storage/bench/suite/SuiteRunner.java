package io.laminar.storage.bench.suite;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.ClosedLoop;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.bench.Settings;
import io.laminar.storage.wal.WalIoBackend;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * What the {@code wal}, {@code percore} and {@code checkpoint} commands share: option parsing, the benchmark directory,
 * running the scenarios, the table, the targets and the JSON file.
 */
public final class SuiteRunner {

    /**
     * One suite.
     *
     * @param command   the command-line name ({@code wal}, {@code percore})
     * @param title     printed first
     * @param scenarios in the order they run
     * @param ratios    sets comparison ratios on the rows once all ran (may do nothing)
     * @param targets   the targets checked against the rows
     * @param table     prints the rows
     * @param backends  whether the suite takes {@code --backend} (laminar measured per WAL I/O backend)
     */
    public record Suite(String command, String title, List<Scenario> scenarios, Consumer<List<Result>> ratios,
                        Function<List<Result>, List<Targets.Check>> targets,
                        BiConsumer<List<Result>, PrintStream> table, boolean backends) {

        /** A suite without {@code --backend}: laminar runs with the default backend, file-channel. */
        public Suite(String command, String title, List<Scenario> scenarios, Consumer<List<Result>> ratios,
                     Function<List<Result>, List<Targets.Check>> targets, BiConsumer<List<Result>, PrintStream> table) {
            this(command, title, scenarios, ratios, targets, table, false);
        }

        List<String> scenarioNames() {
            return scenarios.stream().map(Scenario::name).toList();
        }
    }

    private SuiteRunner() {
    }

    /** The backends {@code --backend} can name: those that run as chosen (no fallback), then {@code all}. */
    static final List<WalIoBackend> MEASURED_BACKENDS = List.of(WalIoBackend.FILE_CHANNEL, WalIoBackend.DIRECT,
            WalIoBackend.IO_URING);
    /** How to run the io-uring backend, which needs the foreign function API. */
    static final String IO_URING_NEEDS = "the io-uring backend needs Java 22 or newer and this JVM is Java "
            + Runtime.version().feature() + ": run the jar with Temurin 25, e.g. "
            + "/usr/lib/jvm/temurin-25-jdk-amd64/bin/java -jar laminar-storage-benchmarks.jar wal --backend all";

    /** {@link #MEASURED_BACKENDS} this JVM can run: io-uring only on Java 22+ (a note on stderr otherwise). */
    static List<WalIoBackend> runnableBackends() {
        if (Runtime.version().feature() >= 22) {
            return MEASURED_BACKENDS;
        }
        System.err.println("note: io-uring is not measured in this run: " + IO_URING_NEEDS);
        return MEASURED_BACKENDS.stream().filter(b -> b != WalIoBackend.IO_URING).toList();
    }

    /** Command-line options shared by the suites. */
    private record Options(boolean quick, Path json, Path dir, Set<String> scenarios, List<WalIoBackend> backends) {

        static Options parse(String[] args, List<String> names, boolean backendOption) {
            boolean quick = false;
            Path json = null;
            Path dir = null;
            List<WalIoBackend> backends = null;
            var scenarios = new LinkedHashSet<String>();
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--quick" -> quick = true;
                    case "--json" -> json = Path.of(value(args, ++i, "--json"));
                    case "--dir" -> dir = Path.of(value(args, ++i, "--dir"));
                    case "--scenario" -> {
                        var name = value(args, ++i, "--scenario");
                        if (!names.contains(name)) {
                            throw new IllegalArgumentException("unknown scenario '" + name + "'; choose from " + names);
                        }
                        scenarios.add(name);
                    }
                    case "--backend" -> {
                        if (!backendOption) {
                            throw new IllegalArgumentException("--backend is an option of the wal suite only");
                        }
                        backends = backends(value(args, ++i, "--backend"));
                    }
                    default -> throw new IllegalArgumentException("unknown option '" + args[i] + "'");
                }
            }
            if (backends == null) {
                backends = backendOption ? runnableBackends() : List.of(WalIoBackend.FILE_CHANNEL);
            }
            return new Options(quick, json, dir, scenarios, backends);
        }

        private static List<WalIoBackend> backends(String value) {
            if (value.equals("all")) {
                return runnableBackends();
            }
            for (var backend : MEASURED_BACKENDS) {
                if (backend.propertyValue().equals(value)) {
                    if (backend == WalIoBackend.IO_URING && Runtime.version().feature() < 22) {
                        throw new IllegalArgumentException(IO_URING_NEEDS.replace("--backend all", "--backend io-uring"));
                    }
                    return List.of(backend);
                }
            }
            throw new IllegalArgumentException("unknown backend '" + value + "'; choose from "
                    + MEASURED_BACKENDS.stream().map(WalIoBackend::propertyValue).toList() + " or all");
        }

        private static String value(String[] args, int i, String option) {
            if (i >= args.length) {
                throw new IllegalArgumentException(option + " needs a value");
            }
            return args[i];
        }
    }

    /** Runs the suite; returns the process exit code (1 if a scenario failed, 2 for bad arguments). */
    static int run(Suite suite, String[] args) throws Exception {
        Options options;
        try {
            options = Options.parse(args, suite.scenarioNames(), suite.backends());
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage() + "\n" + BenchMain.usage());
            return 2;
        }
        var settings = options.quick() ? Settings.quickRun() : Settings.defaultRun();
        var base = options.dir() != null ? options.dir() : Path.of(System.getProperty("java.io.tmpdir"));
        Files.createDirectories(base);
        // Only this subdirectory is ever deleted, never what --dir points at.
        var root = Files.createTempDirectory(base, "laminar-bench-");
        var cleanup = new Thread(() -> BenchContext.deleteTree(root), "bench-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);

        var fileSystem = Files.getFileStore(root).type();
        System.out.printf("%s (%s run): Java %s, %d CPUs, files in %s (%s)%n", suite.title(),
                options.quick() ? "quick" : "default", System.getProperty("java.version"),
                Runtime.getRuntime().availableProcessors(), root, fileSystem);
        if (fileSystem.equals("tmpfs") || fileSystem.equals("ramfs")) {
            System.out.println("WARNING: " + root + " is in memory (" + fileSystem + "): fdatasync does nothing there, "
                    + "so the durable numbers mean nothing. Pass --dir on a real disk.");
        }
        double timer = ClosedLoop.timerOverheadNanos();
        System.out.printf("every latency sample includes about %.0f ns of System.nanoTime() overhead%n%n", timer);
        warmHarness();

        if (suite.backends()) {
            System.out.println("laminar WAL I/O backends, measured side by side: "
                    + options.backends().stream().map(WalIoBackend::propertyValue).toList());
        }
        var context = new BenchContext(settings, root, options.backends());
        var results = new ArrayList<Result>();
        var failed = new ArrayList<String>();
        long suiteStart = System.nanoTime();
        try {
            for (var scenario : suite.scenarios()) {
                if (!options.scenarios().isEmpty() && !options.scenarios().contains(scenario.name())) {
                    continue;
                }
                long start = System.nanoTime();
                System.out.printf("running %s ...%n", scenario.name());
                try {
                    var rows = scenario.run(context);
                    results.addAll(rows);
                    System.out.printf("  %d rows in %.1f s%n", rows.size(), (System.nanoTime() - start) / 1e9);
                } catch (Exception | LinkageError e) {
                    failed.add(scenario.name());
                    System.out.println("  FAILED: " + e);
                    e.printStackTrace(System.out);
                }
            }
        } finally {
            BenchContext.deleteTree(root);
        }

        suite.ratios().accept(results);
        System.out.printf("%nresults (%s run, %.0f s; latencies per operation in microseconds, MB = 10^6 bytes)%n",
                options.quick() ? "quick" : "default", (System.nanoTime() - suiteStart) / 1e9);
        suite.table().accept(results, System.out);
        System.out.println();
        Report.printTargets(suite.targets().apply(results), System.out);
        if (options.json() != null) {
            Report.writeJson(results, options.json());
            System.out.println("\nwrote " + results.size() + " rows to " + options.json().toAbsolutePath());
        }
        if (!failed.isEmpty()) {
            System.out.println("\nFAILED scenarios: " + failed);
            return 1;
        }
        return 0;
    }

    /**
     * Runs the measuring loop briefly with several kinds of operation, so its call to the operation
     * is already megamorphic when the first system is measured: every system then pays the same
     * dispatch cost, whatever the order in which they run.
     */
    private static void warmHarness() throws Exception {
        long[] sink = new long[1];
        List<ClosedLoop.Op> ops = List.of(() -> sink[0]++, () -> sink[0]--, () -> sink[0] ^= 1, () -> sink[0] += 2);
        for (int round = 0; round < 3; round++) {
            for (var op : ops) {
                ClosedLoop.run(1, t -> op, ClosedLoop.Phase.of(Duration.ZERO), ClosedLoop.Phase.of(Duration.ofMillis(30)));
            }
        }
    }
}

package io.laminar.storage.bench.suite;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.Payloads;
import io.laminar.storage.bench.RawPrewritten;
import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalOptions;
import io.laminar.storage.wal.WriteAheadLog;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The {@code wal-slots} command: the durable comparison of the {@code wal} suite for a machine that
 * is not idle. Every system stays open, and the systems take turns in short slots (200 ms by default)
 * for many rounds, each round in a rotated order; each slot's rate is divided by the {@code pwrite}
 * slot of the same round, and the median of those ratios is reported with its quartiles. Other
 * processes' load changes over seconds, so neighbouring slots see about the same machine, where the
 * {@code wal} suite's three 5-second runs per system do not.
 *
 * <p>Systems: the disk-ceiling primitives of {@link RawPrewritten} (one frame per sync with one
 * writer, 64 with more) and laminar with each backend this JVM runs, with {@code --writers} closed-loop
 * writers: {@link SyncPolicy#everyAppend()} for one writer, the default group commit with
 * {@code appendDurable(..).join()} for more. 128 B records.
 */
final class WalSlots {

    private static final int RECORD_BYTES = 128;
    private static final int FRAME_BYTES = (24 + RECORD_BYTES + 7) & -8;
    private static final long FILE_BYTES = 64L << 20;
    private static final int GROUP_BATCH = 64;

    private WalSlots() {
    }

    /** One system: how to run one operation, how many records an operation is, whether it is single-threaded. */
    private record Contender(String name, ThrowingRunnable op, int recordsPerOp, boolean oneThread) {
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    static int run(String[] args) throws Exception {
        int writers = 1;
        int rounds = 60;
        long slotMillis = 200;
        Path parent = Path.of(System.getProperty("java.io.tmpdir"));
        try {
            for (int i = 0; i < args.length; i += 2) {
                String value = i + 1 < args.length ? args[i + 1] : null;
                switch (args[i]) {
                    case "--writers" -> writers = Integer.parseInt(value);
                    case "--rounds" -> rounds = Integer.parseInt(value);
                    case "--slot-millis" -> slotMillis = Long.parseLong(value);
                    case "--dir" -> parent = Path.of(value);
                    default -> throw new IllegalArgumentException("unknown option '" + args[i] + "'");
                }
            }
            if (writers < 1 || rounds < 4 || slotMillis < 10) {
                throw new IllegalArgumentException("--writers must be at least 1, --rounds at least 4 and "
                        + "--slot-millis at least 10, but were " + writers + ", " + rounds + ", " + slotMillis);
            }
        } catch (RuntimeException e) {
            System.err.println("wal-slots: " + e.getMessage() + "\n" + BenchMain.usage());
            return 2;
        }
        Files.createDirectories(parent);
        var dir = Files.createTempDirectory(parent, "laminar-wal-slots-");
        var closers = new ArrayList<AutoCloseable>();
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        try {
            var systems = open(dir, writers, closers);
            BenchContext.settleAfterOpen();
            System.out.printf("wal-slots: %d writer(s), %d rounds of %d ms slots, Java %s, %d CPUs, load %s%n",
                    writers, rounds, slotMillis, System.getProperty("java.version"),
                    Runtime.getRuntime().availableProcessors(), loadAverage());
            var rates = new LinkedHashMap<String, double[]>();
            for (var system : systems) {
                rates.put(system.name(), new double[rounds]);
            }
            for (int round = 0; round < rounds; round++) {
                for (int k = 0; k < systems.size(); k++) {
                    var system = systems.get((k + round) % systems.size());
                    rates.get(system.name())[round] = slot(system, system.oneThread() ? 1 : writers, slotMillis, pool);
                }
            }
            report(rates, rounds);
            System.out.printf("load at the end: %s%n", loadAverage());
        } finally {
            pool.shutdownNow();
            for (var closer : closers) {
                closer.close();
            }
            BenchContext.deleteTree(dir);
        }
        return 0;
    }

    private static List<Contender> open(Path dir, int writers, List<AutoCloseable> closers) throws Exception {
        byte[] payload = Payloads.random(RECORD_BYTES, 128);
        int batch = writers == 1 ? 1 : GROUP_BATCH;
        var systems = new ArrayList<Contender>();
        for (var primitive : RawPrewritten.Primitive.runnable()) {
            var raw = new RawPrewritten(dir.resolve("raw-" + primitive.label()), FILE_BYTES, primitive, payload,
                    FRAME_BYTES, batch);
            closers.add(raw);
            systems.add(new Contender("raw-" + primitive.label(), raw::writeBatch, batch, true));
        }
        for (var backend : SuiteRunner.runnableBackends()) {
            var policy = writers == 1 ? SyncPolicy.everyAppend() : SyncPolicy.groupCommit(Duration.ofMillis(1), 4096);
            var wal = WriteAheadLog.open(dir.resolve(backend.propertyValue()), WalOptions.builder()
                    .segmentSize(FILE_BYTES).syncPolicy(policy).ioBackend(backend).build());
            closers.add(wal);
            ThrowingRunnable op = writers == 1
                    ? () -> wal.append(ByteBuffer.wrap(payload))
                    : () -> wal.appendDurable(ByteBuffer.wrap(payload)).join();
            systems.add(new Contender(label(backend), op, 1, false));
        }
        return systems;
    }

    private static String label(WalIoBackend backend) {
        return "laminar " + backend.propertyValue();
    }

    /** Runs {@code system} on {@code threads} threads for one slot; its records per second. */
    private static double slot(Contender system, int threads, long slotMillis, ExecutorService pool) throws Exception {
        long end = System.nanoTime() + slotMillis * 1_000_000L;
        var counts = new ArrayList<Future<Long>>();
        for (int t = 0; t < threads; t++) {
            counts.add(pool.submit(() -> {
                long ops = 0;
                while (System.nanoTime() < end) {
                    system.op().run();
                    ops++;
                }
                return ops;
            }));
        }
        long ops = 0;
        for (var count : counts) {
            ops += count.get();
        }
        return ops * system.recordsPerOp() * 1000.0 / slotMillis;
    }

    private static void report(LinkedHashMap<String, double[]> rates, int rounds) {
        var base = rates.get("raw-pwrite");
        System.out.printf("%-22s %12s %10s %24s%n", "system", "median rec/s", "vs pwrite",
                "per-round ratio quartiles");
        rates.forEach((name, values) -> {
            // a round whose pwrite slot completed nothing (a stall longer than the slot) has no ratio
            var ratios = java.util.stream.IntStream.range(0, rounds).filter(r -> base[r] > 0)
                    .mapToDouble(r -> values[r] / base[r]).sorted().toArray();
            var sorted = values.clone();
            Arrays.sort(sorted);
            System.out.printf("%-22s %,12.0f %9.2fx %13.2f - %.2f%n", name, sorted[rounds / 2],
                    ratios[ratios.length / 2], ratios[ratios.length / 4], ratios[ratios.length * 3 / 4]);
        });
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (Exception e) {
            return "unknown";
        }
    }
}

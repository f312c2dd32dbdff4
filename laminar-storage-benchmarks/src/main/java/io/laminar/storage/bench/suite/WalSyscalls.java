package io.laminar.storage.bench.suite;

import io.laminar.storage.bench.ThreadSchedule;
import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalOptions;
import io.laminar.storage.wal.WriteAheadLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

/**
 * The {@code wal-syscalls} command: a fixed number of durable 128 B appends through one WAL, to run
 * under {@code strace -f -c} (or {@code perf stat}) and divide the system calls by the records and
 * fdatasyncs it prints. No comparison systems, no warm-up: what is counted is what the log does.
 * It also prints, per record, where the writer threads, the log's threads and the kernel's io_uring
 * workers spent their time ({@link ThreadSchedule}): on a CPU, and runnable but waiting for one.
 *
 * <pre>
 * strace -f -c -o counts.txt java -jar laminar-storage-benchmarks.jar wal-syscalls --backend io-uring \
 *     --policy group-commit --writers 8 --records 1000
 * </pre>
 */
final class WalSyscalls {

    private WalSyscalls() {
    }

    /**
     * The group a thread's Linux name (15 characters at most) belongs to in the per-record schedule
     * lines: the writers (the pool's), the log's own threads, the kernel's io_uring workers that run
     * what cannot complete inline (an fdatasync), or null for the JVM's others.
     */
    static String threadGroup(String comm) {
        if (comm.startsWith("pool-")) {
            return "writers";
        }
        if (comm.startsWith("laminar-wal-")) {
            return "log threads";
        }
        if (comm.startsWith("iou-wrk")) {
            return "io_uring workers";
        }
        return null;
    }

    static int run(String[] args) throws Exception {
        var backend = WalIoBackend.FILE_CHANNEL;
        String policy = "group-commit";
        int writers = 8;
        int records = 1000;
        Path parent = Path.of(System.getProperty("java.io.tmpdir"));
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--backend" -> backend = WalIoBackend.fromPropertyValue(value);
                case "--policy" -> policy = value;
                case "--writers" -> writers = Integer.parseInt(value);
                case "--records" -> records = Integer.parseInt(value);
                case "--dir" -> parent = Path.of(value);
                default -> {
                    System.err.println("wal-syscalls: unknown option '" + args[i] + "'\n" + BenchMain.usage());
                    return 2;
                }
            }
            i++;
        }
        if (!policy.equals("group-commit") && !policy.equals("every-append")) {
            System.err.println("wal-syscalls: --policy must be group-commit or every-append, but was '" + policy + "'");
            return 2;
        }
        if (writers < 1 || records < 1) {
            System.err.println("wal-syscalls: --writers and --records must be at least 1");
            return 2;
        }
        var dir = Files.createTempDirectory(parent, "laminar-wal-syscalls-");
        var options = WalOptions.builder().ioBackend(backend)
                .syncPolicy(policy.equals("every-append") ? SyncPolicy.everyAppend() : SyncPolicy.groupCommit())
                .build();
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        try (var wal = WriteAheadLog.open(dir, options)) {
            var payload = new byte[128];
            int perWriter = records;
            var scheduleBefore = ThreadSchedule.snapshot(WalSyscalls::threadGroup);
            long started = System.nanoTime();
            var done = new ArrayList<Future<?>>();
            for (int w = 0; w < writers; w++) {
                done.add(pool.submit(() -> {
                    for (int i = 0; i < perWriter; i++) {
                        wal.appendDurable(payload).join();
                    }
                    return null;
                }));
            }
            for (var future : done) {
                future.get();
            }
            long nanos = System.nanoTime() - started;
            long total = (long) writers * records;
            var schedule = ThreadSchedule.snapshot(WalSyscalls::threadGroup).since(scheduleBefore);
            System.out.printf("backend=%s policy=%s writers=%d records=%d fdatasyncs=%d records/s=%.0f%n",
                    wal.ioBackend(), policy, writers, total, wal.statistics().syncs(), total * 1e9 / nanos);
            schedule.forEach((group, t) -> System.out.printf(
                    "  %-16s per record: on a CPU %.1f us, runnable waiting for a CPU %.1f us, timeslices %.2f%n",
                    group, t.cpuNanos() / 1e3 / total, t.waitNanos() / 1e3 / total, (double) t.timeslices() / total));
        } finally {
            pool.shutdown();
            try (Stream<Path> files = Files.walk(dir)) {
                for (var file : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(file);
                }
            }
        }
        return 0;
    }
}

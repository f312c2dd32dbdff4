package io.laminar.storage.bench.suite;

import java.util.Arrays;

/**
 * Entry point of the executable benchmark jar.
 *
 * <pre>
 * java -jar laminar-storage-benchmarks.jar wal [--quick] [--json FILE] [--dir DIR] [--scenario NAME]
 * java -jar laminar-storage-benchmarks.jar wal-syscalls [--backend B] [--policy P] [--writers N] [--records N]
 * java -jar laminar-storage-benchmarks.jar wal-slots [--writers N] [--rounds N] [--slot-millis MS] [--dir DIR]
 * java -jar laminar-storage-benchmarks.jar percore [--quick] [--json FILE] [--dir DIR] [--scenario NAME]
 * java -jar laminar-storage-benchmarks.jar checkpoint [--quick] [--json FILE] [--dir DIR] [--scenario NAME]
 * java -jar laminar-storage-benchmarks.jar s3 [--quick] [--json FILE] [--dir DIR] [--scenario NAME]
 * java -jar laminar-storage-benchmarks.jar jmh [JMH arguments]
 * </pre>
 */
public final class BenchMain {

    private BenchMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help")) {
            System.out.println(usage());
            return;
        }
        var rest = Arrays.copyOfRange(args, 1, args.length);
        switch (args[0]) {
            case "wal" -> System.exit(WalSuite.run(rest));
            case "wal-syscalls" -> System.exit(WalSyscalls.run(rest));
            case "wal-slots" -> System.exit(WalSlots.run(rest));
            case "percore" -> System.exit(PerCoreSuite.run(rest));
            case "checkpoint" -> System.exit(CheckpointSuite.run(rest));
            case "s3" -> System.exit(S3Suite.run(rest));
            case "replication" -> System.exit(ReplicationSuite.run(rest));
            case "jmh" -> org.openjdk.jmh.Main.main(rest);
            default -> {
                System.err.println("unknown command '" + args[0] + "'\n" + usage());
                System.exit(2);
            }
        }
    }

    static String usage() {
        return """
                usage:
                  java -jar laminar-storage-benchmarks.jar wal [--quick] [--json FILE] [--dir DIR] [--scenario NAME]
                                                               [--backend file-channel|direct|io-uring|all]
                      the WAL scenario suite: laminar vs raw FileChannel, RocksDB and Chronicle Queue
                      --backend    the WAL I/O backends laminar runs with, side by side (default: all;
                                   io-uring needs a Java 22+ JVM, e.g. /usr/lib/jvm/temurin-25-jdk-amd64/bin/java)
                      --quick      smoke run, under two minutes (default: the full run, to quote)
                      --json FILE  also write the result rows as a JSON array to FILE
                      --dir DIR    where benchmark files go (default: a temp dir under java.io.tmpdir);
                                   must be a real disk, not tmpfs; always deleted afterwards
                      --scenario   run only this scenario (repeatable): %s
                  java -jar laminar-storage-benchmarks.jar wal-syscalls [--backend B] [--policy group-commit|every-append]
                                                                        [--writers N] [--records N] [--dir DIR]
                      N writers x N durable 128 B appends through one WAL (default: file-channel, group-commit,
                      8 x 1000), printing the records and fdatasyncs: run it under strace -f -c to count the
                      system calls per record and per fdatasync; also prints per record where the writers, the
                      log's threads and the kernel's io_uring workers spent their time (on a CPU, waiting for one)
                  java -jar laminar-storage-benchmarks.jar wal-slots [--writers N] [--rounds N] [--slot-millis MS] [--dir DIR]
                      the durable comparison for a loaded machine: the disk-ceiling primitives and laminar with
                      each backend take turns in short slots (default: 1 writer, 60 rounds of 200 ms); prints each
                      one's median records/s and the median and quartiles of its ratio to pwrite in the same round
                  java -jar laminar-storage-benchmarks.jar percore [--quick] [--json FILE] [--dir DIR] [--scenario NAME]
                      the per-core suite: Ring 0 puts with the changelog drainer, per-core WAL and group commit
                      --quick      smoke run, under two minutes (default: about five minutes)
                      (--json, --dir as for wal)
                      --scenario   run only this scenario (repeatable): %s
                  java -jar laminar-storage-benchmarks.jar checkpoint [--quick] [--json FILE] [--dir DIR] [--scenario NAME]
                      the checkpoint suite: full and incremental checkpoints of 1 GiB of state on 2 cores,
                      restore + WAL replay, rescaling restores, Ring 0 put latency during a checkpoint
                      --quick      smoke run with 64 MiB of state, under two minutes (default: 1 GiB, about five minutes)
                      (--json, --dir as for wal)
                      --scenario   run only this scenario (repeatable): %s
                  java -jar laminar-storage-benchmarks.jar s3 [--quick] [--json FILE] [--dir DIR] [--scenario NAME]
                      the S3 suite, against S3Proxy in this JVM (file-system blob store in --dir): a checkpoint
                      of 1 GiB of state uploaded through the S3 checkpoint store vs raw PUTs of the same bytes,
                      and its restore on an empty machine vs raw GETs
                      --quick      smoke run with 64 MiB of state (default: 1 GiB, about two minutes)
                      (--json, --dir as for wal)
                      --scenario   run only this scenario (repeatable): %s
                  java -jar laminar-storage-benchmarks.jar replication [--quick] [--json FILE] [--dir DIR]
                      the replication suite, against 3 KRaft brokers in this JVM (RF 3, min ISR 2): durable
                      changes with durability replicated vs local vs a raw acks=all idempotent producer,
                      1, 8 and 64 writers, 128 B
                      --quick      smoke run (default: 2 s warm-up, 5 s measured per row)
                      (--json, --dir as for wal)
                  java -jar laminar-storage-benchmarks.jar jmh [JMH args]
                      JMH micro-benchmarks, e.g.: jmh -f 1 -prof gc AppendBenchmark FramingBenchmark Ring0PutBenchmark
                """.formatted(String.join(", ", WalSuite.scenarioNames()), String.join(", ", PerCoreSuite.scenarioNames()),
                String.join(", ", CheckpointSuite.scenarioNames()), String.join(", ", S3Suite.scenarioNames()));
    }
}

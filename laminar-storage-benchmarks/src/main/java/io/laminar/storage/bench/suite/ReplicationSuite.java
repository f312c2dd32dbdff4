package io.laminar.storage.bench.suite;

import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.replication.FailoverScenario;
import io.laminar.storage.bench.replication.ReplicationScenario;
import io.laminar.storage.replication.kafka.KafkaCluster;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The {@code replication} command: durable changes with {@code replicated} durability vs
 * {@code local} vs a raw Kafka producer, against three KRaft brokers started in this JVM for the
 * run (replication factor 3, {@code min.insync.replicas} 2). Same table, targets and JSON as the
 * WAL suite.
 */
public final class ReplicationSuite {

    private ReplicationSuite() {
    }

    static List<String> scenarioNames() {
        return List.of(ReplicationScenario.NAME, FailoverScenario.NAME);
    }

    static int run(String[] args) throws Exception {
        // The in-process brokers log every election and their whole configuration at INFO.
        System.setProperty("org.slf4j.simpleLogger.log.org.apache.kafka", "warn");
        System.setProperty("org.slf4j.simpleLogger.log.kafka", "warn");
        System.setProperty("org.slf4j.simpleLogger.log.state.change.logger", "warn");
        // Kafka's default broker session (the test kit's short one fences brokers of a loaded machine).
        // The partition leaders retry a transaction's first produce every 2 ms (not 20) while the
        // previous transaction's markers are written: the setting the README recommends for brokers
        // behind replicated durability. It changes nothing for the raw (non-transactional) producer.
        try (var cluster = KafkaCluster.start(3, Map.of("broker.heartbeat.interval.ms", "2000",
                "broker.session.timeout.ms", "9000", "replica.lag.time.max.ms", "30000",
                "add.partitions.to.txn.retry.backoff.ms", "2"))) {
            return SuiteRunner.run(new SuiteRunner.Suite("replication",
                    "laminar-storage replication suite (3 KRaft brokers in this JVM, RF 3, min ISR 2)",
                    List.of(ReplicationScenario.over(cluster), FailoverScenario.over(cluster)),
                    ReplicationSuite::addRatios,
                    ReplicationSuite::evaluate, Report::printTable), args);
        }
    }

    static void addRatios(List<Result> results) {
        for (var r : results) {
            if (!r.system().startsWith("laminar")) {
                continue;
            }
            find(results, "kafka-producer", r.threads()).ifPresent(raw -> {
                if (r.recordsPerSec() != null && raw.recordsPerSec() != null) {
                    r.ratio(r.recordsPerSec() / raw.recordsPerSec(), "kafka-producer");
                }
            });
        }
    }

    static List<Targets.Check> evaluate(List<Result> results) {
        var checks = new ArrayList<Targets.Check>();
        var target = "replicated throughput >= 0.8x the raw producer's at 64 writers";
        var replicated = find(results, "laminar-replicated", 64);
        var raw = find(results, "kafka-producer", 64);
        if (replicated.isPresent() && raw.isPresent()) {
            double ratio = replicated.get().recordsPerSec() / raw.get().recordsPerSec();
            checks.add(new Targets.Check(target, String.format("%.2fx (%,.0f vs %,.0f rec/s)", ratio,
                    replicated.get().recordsPerSec(), raw.get().recordsPerSec()), ratio >= 0.8));
        } else {
            checks.add(new Targets.Check(target, "-", null));
        }
        var failover = results.stream().filter(r -> r.system().equals("laminar-failover")).findFirst();
        var plain = results.stream().filter(r -> r.system().equals("laminar-restore")).findFirst();
        if (failover.isPresent() && plain.isPresent()) {
            var f = failover.get().toJson();
            checks.add(Targets.Check.info("failover of " + mib(f.get("stateBytes")) + " checkpoint + "
                    + mib(f.get("kafkaTailBytes")) + " Kafka tail (report; the target names 1 GiB + 64 MiB)",
                    String.format("%ss: restore %ss, Kafka tail %s records in %ss, first checkpoint %ss; plain restore"
                            + " %ss", f.get("seconds"), f.get("restoreSeconds"), f.get("kafkaTailRecords"),
                            f.get("kafkaTailSeconds"), f.get("takeoverCheckpointSeconds"),
                            plain.get().toJson().get("seconds"))));
        } else {
            checks.add(new Targets.Check("failover of 1 GiB checkpoint + 64 MiB Kafka tail (report)", "-", null));
        }
        return checks;
    }

    private static String mib(Object bytes) {
        return (((Number) bytes).longValue() >> 20) + " MiB";
    }

    private static Optional<Result> find(List<Result> results, String system, int threads) {
        return results.stream().filter(r -> r.system().equals(system) && r.threads() == threads).findFirst();
    }
}

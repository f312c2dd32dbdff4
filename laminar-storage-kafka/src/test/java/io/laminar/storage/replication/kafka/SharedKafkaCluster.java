package io.laminar.storage.replication.kafka;

/**
 * One three-broker {@link KafkaCluster} for the test classes of a JVM that do not stop brokers (a
 * cluster start costs seconds and hundreds of MiB on these 2-CPU machines): started by the first
 * class that asks, stopped when the JVM exits. Each test uses shards (topics) of its own.
 */
final class SharedKafkaCluster {

    private static KafkaCluster cluster;

    private SharedKafkaCluster() {
    }

    static synchronized KafkaCluster get() throws Exception {
        if (cluster == null) {
            var started = KafkaCluster.start(3);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    started.close();
                } catch (Exception e) {
                    // the JVM is exiting
                }
            }, "kafka-test-cluster-stop"));
            cluster = started;
        }
        return cluster;
    }
}

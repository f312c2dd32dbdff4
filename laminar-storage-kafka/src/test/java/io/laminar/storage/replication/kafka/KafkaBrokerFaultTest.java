package io.laminar.storage.replication.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.replication.ReplicationTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Brokers that stop and come back under a running owner (three brokers, replication factor 3,
 * {@code min.insync.replicas} 2): one broker down is no problem; two down and durable tasks fail
 * after the ack timeout (never acknowledged on the local fsync alone); brokers back and work
 * continues without a restart. A cluster of its own: the test stops its brokers.
 */
@Timeout(240)
class KafkaBrokerFaultTest {

    @TempDir
    Path dir;

    @Test
    void oneBrokerDownIsToleratedTwoDownFailDurableTasksAndWorkContinuesWhenTheyReturn() throws Exception {
        try (var cluster = KafkaCluster.start(3)) {
            var options = Shards.options(cluster, "faults").ackTimeout(Duration.ofSeconds(4)).build();
            var store = dir.resolve("checkpoints");
            var brokers = new ArrayList<>(cluster.brokerIds());
            try (var a = Shards.start(dir.resolve("a"), store, options)) {
                a.put("k1", "1").get(20, TimeUnit.SECONDS);

                cluster.stopBroker(brokers.get(0));
                // Leaders move off the stopped broker; a durable task may have to be repeated meanwhile.
                putUntilAcknowledged(a, "k2", "2", Duration.ofSeconds(60));

                cluster.stopBroker(brokers.get(1));
                var refused = a.put("k3", "3");
                assertThatThrownBy(() -> refused.get(30, TimeUnit.SECONDS)).cause()
                        .isInstanceOf(ReplicationTimeoutException.class)
                        .hasMessageContaining("were not acknowledged by the replicas within PT4S");
                assertThat(a.runtime().failure()).as("a timeout does not fail the runtime").isEmpty();

                cluster.restartBroker(brokers.get(1));
                cluster.restartBroker(brokers.get(0));
                putUntilAcknowledged(a, "k4", "4", Duration.ofSeconds(90));
            }
            // A new owner finds every acknowledged change; k3's outcome was unknown (its future timed
            // out) but it was retried in order, so it is there too, before k4.
            try (var b = Shards.start(dir.resolve("b"), store, options)) {
                assertThat(b.contents()).isEqualTo(Map.of("k1", "1", "k2", "2", "k3", "3", "k4", "4"));
            }
        }
    }

    private static void putUntilAcknowledged(Shards.Owner owner, String key, String value, Duration patience)
            throws Exception {
        long deadline = System.nanoTime() + patience.toNanos();
        while (true) {
            try {
                owner.put(key, value).get(30, TimeUnit.SECONDS);
                return;
            } catch (ExecutionException | TimeoutException e) {
                var cause = e instanceof ExecutionException ? e.getCause() : e;
                assertThat(cause).as("only a replica timeout may fail the task").isInstanceOf(
                        cause instanceof TimeoutException ? TimeoutException.class : ReplicationTimeoutException.class);
                if (System.nanoTime() > deadline) {
                    throw e;
                }
            }
        }
    }
}

package io.laminar.storage.replication.kafka;

import static io.laminar.storage.replication.kafka.Shards.bytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.FencedException;
import io.laminar.storage.StorageException;
import io.laminar.storage.replication.ChangeReplicator;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replication through real Kafka brokers (three KRaft brokers in this JVM, {@link SharedKafkaCluster}):
 * machine loss, fencing of the old owner, the topic checks and truncation. Each test has a shard
 * (and topic) of its own.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
class KafkaReplicationTest {

    private static final AtomicInteger SHARDS = new AtomicInteger();

    private KafkaCluster cluster;
    private Admin admin;

    @TempDir
    Path dir;

    @BeforeAll
    void startBrokers() throws Exception {
        cluster = SharedKafkaCluster.get();
        admin = cluster.admin();
    }

    @AfterAll
    void stopBrokers() throws Exception {
        admin.close(); // the cluster is shared: SharedKafkaCluster stops it
    }

    private static String newShard() {
        return "shard-" + SHARDS.incrementAndGet();
    }

    @Test
    void everyAcknowledgedChangeSurvivesTheLossOfTheMachineExactlyOnce() throws Exception {
        var options = Shards.options(cluster, newShard()).build();
        var store = dir.resolve("checkpoints");
        var expected = new TreeMap<String, String>();
        try (var a = Shards.start(dir.resolve("a"), store, options)) {
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < 100; i++) {
                    a.put("key-" + i, "r" + round + "-" + i).get(10, TimeUnit.SECONDS);
                    expected.put("key-" + i, "r" + round + "-" + i);
                }
                a.delete("key-" + round).get(10, TimeUnit.SECONDS);
                expected.remove("key-" + round);
                var manifest = a.runtime().triggerCheckpoint().get(30, TimeUnit.SECONDS);
                assertThat(manifest.sources()).containsKey(ChangeReplicator.SOURCE_NAME);
            }
            // After the last checkpoint: a tail only Kafka holds once the machine is gone, with a
            // clear of core 1 in the middle of it.
            for (int i = 0; i < 50; i++) {
                a.put("tail-" + i, "t" + i).get(10, TimeUnit.SECONDS);
                expected.put("tail-" + i, "t" + i);
            }
            a.runtime().submitDurable(1, c -> {
                c.store().clear();
                return null;
            }).get(10, TimeUnit.SECONDS);
            expected.keySet().removeIf(k -> a.runtime().coreOf(bytes(k)) == 1);
            for (int i = 50; i < 60; i++) {
                a.put("tail-" + i, "t" + i).get(10, TimeUnit.SECONDS);
                expected.put("tail-" + i, "t" + i);
            }
            assertThat(a.contents()).isEqualTo(expected);
        }
        Shards.deleteRecursively(dir.resolve("a")); // the machine is lost with its disk

        try (var b = Shards.start(dir.resolve("b"), store, options)) {
            var report = b.runtime().recoveryReport().orElseThrow();
            assertThat(report.adoptedCheckpoint()).isTrue();
            // 60 puts and a clear of core 1 (one record, in core 1's partition): 61 records from Kafka.
            assertThat(report.recordsFromReplication()).isEqualTo(60 + 1);
            assertThat(b.contents()).isEqualTo(expected);
            // B serves on top of it.
            b.put("from-b", "1").get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aNewOwnerFencesTheOldOneWhoseLaterChangesNeverCount() throws Exception {
        var options = Shards.options(cluster, newShard()).build();
        var store = dir.resolve("checkpoints");
        try (var a = Shards.start(dir.resolve("a"), store, options)) {
            a.put("k", "from-a").get(10, TimeUnit.SECONDS);
            try (var b = Shards.start(dir.resolve("b"), store, options)) {
                assertThat(b.contents()).isEqualTo(Map.of("k", "from-a"));
                // A wakes up and goes on: its next durable task fails, fenced, and so does every later one.
                var late = a.put("k", "zombie");
                assertThatThrownBy(() -> late.get(30, TimeUnit.SECONDS)).cause()
                        .isInstanceOf(FencedException.class)
                        .hasMessageContaining("was taken over by another owner");
                assertThat(a.runtime().failure()).get().isInstanceOf(FencedException.class);
                var readOnly = a.runtime().submitDurable(0, c -> c.store().size());
                assertThatThrownBy(() -> readOnly.get(10, TimeUnit.SECONDS)).cause().isInstanceOf(FencedException.class);
                b.put("k2", "from-b").get(10, TimeUnit.SECONDS);
            }
        }
        // A third owner sees B's changes and none of A's after the fence.
        try (var c = Shards.start(dir.resolve("c"), store, options)) {
            assertThat(c.contents()).isEqualTo(Map.of("k", "from-a", "k2", "from-b"));
        }
    }

    /**
     * Another producer initialises the shard's transactional.id (as a new owner does) while the old
     * owner's transaction is open, at moments swept across the old owner's periodic commit. Kafka
     * aborts the open transaction, and the old owner's commit is refused: with a fenced epoch, or,
     * when the commit races the initialisation, with INVALID_TXN_STATE (the commit of a transaction
     * the coordinator has just aborted). Either way the old owner must know itself fenced, not merely
     * failed.
     */
    @Test
    void anOwnerWhoseOpenTransactionAnotherProducerAbortedIsFencedWhenItCommits() throws Exception {
        boolean commitMetAnAbortedTransaction = false;
        for (long offsetMillis = 850; offsetMillis <= 1150 && !commitMetAnAbortedTransaction; offsetMillis += 30) {
            var options = Shards.options(cluster, newShard()).build();
            try (var a = Shards.start(dir.resolve("a-" + offsetMillis), dir.resolve("checkpoints-" + offsetMillis),
                    options)) {
                long began = System.nanoTime(); // about when A's transaction begins: its commit is due a second later
                a.put("k", "from-a").get(10, TimeUnit.SECONDS);
                long wait = offsetMillis - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
                if (wait > 0) {
                    Thread.sleep(wait);
                }
                var properties = Map.<String, Object>of(
                        ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers(),
                        ProducerConfig.TRANSACTIONAL_ID_CONFIG, options.transactionalId(),
                        ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class,
                        ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
                try (var newOwner = new KafkaProducer<byte[], byte[]>(properties)) {
                    newOwner.initTransactions();
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
                    while (a.runtime().failure().isEmpty() && System.nanoTime() < deadline) {
                        Thread.sleep(10);
                    }
                    if (a.runtime().failure().isEmpty()) {
                        // A committed before the initialisation: its next send meets the fence.
                        var late = a.put("k", "zombie");
                        assertThatThrownBy(() -> late.get(30, TimeUnit.SECONDS)).isNotNull();
                    }
                    assertThat(a.runtime().failure()).as("A's failure, the new owner initialised %d ms after its put",
                                    offsetMillis)
                            .get().isInstanceOf(FencedException.class)
                            .extracting(Throwable::getMessage).asString().contains("was taken over by another owner");
                    // The race this test is for has been run into: the later moments need not be tried.
                    commitMetAnAbortedTransaction = a.runtime().failure().get().getMessage()
                            .contains("aborted this process's open transaction");
                }
            }
        }
    }

    @Test
    void anExistingTopicWithAnotherPartitionCountIsRefused() throws Exception {
        var shard = newShard();
        var options = Shards.options(cluster, shard).build();
        admin.createTopics(List.of(new NewTopic(options.topic(), 3, (short) 3))).all().get();
        assertThatThrownBy(() -> Shards.start(dir.resolve("a"), dir.resolve("checkpoints"), options))
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("the topic " + options.topic() + " of shard " + shard + " has 3 partitions")
                .hasMessageContaining("configured for 4");
    }

    @Test
    void aCompactedTopicIsRefused() throws Exception {
        var options = Shards.options(cluster, newShard()).build();
        admin.createTopics(List.of(new NewTopic(options.topic(), 4, (short) 3)
                .configs(Map.of("cleanup.policy", "compact")))).all().get();
        assertThatThrownBy(() -> Shards.start(dir.resolve("a"), dir.resolve("checkpoints"), options))
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("has cleanup.policy=compact; replication needs cleanup.policy=delete");
    }

    @Test
    void aTopicThatNoLongerHoldsTheChangesAfterTheCheckpointIsRefused() throws Exception {
        var options = Shards.options(cluster, newShard()).build();
        var store = dir.resolve("checkpoints");
        Map<String, String> positions;
        try (var a = Shards.start(dir.resolve("a"), store, options)) {
            a.put("k", "1").get(10, TimeUnit.SECONDS);
            positions = a.runtime().triggerCheckpoint().get(30, TimeUnit.SECONDS)
                    .sources().get(ChangeReplicator.SOURCE_NAME).offsets();
            for (int i = 0; i < 40; i++) {
                a.put("k" + i, "2").get(10, TimeUnit.SECONDS);
            }
        }
        // Retention (or someone's deleteRecords) runs ahead of the checkpoint on one partition (core 1's).
        int partition = 1;
        var tp = new TopicPartition(options.topic(), partition);
        long end = admin.listOffsets(Map.of(tp, OffsetSpec.latest())).all().get().get(tp).offset();
        long from = Long.parseLong(positions.get(Integer.toString(partition)));
        assertThat(end).isGreaterThan(from + 1);
        admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(from + 1))).all().get();

        assertThatThrownBy(() -> Shards.start(dir.resolve("b"), store, options))
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("the changes after the checkpoint start at offset " + from + " of topic "
                        + options.topic() + " partition " + partition)
                .hasMessageContaining("now starts at offset " + (from + 1))
                .hasMessageContaining("nothing is restored");
    }

    @Test
    void recordsAreDeletedOnlyBehindTheOldestRetainedCheckpoint() throws Exception {
        var options = Shards.options(cluster, newShard()).build();
        try (var a = Shards.start(dir.resolve("a"), dir.resolve("checkpoints"), options,
                b -> b.checkpoints(c -> c.retainedCheckpoints(2)))) {
            var retained = new java.util.ArrayList<Map<String, String>>();
            for (int round = 0; round < 4; round++) {
                for (int i = 0; i < 20; i++) {
                    a.put("k" + i, "v" + round).get(10, TimeUnit.SECONDS);
                }
                retained.add(a.runtime().triggerCheckpoint().get(30, TimeUnit.SECONDS)
                        .sources().get(ChangeReplicator.SOURCE_NAME).offsets());
            }
            var oldestRetained = retained.get(2);
            for (int p = 0; p < options.partitions(); p++) {
                var tp = new TopicPartition(options.topic(), p);
                long start = admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).all().get().get(tp).offset();
                assertThat(start).as("start of partition %d", p).isEqualTo(Long.parseLong(oldestRetained.get("" + p)));
            }
        }
    }
}

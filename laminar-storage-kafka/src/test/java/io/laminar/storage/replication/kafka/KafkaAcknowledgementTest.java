package io.laminar.storage.replication.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.FencedException;
import io.laminar.storage.replication.ReplicatedChangeSink;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.state.StateChangeFormat;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * What a replicator acknowledges and what a takeover reads, on real brokers ({@link SharedKafkaCluster}):
 * a change counts once Kafka has it with {@code acks=all}, before its transaction commits, so the
 * abort of that transaction by a new owner must not hide it; and records a retry sent again are
 * applied once, each core's as a prefix of its WAL.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
class KafkaAcknowledgementTest {

    private static final AtomicInteger SHARDS = new AtomicInteger();

    private KafkaCluster cluster;
    private Admin admin;

    @BeforeAll
    void startBrokers() throws Exception {
        cluster = SharedKafkaCluster.get();
        admin = cluster.admin();
    }

    @AfterAll
    void closeAdmin() {
        admin.close();
    }

    @Test
    void aChangeAcknowledgedInATransactionThatTheNewOwnerAbortsIsRestored() throws Exception {
        var options = Shards.options(cluster, "ack-" + SHARDS.incrementAndGet()).build();
        try (var a = new KafkaChangeReplicator(options)) {
            a.open(2);
            a.append(0, 1, 10, put("k0", "a"));
            a.append(1, 1, 7, put("k1", "b"));
            a.endBatch();
            a.append(0, 1, 11, put("k0", "c"));
            a.endBatch();
            waitUntil(() -> a.replicatedSequence(0) == 11 && a.replicatedSequence(1) == 7);
            // Acknowledged while its transaction is still open: nothing has committed it.
            var state = admin.describeTransactions(List.of(options.transactionalId())).all().get()
                    .get(options.transactionalId()).state();
            assertThat(state).isEqualTo(TransactionState.ONGOING);

            try (var b = new KafkaChangeReplicator(options)) {
                b.open(2); // fences A and aborts its open transaction
                var restored = new Model();
                assertThat(b.restore(Map.of(), -1, 2, restored)).isEqualTo(3);
                assertThat(restored.state).isEqualTo(Map.of("0/k0", "c", "1/k1", "b"));

                // A, fenced, acknowledges nothing more.
                a.append(0, 1, 12, put("k0", "zombie"));
                a.endBatch();
                waitUntil(() -> a.failure().isPresent());
                assertThat(a.failure()).get().isInstanceOf(FencedException.class);
                assertThat(a.replicatedSequence(0)).isEqualTo(11);
            }
        }
        try (var c = new KafkaChangeReplicator(options)) {
            c.open(2);
            var restored = new Model();
            c.restore(Map.of(), -1, 2, restored);
            assertThat(restored.state).isEqualTo(Map.of("0/k0", "c", "1/k1", "b"));
        }
    }

    @Test
    void copiesThatARetrySentAgainAreAppliedOnceAndEachCoreInOrder() throws Exception {
        var options = Shards.options(cluster, "ack-" + SHARDS.incrementAndGet()).build();
        admin.createTopics(List.of(new NewTopic(options.topic(), options.partitions(), (short) 3))).all().get();
        long first = 0x1111L;
        long second = 0x2222L;
        var written = new ArrayList<ProducerRecord<byte[], byte[]>>();
        // Core 0 (partition 0): sequences 1..6 of session 1; a retry sent 3..6 again; a second retry
        // got only 3..4 out before the owner died. Core 1 (partition 1): 1..3, its sequence 2 twice.
        // Then a new owner (session 2) wrote sequences from 1 again on both cores.
        for (long seq = 1; seq <= 6; seq++) {
            written.add(record(options, 0, 5, seq, first, put("k", "v" + seq)));
        }
        for (long seq = 3; seq <= 6; seq++) {
            written.add(record(options, 0, 5, seq, first, put("k", "v" + seq)));
        }
        for (long seq = 3; seq <= 4; seq++) {
            written.add(record(options, 0, 5, seq, first, put("k", "v" + seq)));
        }
        written.add(record(options, 1, 5, 1, first, put("j", "w1")));
        written.add(record(options, 1, 5, 2, first, put("j", "w2")));
        written.add(record(options, 1, 5, 2, first, put("j", "w2")));
        written.add(record(options, 1, 5, 3, first, delete("j")));
        written.add(record(options, 0, 6, 1, second, put("k", "s2-1")));
        written.add(record(options, 0, 6, 2, second, put("other", "s2-2")));
        written.add(record(options, 1, 6, 1, second, put("j", "s2-j")));
        try (var producer = new KafkaProducer<byte[], byte[]>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class))) {
            for (var record : written) {
                producer.send(record).get();
            }
        }
        try (var owner = new KafkaChangeReplicator(options)) {
            owner.open(2);
            var restored = new Model();
            // 6 + 3 changes of session 1 once each, 3 of session 2.
            assertThat(owner.restore(Map.of(), -1, 2, restored)).isEqualTo(12);
            assertThat(restored.applied).containsExactly(
                    "0:k=v1", "0:k=v2", "0:k=v3", "0:k=v4", "0:k=v5", "0:k=v6", "0:k=s2-1", "0:other=s2-2");
            assertThat(restored.state).isEqualTo(Map.of("0/k", "s2-1", "0/other", "s2-2", "1/j", "s2-j"));

            // From a checkpoint of epoch 6: the epoch-5 changes are in it and skipped.
            var fromCheckpoint = new Model();
            assertThat(owner.restore(Map.of(), 6, 2, fromCheckpoint)).isEqualTo(3);
            assertThat(fromCheckpoint.state).isEqualTo(Map.of("0/k", "s2-1", "0/other", "s2-2", "1/j", "s2-j"));
        }
    }

    private static void waitUntil(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited 60 s").isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    private static ProducerRecord<byte[], byte[]> record(KafkaReplicatorOptions options, int core, long epoch,
            long sequence, long session, ByteBuffer change) {
        return new ProducerRecord<>(options.topic(), options.partitionOfCore(core), null,
                ReplicatedRecordFormat.encode(core, 2, epoch, sequence, session, change));
    }

    private static ByteBuffer put(String key, String value) {
        var k = key.getBytes(StandardCharsets.UTF_8);
        var v = value.getBytes(StandardCharsets.UTF_8);
        var out = ByteBuffer.allocate(StateChangeFormat.encodedLength(StateChangeFormat.PUT, k.length, v.length))
                .order(ByteOrder.LITTLE_ENDIAN);
        StateChangeFormat.encode(out, StateChangeFormat.PUT, k, k.length, v, v.length);
        return out.flip();
    }

    private static ByteBuffer delete(String key) {
        var k = key.getBytes(StandardCharsets.UTF_8);
        var out = ByteBuffer.allocate(StateChangeFormat.encodedLength(StateChangeFormat.DELETE, k.length, 0))
                .order(ByteOrder.LITTLE_ENDIAN);
        StateChangeFormat.encode(out, StateChangeFormat.DELETE, k, k.length, null, 0);
        return out.flip();
    }

    /** The state a takeover builds, as "core/key" to value, and core 0's puts in the order applied. */
    private static final class Model implements ReplicatedChangeSink {
        final TreeMap<String, String> state = new TreeMap<>();
        final List<String> applied = new ArrayList<>();

        @Override
        public void change(int core, ByteBuffer change) {
            StateChangeFormat.apply(change, new ChangelogSink() {
                @Override
                public void onPut(byte[] key, byte[] value) {
                    var k = new String(key, StandardCharsets.UTF_8);
                    var v = new String(value, StandardCharsets.UTF_8);
                    state.put(core + "/" + k, v);
                    if (core == 0) {
                        applied.add(core + ":" + k + "=" + v);
                    }
                }

                @Override
                public void onDelete(byte[] key) {
                    state.remove(core + "/" + new String(key, StandardCharsets.UTF_8));
                }

                @Override
                public void onClear() {
                    state.keySet().removeIf(k -> k.startsWith(core + "/"));
                }
            });
        }

        @Override
        public void clear(int core, Predicate<byte[]> scope) {
            state.keySet().removeIf(k -> k.startsWith(core + "/")
                    && scope.test(k.substring(k.indexOf('/') + 1).getBytes(StandardCharsets.UTF_8)));
        }
    }
}

package io.laminar.storage.bench.replication;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.ClosedLoop;
import io.laminar.storage.bench.ClosedLoop.Phase;
import io.laminar.storage.bench.Payloads;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.replication.kafka.KafkaChangeReplicator;
import io.laminar.storage.replication.kafka.KafkaCluster;
import io.laminar.storage.replication.kafka.KafkaReplicatorOptions;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * {@code durable}: 1, 8 and 64 closed-loop writers, each waiting for its 128 B change to be durable
 * before making the next, against three KRaft brokers in this JVM (replication factor 3,
 * {@code min.insync.replicas} 2). Systems: {@code laminar-replicated} (a two-core
 * {@link LaminarRuntime} whose {@code submitDurable} waits for the local fdatasync and Kafka),
 * {@code laminar-local} (the same runtime, local durability) and {@code kafka-producer} (one
 * {@link KafkaProducer}, {@code acks=all}, idempotent, shared by the writers, each waiting for its
 * {@code send(..).get()}, to a topic with the same settings).
 */
public final class ReplicationScenario implements Scenario {

    public static final String NAME = "durable";
    static final int[] THREADS = {1, 8, 64};
    static final int RECORD_BYTES = 128;
    private static final int CORES = 2;
    private static final int PARTITIONS = 16;

    private final KafkaCluster cluster;

    ReplicationScenario(KafkaCluster cluster) {
        this.cluster = cluster;
    }

    /** A scenario over {@code cluster}, which the caller starts and stops. */
    public static ReplicationScenario over(KafkaCluster cluster) {
        return new ReplicationScenario(cluster);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        byte[] payload = Payloads.random(RECORD_BYTES, 256);
        var results = new ArrayList<Result>();
        for (int threads : THREADS) {
            results.add(laminar(context, payload, threads, true));
            results.add(laminar(context, payload, threads, false));
            results.add(producer(context, payload, threads));
        }
        return results;
    }

    private Result laminar(BenchContext context, byte[] payload, int threads, boolean replicated) throws Exception {
        var system = replicated ? "laminar-replicated" : "laminar-local";
        var dir = context.newDirectory(NAME + "-" + system + "-" + threads);
        KafkaChangeReplicator replicator = null;
        try (var wal = PerCoreWalManager.open(dir.resolve("wal"), PerCoreWalOptions.builder().cores(CORES).build());
             var store = FileSystemCheckpointStore.open(dir.resolve("checkpoints"))) {
            var builder = LaminarRuntime.builder(wal, store);
            if (replicated) {
                replicator = new KafkaChangeReplicator(KafkaReplicatorOptions.builder("bench-" + threads)
                        .bootstrapServers(cluster.bootstrapServers()).partitions(PARTITIONS).replicationFactor(3)
                        .minInSyncReplicas(2).build());
                builder.replicator(replicator);
            }
            try (var runtime = builder.build()) {
                runtime.start();
                BenchContext.settleAfterOpen();
                var m = ClosedLoop.run(threads, t -> {
                    var keys = new byte[64][];
                    for (int i = 0; i < keys.length; i++) {
                        keys[i] = ("w" + t + "-" + i).getBytes(StandardCharsets.UTF_8);
                    }
                    int[] next = {0};
                    return () -> {
                        var key = keys[next[0]++ & 63];
                        runtime.submitDurable(runtime.coreOf(key), c -> {
                            c.store().put(key, payload);
                            return null;
                        }).join();
                    };
                }, warmup(context), measure(context));
                return new Result(NAME, system, threads, payload.length).throughput(m.ops(), m.seconds())
                        .latency(m.nanos());
            }
        } finally {
            if (replicator != null) {
                replicator.close();
            }
            BenchContext.deleteTree(dir);
        }
    }

    /**
     * Waits until every partition of a new topic has a leader and all three replicas in sync. An
     * idempotent producer that meets a leader change right after the topic's creation can stall on
     * OUT_OF_ORDER_SEQUENCE_NUMBER retries until its delivery timeout (seen once: 120 s), which would
     * measure the cluster's start rather than the producer.
     */
    private static void awaitSettled(Admin admin, String topic) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            Object state;
            try {
                var partitions = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions();
                if (partitions.stream().allMatch(p -> p.leader() != null && p.isr().size() == 3)) {
                    return;
                }
                state = partitions;
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
                    throw e;
                }
                state = e.getCause(); // the brokers do not know the new topic yet
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("topic " + topic + " did not settle within 60 s: " + state);
            }
            Thread.sleep(50);
        }
    }

    private Result producer(BenchContext context, byte[] payload, int threads) throws Exception {
        var topic = "bench-raw-" + threads;
        try (var admin = cluster.admin()) {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 3).configs(Map.of(
                    "min.insync.replicas", "2", "cleanup.policy", "delete", "retention.ms", "-1")))).all().get();
            awaitSettled(admin, topic);
        }
        Map<String, Object> properties = Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.LINGER_MS_CONFIG, 0,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        try (var producer = new KafkaProducer<byte[], byte[]>(properties)) {
            var m = ClosedLoop.run(threads, t -> {
                var keys = new byte[64][];
                for (int i = 0; i < keys.length; i++) {
                    keys[i] = ("w" + t + "-" + i).getBytes(StandardCharsets.UTF_8);
                }
                int[] next = {0};
                return () -> producer.send(new ProducerRecord<>(topic, keys[next[0]++ & 63], payload)).get();
            }, warmup(context), measure(context));
            return new Result(NAME, "kafka-producer", threads, payload.length).throughput(m.ops(), m.seconds())
                    .latency(m.nanos());
        }
    }

    static Phase warmup(BenchContext context) {
        return Phase.of(context.settings().durableWarmup());
    }

    static Phase measure(BenchContext context) {
        return Phase.of(context.settings().durableMeasure());
    }
}

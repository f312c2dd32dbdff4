package io.laminar.storage.replication.kafka;

import io.laminar.storage.FencedException;
import io.laminar.storage.StorageException;
import io.laminar.storage.concurrent.Threads;
import io.laminar.storage.replication.ChangeReplicator;
import io.laminar.storage.replication.ReplicatedChangeSink;
import io.laminar.storage.state.StateChangeFormat;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link ChangeReplicator} over Kafka: one topic per shard (partitioned by key-group range, see
 * {@link KafkaReplicatorOptions}), written by one transactional producer per shard
 * ({@code transactional.id = laminar-storage-<shard>}, {@code acks=all}, idempotent) and read back
 * with {@code isolation.level=read_committed}. Records are laid out as {@link ReplicatedRecordFormat}
 * says.
 *
 * <h2>Fencing</h2>
 * {@link #open} calls {@code initTransactions}: Kafka aborts the previous owner's open transaction
 * and bumps the producer epoch, so every later send or commit of the previous owner fails with
 * {@code ProducerFencedException}, which that owner's replicator turns into a
 * {@link FencedException} ({@link #failure()}), failing its runtime. Because a takeover reads the
 * topic only after {@link #open}, nothing the old owner commits can slip in behind the read.
 *
 * <h2>Batches and retries</h2>
 * The drainer's batches go to a sender thread ({@code laminar-replicator-<shard>}) that writes as
 * many queued batches as it finds in one transaction: each drainer batch is thus all-or-nothing and
 * the batches stay in order. A transaction that fails with a retriable or abortable error (brokers
 * unreachable, {@code NOT_ENOUGH_REPLICAS} past {@code delivery.timeout.ms}) is aborted and the same
 * records are sent again, with back-off, until it commits: a later batch is never committed without
 * an earlier one, so the topic always holds a prefix of what the WAL holds. Meanwhile durable futures
 * time out in the drainer ({@link #ackTimeout()}); {@link #problem()} says why. A fatal error (fenced,
 * not authorized, an unsupported broker) ends replication for good: {@link #failure()}. The producer
 * is never re-initialised after {@link #open}: that would fence a new owner.
 *
 * <p>Thread-safety: {@link #append} and {@link #endBatch()} on the drainer thread; the rest from any
 * thread.
 */
public final class KafkaChangeReplicator implements ChangeReplicator {

    private static final Logger log = LoggerFactory.getLogger(KafkaChangeReplicator.class);
    private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);

    private final KafkaReplicatorOptions options;
    private final Object lock = new Object();
    private final ArrayDeque<Batch> queue = new ArrayDeque<>(); // guarded by lock
    private long bufferedBytes; // guarded by lock
    private final List<ProducerRecord<byte[], byte[]>> building = new ArrayList<>(); // drainer thread
    private long[] buildingSequences; // drainer thread: per core, the highest sequence in the batch, or -1
    private long buildingBytes; // drainer thread

    private int cores;
    private KafkaProducer<byte[], byte[]> producer;
    private Admin admin;
    private Thread sender;
    private AtomicLongArray replicated;
    private volatile long[] positions;
    private volatile RuntimeException failure;
    private volatile String problem;
    private volatile boolean closed;

    /** A replicator for these options; {@link #open} connects. */
    public KafkaChangeReplicator(KafkaReplicatorOptions options) {
        this.options = options;
    }

    /** The options. */
    public KafkaReplicatorOptions options() {
        return options;
    }

    @Override
    public void open(int cores) {
        if (cores < 1) {
            throw new IllegalArgumentException("cores must be at least 1, but was " + cores);
        }
        if (producer != null) {
            throw new IllegalStateException("the replicator of shard " + options.shard() + " is already open");
        }
        this.cores = cores;
        this.replicated = new AtomicLongArray(cores);
        for (int core = 0; core < cores; core++) {
            replicated.set(core, -1);
        }
        this.buildingSequences = new long[cores];
        Arrays.fill(buildingSequences, -1);
        var adminProperties = new HashMap<>(options.clientProperties());
        adminProperties.putIfAbsent(AdminClientConfig.CLIENT_ID_CONFIG, "laminar-storage-" + options.shard() + "-admin");
        adminProperties.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG,
                (int) Math.max(ADMIN_TIMEOUT.toMillis(), options.ackTimeout().toMillis()));
        admin = Admin.create(adminProperties);
        try {
            checkOrCreateTopic();
            producer = new KafkaProducer<>(producerProperties());
            try {
                producer.initTransactions(); // fences every earlier owner of the shard
            } catch (TimeoutException e) {
                throw new StorageException("cannot take ownership of shard " + options.shard() + ": Kafka at "
                        + servers() + " did not answer initTransactions within " + options.ackTimeout() + " (" + e
                        + "). Check that the brokers are reachable and that the transaction state topic has enough "
                        + "in-sync replicas", e);
            } catch (KafkaException e) {
                throw new StorageException("cannot take ownership of shard " + options.shard() + " (transactional.id "
                        + options.transactionalId() + ") on Kafka at " + servers() + ": " + e, e);
            }
            positions = endOffsets();
        } catch (RuntimeException e) {
            closeClients();
            throw e;
        }
        sender = Threads.daemon("laminar-replicator-" + options.shard(), this::sendLoop);
        sender.start();
        log.info("replicating shard {} to topic {} ({} partitions) on {}; earlier owners are fenced", options.shard(),
                options.topic(), options.partitions(), servers());
    }

    private Map<String, Object> producerProperties() {
        var properties = new HashMap<>(options.clientProperties());
        properties.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, "laminar-storage-" + options.shard());
        properties.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        properties.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        properties.put(ProducerConfig.ACKS_CONFIG, "all");
        properties.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        properties.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, options.transactionalId());
        properties.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
        properties.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, 0);
        // A produce right after a commit may meet CONCURRENT_TRANSACTIONS while the markers are written:
        // retry soon, not after the default 100 ms, or every small transaction waits that long.
        properties.putIfAbsent(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, 10);
        // And the same answer met again must not back off exponentially up to a second (the default
        // maximum): each transaction would then wait for its predecessor's markers in ever longer
        // steps (10, 30, 70, 150 ms...). Capped at 25 ms, a transaction starts at most 25 ms after the
        // markers are written. One commit loop against the benchmark's brokers (machine heavily loaded,
        // so only indicative): commit p50 170 ms with the defaults, 46 ms with this and the brokers'
        // add.partitions.to.txn.retry.backoff.ms at 2 ms (benchmarks README, replication suite).
        properties.putIfAbsent(ProducerConfig.RETRY_BACKOFF_MAX_MS_CONFIG, 25);
        long ackMillis = options.ackTimeout().toMillis();
        // A batch that cannot be written gives up after about the ack timeout, is aborted and sent again.
        int request = (int) Math.min(30_000, Math.max(1_000, ackMillis / 2));
        properties.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, request);
        properties.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) Math.max(ackMillis, request + 1L));
        properties.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, ackMillis);
        return properties;
    }

    private String servers() {
        return String.valueOf(options.clientProperties().get("bootstrap.servers"));
    }

    private void checkOrCreateTopic() {
        var topic = options.topic();
        try {
            try {
                var description = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
                checkExisting(description.partitions().size());
                return;
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException)) {
                    throw e;
                }
            }
            if (!options.createTopic()) {
                throw new StorageException("the topic " + topic + " of shard " + options.shard() + " does not exist on "
                        + servers() + " and creating it is switched off: create it with " + options.partitions()
                        + " partitions and cleanup.policy=delete, or allow the replicator to create it");
            }
            var newTopic = new NewTopic(topic, options.partitions(), options.replicationFactor()).configs(Map.of(
                    TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG, Integer.toString(options.minInSyncReplicas()),
                    TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_DELETE,
                    // Records are deleted only behind the oldest retained checkpoint (deleteRecords),
                    // never by age or size: a lost record would be a lost acknowledged change.
                    TopicConfig.RETENTION_MS_CONFIG, "-1",
                    TopicConfig.RETENTION_BYTES_CONFIG, "-1"));
            try {
                admin.createTopics(List.of(newTopic)).all().get();
                log.info("created topic {} ({} partitions, replication factor {}, min.insync.replicas {})", topic,
                        options.partitions(), options.replicationFactor(), options.minInSyncReplicas());
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw e;
                }
                var description = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
                checkExisting(description.partitions().size());
            }
        } catch (ExecutionException e) {
            throw new StorageException("cannot check or create the topic " + topic + " of shard " + options.shard()
                    + " on Kafka at " + servers() + ": " + e.getCause() + ". Check that the brokers are reachable "
                    + "(bootstrap servers) and that this client may describe and create topics", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException("interrupted while checking the topic " + topic, e);
        }
    }

    private void checkExisting(int partitions) throws ExecutionException, InterruptedException {
        var topic = options.topic();
        if (partitions != options.partitions()) {
            throw new StorageException("the topic " + topic + " of shard " + options.shard() + " has " + partitions
                    + " partitions, but the replication is configured for " + options.partitions() + ": a key's "
                    + "partition is its key-group range, so the count cannot change while the topic holds changes. "
                    + "Configure partitions=" + partitions + " (it must divide the " + options.keyGroups()
                    + " key groups), or use another topic");
        }
        var resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        var config = admin.describeConfigs(List.of(resource)).all().get().get(resource);
        var cleanup = config.get(TopicConfig.CLEANUP_POLICY_CONFIG);
        var policy = cleanup == null ? TopicConfig.CLEANUP_POLICY_DELETE : cleanup.value();
        if (!TopicConfig.CLEANUP_POLICY_DELETE.equals(policy)) {
            throw new StorageException("the topic " + topic + " of shard " + options.shard() + " has cleanup.policy="
                    + policy + "; replication needs cleanup.policy=delete (compaction would drop changes a takeover "
                    + "must replay in order). Change it with kafka-configs --alter --add-config cleanup.policy=delete, "
                    + "or use another topic");
        }
        var minIsr = config.get(TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG);
        if (minIsr != null && Integer.parseInt(minIsr.value()) < options.minInSyncReplicas()) {
            log.warn("topic {} has min.insync.replicas={}, fewer than the configured {}: an acknowledged change may be "
                    + "held by fewer brokers than you expect", topic, minIsr.value(), options.minInSyncReplicas());
        }
    }

    private long[] endOffsets() {
        var request = new HashMap<TopicPartition, OffsetSpec>();
        for (int p = 0; p < options.partitions(); p++) {
            request.put(new TopicPartition(options.topic(), p), OffsetSpec.latest());
        }
        try {
            var result = admin.listOffsets(request, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get();
            var out = new long[options.partitions()];
            result.forEach((tp, info) -> out[tp.partition()] = info.offset());
            return out;
        } catch (ExecutionException e) {
            throw new StorageException("cannot read the end offsets of topic " + options.topic() + " on " + servers()
                    + ": " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException("interrupted while reading the end offsets of topic " + options.topic(), e);
        }
    }

    // ---- takeover ---------------------------------------------------------------------------------

    @Override
    public long restore(Map<String, String> from, long checkpointEpoch, int cores, ReplicatedChangeSink sink) {
        var topic = options.topic();
        var partitions = new ArrayList<TopicPartition>();
        for (int p = 0; p < options.partitions(); p++) {
            partitions.add(new TopicPartition(topic, p));
        }
        var properties = new HashMap<>(options.clientProperties());
        properties.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "laminar-storage-" + options.shard() + "-restore");
        properties.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        properties.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        properties.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        properties.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        properties.remove(ConsumerConfig.GROUP_ID_CONFIG);
        var timeout = Duration.ofMillis(Math.max(ADMIN_TIMEOUT.toMillis(), options.ackTimeout().toMillis()));
        try (var consumer = new KafkaConsumer<byte[], byte[]>(properties)) {
            var beginning = consumer.beginningOffsets(partitions, timeout);
            var end = consumer.endOffsets(partitions, timeout);
            var start = new long[options.partitions()];
            long toRead = 0;
            for (var tp : partitions) {
                int p = tp.partition();
                String recorded = from.get(Integer.toString(p));
                if (recorded == null && !from.isEmpty()) {
                    throw new StorageException("the checkpoint's replication positions " + from + " name no offset for "
                            + "partition " + p + " of topic " + topic + ": the topic's partitions changed after the "
                            + "checkpoint; its changes cannot be replayed in order");
                }
                start[p] = recorded == null ? 0 : Long.parseLong(recorded);
                if (start[p] < beginning.get(tp)) {
                    throw new StorageException("cannot take over shard " + options.shard() + ": the changes after the "
                            + "checkpoint start at offset " + start[p] + " of topic " + topic + " partition " + p
                            + ", but that partition now starts at offset " + beginning.get(tp) + " (offsets "
                            + start[p] + " to " + (beginning.get(tp) - 1) + " were deleted: retention or "
                            + "deleteRecords ran ahead of the checkpoints). Acknowledged changes would be lost, so "
                            + "nothing is restored; set retention.ms=-1 on the topic and restore from a backup");
                }
                if (start[p] > end.get(tp)) {
                    throw new StorageException("cannot take over shard " + options.shard() + ": the checkpoint's "
                            + "position in topic " + topic + " partition " + p + " is offset " + start[p] + ", beyond "
                            + "its end " + end.get(tp) + ": the topic was deleted and recreated, or belongs to "
                            + "another shard");
                }
                toRead += end.get(tp) - start[p];
            }
            consumer.assign(partitions);
            for (var tp : partitions) {
                consumer.seek(tp, start[tp.partition()]);
            }
            long delivered = 0;
            long lastProgress = System.nanoTime();
            log.info("takeover of shard {}: reading up to {} offsets of topic {} after the checkpoint", options.shard(),
                    toRead, topic);
            while (!caughtUp(consumer, partitions, end)) {
                var records = consumer.poll(Duration.ofMillis(200));
                if (!records.isEmpty()) {
                    lastProgress = System.nanoTime();
                } else if (System.nanoTime() - lastProgress > timeout.toNanos()) {
                    throw new StorageException("cannot take over shard " + options.shard() + ": topic " + topic
                            + " could not be read to its end within " + timeout + " (positions "
                            + positionsOf(consumer, partitions) + ", ends " + end + "); check the brokers and retry");
                }
                for (var record : records) {
                    var where = topic + " partition " + record.partition() + " offset " + record.offset();
                    var decoded = ReplicatedRecordFormat.decode(record.value(), where);
                    if (decoded.epoch() < checkpointEpoch) {
                        continue; // made before the checkpoint's cut: the checkpoint holds it
                    }
                    // The writer's cores, not this replicator's: a rescaling owner restores the old
                    // layout's changes into the old number of cores, then regroups them.
                    if (decoded.cores() != cores && checkpointEpoch < 0) {
                        throw new StorageException("the replicated record at " + where + " was written by a shard with "
                                + decoded.cores() + " cores and there is no checkpoint to rescale from (a shard is "
                                + "rescaled from a checkpoint); start this process with " + decoded.cores() + " cores "
                                + "to take the shard over, and rescale it after its first checkpoint");
                    }
                    if (decoded.cores() != cores) {
                        throw new StorageException("the replicated record at " + where + " was written by a shard with "
                                + decoded.cores() + " cores, but the checkpoint it follows was taken with " + cores
                                + " cores: every change after a checkpoint is written with its number of cores, so "
                                + "the topic and the checkpoint store belong to different shards (or the topic was "
                                + "recreated). Nothing is served; check the shard's topic and checkpoint store");
                    }
                    var change = decoded.change();
                    if (change.get(change.position()) == StateChangeFormat.CLEAR) {
                        int partition = record.partition();
                        sink.clear(decoded.core(), key -> options.partitionOf(key) == partition);
                    } else {
                        sink.change(decoded.core(), change);
                    }
                    delivered++;
                }
            }
            return delivered;
        } catch (KafkaException e) {
            throw new StorageException("cannot take over shard " + options.shard() + ": reading topic " + topic
                    + " on " + servers() + " failed: " + e, e);
        }
    }

    private static boolean caughtUp(KafkaConsumer<byte[], byte[]> consumer, List<TopicPartition> partitions,
            Map<TopicPartition, Long> end) {
        for (var tp : partitions) {
            if (consumer.position(tp) < end.get(tp)) {
                return false;
            }
        }
        return true;
    }

    private static Map<Integer, Long> positionsOf(KafkaConsumer<byte[], byte[]> consumer, List<TopicPartition> parts) {
        var out = new LinkedHashMap<Integer, Long>();
        for (var tp : parts) {
            out.put(tp.partition(), consumer.position(tp));
        }
        return out;
    }

    // ---- the drainer's side ------------------------------------------------------------------------

    @Override
    public void append(int core, long epoch, long sequence, ByteBuffer change) {
        var value = ReplicatedRecordFormat.encode(core, cores, epoch, sequence, change);
        int at = change.position();
        if (change.get(at) == StateChangeFormat.CLEAR) {
            for (int p = 0; p < options.partitions(); p++) {
                building.add(new ProducerRecord<>(options.topic(), p, null, value));
            }
        } else {
            int keyLength = change.duplicate().order(ByteOrder.LITTLE_ENDIAN).getInt(at + 1);
            var key = new byte[keyLength];
            change.get(at + 1 + Integer.BYTES, key);
            building.add(new ProducerRecord<>(options.topic(), options.partitionOf(key), key, value));
        }
        buildingSequences[core] = Math.max(buildingSequences[core], sequence);
        buildingBytes += value.length;
    }

    @Override
    public void endBatch() {
        if (building.isEmpty()) {
            return;
        }
        var batch = new Batch(List.copyOf(building), buildingSequences.clone(), buildingBytes);
        building.clear();
        Arrays.fill(buildingSequences, -1);
        buildingBytes = 0;
        synchronized (lock) {
            queue.add(batch);
            bufferedBytes += batch.bytes;
            lock.notifyAll();
            // Bounded memory: the drainer (and behind it the cores) waits while Kafka is far behind.
            while (bufferedBytes > options.maxBufferedBytes() && failure == null && !closed) {
                try {
                    lock.wait(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    @Override
    public long replicatedSequence(int core) {
        return replicated.get(core);
    }

    @Override
    public Optional<RuntimeException> failure() {
        return Optional.ofNullable(failure);
    }

    @Override
    public Optional<String> problem() {
        var f = failure;
        return f != null ? Optional.of(f.getMessage()) : Optional.ofNullable(problem);
    }

    @Override
    public Duration ackTimeout() {
        return options.ackTimeout();
    }

    @Override
    public Map<String, String> positions() {
        var current = positions;
        var out = new LinkedHashMap<String, String>();
        for (int p = 0; p < current.length; p++) {
            out.put(Integer.toString(p), Long.toString(current[p]));
        }
        return out;
    }

    @Override
    public void truncateBefore(Map<String, String> before) {
        var request = new HashMap<TopicPartition, RecordsToDelete>();
        before.forEach((partition, offset) -> {
            long o = Long.parseLong(offset);
            if (o > 0) {
                request.put(new TopicPartition(options.topic(), Integer.parseInt(partition)),
                        RecordsToDelete.beforeOffset(o));
            }
        });
        if (request.isEmpty()) {
            return;
        }
        try {
            admin.deleteRecords(request).all().get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new StorageException("cannot delete the records of topic " + options.topic() + " before " + before
                    + ": " + e.getCause(), e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new StorageException("deleting the records of topic " + options.topic() + " before " + before
                    + " did not complete within " + ADMIN_TIMEOUT, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException("interrupted while deleting records of topic " + options.topic(), e);
        }
    }

    // ---- the sender thread --------------------------------------------------------------------------

    private void sendLoop() {
        var batches = new ArrayList<Batch>();
        while (!closed && failure == null) {
            synchronized (lock) {
                if (queue.isEmpty()) {
                    try {
                        lock.wait(50);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                batches.addAll(queue);
                queue.clear();
            }
            if (batches.isEmpty()) {
                continue;
            }
            replicate(batches);
            batches.clear();
        }
    }

    /** Writes the batches in one transaction, retrying until it commits, replication fails for good, or close. */
    private void replicate(List<Batch> batches) {
        long backoffMillis = 100;
        while (!closed) {
            try {
                producer.beginTransaction();
                var sent = new ArrayList<Future<RecordMetadata>>();
                for (var batch : batches) {
                    for (var record : batch.records) {
                        sent.add(producer.send(record));
                    }
                }
                commit();
                acknowledge(batches, sent);
                return;
            } catch (RuntimeException e) {
                if (fatal(e)) {
                    return;
                }
                var message = "Kafka at " + servers() + " did not take a transaction of shard " + options.shard()
                        + " (" + e + "); retrying";
                if (!message.equals(problem)) {
                    log.warn(message);
                }
                problem = message;
                if (!abort()) {
                    return;
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(backoffMillis));
                backoffMillis = Math.min(2_000, backoffMillis * 2);
            }
        }
    }

    /** Commits; a commit that times out is retried (Kafka allows it) until it completes or fails. */
    private void commit() {
        while (true) {
            try {
                producer.commitTransaction();
                return;
            } catch (TimeoutException e) {
                if (closed) {
                    throw e;
                }
                problem = "Kafka at " + servers() + " did not complete a commit of shard " + options.shard()
                        + " within " + options.ackTimeout() + "; retrying";
            }
        }
    }

    /** Aborts the failed transaction; false if that is impossible for good (replication has failed). */
    private boolean abort() {
        while (!closed) {
            try {
                producer.abortTransaction();
                return true;
            } catch (TimeoutException e) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
            } catch (IllegalStateException e) {
                return true; // no transaction under way (beginTransaction itself failed)
            } catch (RuntimeException e) {
                if (!fatal(e)) {
                    // The producer cannot abort: its state is fatal without a cause we recognise.
                    fail(new StorageException("the Kafka producer of shard " + options.shard() + " cannot abort a "
                            + "failed transaction (" + e + "); replication has stopped. Restart the application", e));
                }
                return false;
            }
        }
        return false;
    }

    private void acknowledge(List<Batch> batches, List<Future<RecordMetadata>> sent) {
        var next = positions.clone();
        for (var future : sent) {
            try {
                var metadata = future.get(); // done: the commit succeeded
                next[metadata.partition()] = Math.max(next[metadata.partition()], metadata.offset() + 1);
            } catch (ExecutionException | InterruptedException e) {
                throw new KafkaException("a record of a committed transaction reports a failure", e);
            }
        }
        positions = next;
        long bytes = 0;
        for (var batch : batches) {
            for (int core = 0; core < batch.sequences.length; core++) {
                long sequence = batch.sequences[core];
                if (sequence >= 0) {
                    replicated.accumulateAndGet(core, sequence, Math::max);
                }
            }
            bytes += batch.bytes;
        }
        synchronized (lock) {
            bufferedBytes -= bytes;
            lock.notifyAll();
        }
        if (problem != null) {
            log.info("Kafka at {} takes the transactions of shard {} again", servers(), options.shard());
        }
        problem = null;
    }

    /** If {@code e} means replication can never succeed again, records it as the failure and returns true. */
    private boolean fatal(RuntimeException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ProducerFencedException) {
                fail(new FencedException("shard " + options.shard() + " was taken over by another owner: Kafka fenced "
                        + "this process's producer (transactional.id " + options.transactionalId() + ", " + t.getMessage()
                        + "). Nothing it does from now on counts and nothing more is acknowledged; stop it. The new "
                        + "owner holds every change acknowledged here", e));
                return true;
            }
            if (t instanceof AuthenticationException || t instanceof AuthorizationException
                    || t instanceof UnsupportedVersionException || t instanceof InvalidConfigurationException) {
                fail(new StorageException("replication of shard " + options.shard() + " to topic " + options.topic()
                        + " failed for good: " + t + ". Fix the Kafka security settings or broker version, then "
                        + "restart", e));
                return true;
            }
        }
        return false;
    }

    private void fail(RuntimeException cause) {
        if (failure == null) {
            failure = cause;
            log.error("replication of shard {} stopped: {}", options.shard(), cause.getMessage());
        }
        synchronized (lock) {
            lock.notifyAll();
        }
    }

    @Override
    public void close() {
        closed = true;
        if (sender != null) {
            synchronized (lock) {
                lock.notifyAll();
            }
            sender.interrupt();
            Threads.joinUninterruptibly(sender);
        }
        closeClients();
    }

    private void closeClients() {
        if (producer != null) {
            try {
                producer.close(Duration.ofSeconds(5));
            } catch (RuntimeException e) {
                log.debug("closing the producer of shard {}", options.shard(), e);
            }
        }
        if (admin != null) {
            admin.close(Duration.ofSeconds(5));
        }
    }

    /** One drainer batch: its records, per core the highest sequence in it (-1: none), its bytes. */
    private record Batch(List<ProducerRecord<byte[], byte[]>> records, long[] sequences, long bytes) {
    }
}

package io.laminar.storage.replication.kafka;

import io.laminar.storage.FencedException;
import io.laminar.storage.StorageException;
import io.laminar.storage.concurrent.Threads;
import io.laminar.storage.replication.ChangeReplicator;
import io.laminar.storage.replication.ReplicatedChangeSink;
import io.laminar.storage.state.StateChangeFormat;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.SecureRandom;
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
import org.apache.kafka.common.errors.InvalidTxnStateException;
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
 * A {@link ChangeReplicator} over Kafka: one topic per shard, each core's changes in one partition
 * (see {@link KafkaReplicatorOptions}), written by one transactional producer per shard
 * ({@code transactional.id = laminar-storage-<shard>}, {@code acks=all}, idempotent) and read back
 * with {@code isolation.level=read_uncommitted}. Records are laid out as {@link ReplicatedRecordFormat}
 * says.
 *
 * <h2>Acknowledgement</h2>
 * A change counts as replicated once Kafka has acknowledged its record with {@code acks=all}, and
 * every record before it: the write that makes it survive the loss of this machine. The
 * transaction it was sent in does not have to commit first: a takeover reads uncommitted records
 * too, so aborting that transaction (at a takeover, or after an error) hides nothing. Transactions
 * are here for fencing alone, and the sender commits one about every {@value #COMMIT_INTERVAL_MILLIS}
 * ms, off the acknowledgement path, so that Kafka never times it out.
 *
 * <h2>Fencing</h2>
 * {@link #open} calls {@code initTransactions}: Kafka aborts the previous owner's open transaction
 * (its markers are written to every partition it touched with {@code acks=all}) and bumps the
 * producer epoch, so every later send or commit of the previous owner fails, which that owner's
 * replicator turns into a {@link FencedException} ({@link #failure()}), failing its runtime. Because
 * a takeover reads the topic to its end only after {@link #open}, every record the old owner ever
 * had acknowledged lies before that end, and none can be appended behind it.
 *
 * <h2>Order, retries and copies</h2>
 * The drainer's batches go to a sender thread ({@code laminar-replicator-<shard>}) that sends them
 * in order, each core's records to its partition; the idempotent producer keeps a partition's
 * records in order without gaps, so a partition holds a prefix of what was sent to it.
 * {@link #replicatedSequence} moves over whole batches in order, once each record of a batch and of
 * every batch before it is acknowledged. A send that fails (brokers unreachable,
 * {@code NOT_ENOUGH_REPLICAS} past {@code delivery.timeout.ms}) aborts the transaction, and every
 * batch not yet acknowledged is sent again, in order, with back-off, until it is: the first of them
 * starts at or before the first record a partition is missing, so a partition holds its core's
 * records in order with, at worst, copies of some of them again after them. Each record carries
 * its writer's session and WAL sequence, and a takeover skips a record whose core already had a
 * record of the same session with the same or a higher sequence: it applies each change once, and
 * each core's changes as a prefix of its WAL. Meanwhile durable futures time out in the drainer
 * ({@link #ackTimeout()}); {@link #problem()} says why. A fatal error (fenced, not authorized, an
 * unsupported broker) ends replication for good: {@link #failure()}. The producer is never
 * re-initialised after {@link #open}: that would fence a new owner.
 *
 * <p>Thread-safety: {@link #append} and {@link #endBatch()} on the drainer thread; the rest from any
 * thread. The producer's callbacks run on its network thread and take the replicator's lock briefly.
 */
public final class KafkaChangeReplicator implements ChangeReplicator {

    private static final Logger log = LoggerFactory.getLogger(KafkaChangeReplicator.class);
    private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);
    /** How long a transaction stays open, at most about: well below Kafka's transaction.timeout.ms (60 s). */
    static final long COMMIT_INTERVAL_MILLIS = 1_000;
    /**
     * The takeover reads a known range to its end, so a broker should not hold its fetches back for
     * new records (Kafka's default {@code fetch.max.wait.ms} is 500 ms). Otherwise, whenever the
     * partitions of a broker that still have records are buffered here, the next fetch to that broker
     * asks only for partitions already read to their end and waits the whole time. Measured (quick
     * failover, 4 MiB tail): the tail in 0.21-0.26 s instead of 0.67-0.72 s.
     */
    static final int TAKEOVER_FETCH_MAX_WAIT_MILLIS = 10;

    private final KafkaReplicatorOptions options;
    private final Object lock = new Object();
    private final ArrayDeque<Batch> queue = new ArrayDeque<>(); // guarded by lock: ended, not sent yet
    private final ArrayDeque<Batch> unacknowledged = new ArrayDeque<>(); // guarded by lock: sent, in order
    private long bufferedBytes; // guarded by lock: of both queues
    private RuntimeException sendFailure; // guarded by lock: a send since the last retry failed
    private int retries; // guarded by lock: how many times the unacknowledged batches were sent again
    private final List<ProducerRecord<byte[], byte[]>> building = new ArrayList<>(); // drainer thread
    private long[] buildingSequences; // drainer thread: per core, the highest sequence in the batch, or -1
    private long buildingBytes; // drainer thread

    private int cores;
    private KafkaProducer<byte[], byte[]> producer;
    private Admin admin;
    private Thread sender;
    private AtomicLongArray replicated;
    private volatile long[] positions; // replaced under lock
    private long session; // this open's id in every record
    private boolean inTransaction; // sender thread
    private long transactionBegan; // sender thread, System.nanoTime()
    /** The producer's transaction.timeout.ms: Kafka aborts a transaction open longer than this by itself. */
    private final long transactionTimeoutMillis;
    private volatile RuntimeException failure;
    private volatile String problem;
    private volatile boolean closed;

    /** A replicator for these options; {@link #open} connects. */
    public KafkaChangeReplicator(KafkaReplicatorOptions options) {
        this.options = options;
        this.transactionTimeoutMillis = transactionTimeoutMillis(options.clientProperties());
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
        long id;
        do {
            id = new SecureRandom().nextLong();
        } while (id == 0);
        this.session = id;
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

    /** The transaction.timeout.ms the client properties set, or Kafka's default (60 s). */
    private static long transactionTimeoutMillis(Map<String, ?> clientProperties) {
        var value = clientProperties.get(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG);
        try {
            return value == null ? 60_000 : Long.parseLong(value.toString().trim());
        } catch (NumberFormatException e) {
            return 60_000; // the producer refuses the value itself, naming the property
        }
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
                    + " partitions, but the replication is configured for " + options.partitions() + ": core c "
                    + "writes partition c % partitions, so the count cannot change while the topic holds changes. "
                    + "Configure partitions=" + partitions + ", or use another topic");
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
            var result = admin.listOffsets(request, new ListOffsetsOptions(IsolationLevel.READ_UNCOMMITTED)).all().get();
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
        properties.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        properties.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, TAKEOVER_FETCH_MAX_WAIT_MILLIS);
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
            long copies = 0;
            // Per core: the session and sequence of the last record applied (0: none yet).
            var sessions = new long[cores];
            var sequences = new long[cores];
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
                    int core = decoded.core();
                    if (core < 0 || core >= cores || options.partitionOfCore(core) != record.partition()) {
                        throw new StorageException("the replicated record at " + where + " (core " + core + " of a "
                                + cores + "-core writer) is not where this shard's replicator writes that core's "
                                + "changes: the topic was written by another shard or with another partition count. "
                                + "Nothing is served; check the shard's topic");
                    }
                    if (decoded.session() == sessions[core] && decoded.sequence() <= sequences[core]) {
                        copies++; // sent again after a failed send: applied already
                        continue;
                    }
                    sessions[core] = decoded.session();
                    sequences[core] = decoded.sequence();
                    var change = decoded.change();
                    if (change.get(change.position()) == StateChangeFormat.CLEAR) {
                        sink.clear(core, key -> true);
                    } else {
                        sink.change(core, change);
                    }
                    delivered++;
                }
            }
            if (copies > 0) {
                log.info("takeover of shard {}: skipped {} copies of changes that a retry had sent again", options.shard(),
                        copies);
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
        var value = ReplicatedRecordFormat.encode(core, cores, epoch, sequence, session, change);
        int at = change.position();
        byte[] key = null; // a clear has none
        if (change.get(at) != StateChangeFormat.CLEAR) {
            int keyLength = change.duplicate().order(ByteOrder.LITTLE_ENDIAN).getInt(at + 1);
            key = new byte[keyLength];
            change.get(at + 1 + Integer.BYTES, key);
        }
        building.add(new ProducerRecord<>(options.topic(), options.partitionOfCore(core), key, value));
        buildingSequences[core] = Math.max(buildingSequences[core], sequence);
        buildingBytes += value.length;
    }

    @Override
    public void endBatch() {
        if (building.isEmpty()) {
            return;
        }
        var batch = new Batch(List.copyOf(building), buildingSequences.clone(), buildingBytes, options.partitions());
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
        long backoffMillis = 100;
        while (!closed && failure == null) {
            RuntimeException failed;
            synchronized (lock) {
                if (queue.isEmpty() && sendFailure == null) {
                    long waitMillis = inTransaction ? Math.max(1, COMMIT_INTERVAL_MILLIS
                            - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - transactionBegan)) : 50;
                    try {
                        lock.wait(waitMillis);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                failed = sendFailure;
            }
            try {
                if (failed != null) {
                    if (!retryAfter(failed, backoffMillis)) {
                        return;
                    }
                    backoffMillis = Math.min(2_000, backoffMillis * 2);
                    synchronized (lock) {
                        batches.addAll(unacknowledged); // all of them again, in order, before the new ones
                    }
                } else if (problem == null) {
                    backoffMillis = 100;
                }
                synchronized (lock) {
                    batches.addAll(queue);
                    unacknowledged.addAll(queue); // before they are sent: a failure sends them again too
                    queue.clear();
                }
                send(batches);
                if (inTransaction && System.nanoTime() - transactionBegan >= COMMIT_INTERVAL_MILLIS * 1_000_000) {
                    commit();
                }
            } catch (RuntimeException e) {
                // What the producer throws at once (a send or commit in an error state) counts as a failed send.
                synchronized (lock) {
                    if (sendFailure == null) {
                        sendFailure = e;
                    }
                }
            }
            batches.clear();
        }
    }

    /** Sends the batches in order in the open transaction (begun if none is), each record with its callback. */
    private void send(List<Batch> batches) {
        if (batches.isEmpty()) {
            return;
        }
        if (!inTransaction) {
            producer.beginTransaction();
            inTransaction = true;
            transactionBegan = System.nanoTime();
        }
        for (var batch : batches) {
            int attempt;
            int round;
            synchronized (lock) {
                attempt = ++batch.attempt;
                round = retries;
                batch.unsent = batch.records.size();
                Arrays.fill(batch.ends, -1);
            }
            for (var record : batch.records) {
                producer.send(record, (metadata, error) -> sent(batch, attempt, round, metadata, error));
            }
        }
    }

    /**
     * Producer network thread: one record of {@code batch}, sent in its attempt {@code attempt} after
     * {@code round} retries, is acknowledged or failed.
     */
    private void sent(Batch batch, int attempt, int round, RecordMetadata metadata, Exception error) {
        synchronized (lock) {
            if (batch.attempt != attempt || round != retries || failure != null) {
                return; // a late answer to a send before the last retry: the batch is sent again, or was
            }
            if (error != null) {
                if (sendFailure == null) {
                    sendFailure = error instanceof RuntimeException r ? r : new KafkaException(error);
                    lock.notifyAll();
                }
                return;
            }
            int partition = metadata.partition();
            batch.ends[partition] = Math.max(batch.ends[partition], metadata.offset() + 1);
            if (--batch.unsent == 0) {
                acknowledgeInOrder();
            }
        }
    }

    /** Under lock: moves the replicated sequences and positions over the acknowledged batches at the front. */
    private void acknowledgeInOrder() {
        long[] next = null;
        long bytes = 0;
        for (Batch head; (head = unacknowledged.peek()) != null && head.unsent == 0 && head.attempt > 0; ) {
            unacknowledged.poll();
            next = next == null ? positions.clone() : next;
            for (int p = 0; p < next.length; p++) {
                next[p] = Math.max(next[p], head.ends[p]);
            }
            for (int core = 0; core < head.sequences.length; core++) {
                if (head.sequences[core] >= 0) {
                    replicated.accumulateAndGet(core, head.sequences[core], Math::max);
                }
            }
            bytes += head.bytes;
        }
        if (next == null) {
            return;
        }
        positions = next;
        bufferedBytes -= bytes;
        lock.notifyAll();
        if (problem != null && sendFailure == null) {
            log.info("Kafka at {} acknowledges the changes of shard {} again", servers(), options.shard());
            problem = null;
        }
    }

    /**
     * After a failed send: unless it is fatal, aborts the transaction (which ends every send of it),
     * waits {@code backoffMillis} and returns true, so that every unacknowledged batch is sent again.
     */
    private boolean retryAfter(RuntimeException failed, long backoffMillis) {
        if (fatal(failed)) {
            return false;
        }
        var message = "Kafka at " + servers() + " did not acknowledge the changes of shard " + options.shard() + " ("
                + failed + "); sending them again";
        if (!message.equals(problem)) {
            log.warn(message);
        }
        problem = message;
        if (inTransaction) {
            if (!abort()) {
                return false;
            }
            inTransaction = false;
        }
        synchronized (lock) {
            retries++; // from now on the answers to earlier sends are ignored
            sendFailure = null;
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(backoffMillis));
        return !closed;
    }

    /** Commits the open transaction (its records are acknowledged already); a commit that times out is retried. */
    private void commit() {
        while (true) {
            try {
                producer.commitTransaction();
                inTransaction = false;
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
            if (t instanceof InvalidTxnStateException && inTransaction
                    && System.nanoTime() - transactionBegan < TimeUnit.MILLISECONDS.toNanos(transactionTimeoutMillis)) {
                // The coordinator ended the open transaction before its timeout: it does that when
                // another producer initialises the same transactional.id (a new owner), or when an
                // operator aborts it. A commit racing that meets INVALID_TXN_STATE, not a fenced epoch.
                fail(new FencedException("shard " + options.shard() + " was taken over by another owner: Kafka aborted "
                        + "this process's open transaction before its timeout (transactional.id "
                        + options.transactionalId() + ", " + t.getMessage() + "), as it does when another producer "
                        + "initialises that id. Nothing it does from now on counts and nothing more is acknowledged; "
                        + "stop it. The new owner holds every change acknowledged here", e));
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

    /**
     * One drainer batch: its records, per core the highest sequence in it (-1: none), its bytes; and,
     * guarded by the replicator's lock, its send attempt (0: not sent yet), how many of that attempt's
     * records await their acknowledgement, and per partition the offset after its last acknowledged one.
     */
    private static final class Batch {
        final List<ProducerRecord<byte[], byte[]>> records;
        final long[] sequences;
        final long bytes;
        final long[] ends;
        int attempt;
        int unsent;

        Batch(List<ProducerRecord<byte[], byte[]>> records, long[] sequences, long bytes, int partitions) {
            this.records = records;
            this.sequences = sequences;
            this.bytes = bytes;
            this.ends = new long[partitions];
        }
    }
}

package io.laminar.storage.replication.kafka;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Settings of a {@link KafkaChangeReplicator}. Immutable; built by {@link #builder(String)}, which
 * checks each value.
 *
 * <h2>Partitioning</h2>
 * A shard's topic has {@code partitions} partitions, and core {@code c} writes every change to
 * partition {@code c % partitions} ({@link #partitionOfCore}): each core's changes sit in one
 * partition in the order of its WAL, so a takeover reads each core's changes as a prefix of what
 * its WAL held, exactly what a local recovery reads, although the replicator acknowledges a change
 * as soon as Kafka has it ({@code acks=all}) rather than when a transaction commits. A change of
 * the number of cores is published as a checkpoint at the topic's end before the new layout writes
 * anything (see {@code Rescaler}), so a takeover never reads changes of two layouts after one
 * checkpoint, and the partition count never has to shrink: cores beyond the partition count share
 * partitions. The count is fixed when the topic is created: Kafka only allows adding partitions,
 * which would move a core's changes to another partition in the middle of its history, so an
 * existing topic with another count is refused.
 *
 * @param clientProperties  Kafka client settings shared by the producer, the consumer and the admin
 *                          client: {@code bootstrap.servers} and any security settings
 * @param shard             the unit of ownership; the producer's {@code transactional.id} is
 *                          {@code laminar-storage-<shard>}, so a new owner fences the old one
 * @param topic             the shard's topic
 * @param partitions        the topic's partitions; core {@code c} writes partition {@code c % partitions}
 * @param replicationFactor the replication factor of a topic the replicator creates
 * @param minInSyncReplicas {@code min.insync.replicas} of a topic the replicator creates
 * @param ackTimeout        how long a durable change waits for Kafka before its future fails
 * @param createTopic       whether a missing topic is created (otherwise refused)
 * @param maxBufferedBytes  how many bytes of changes may wait for Kafka before the drainer waits
 */
public record KafkaReplicatorOptions(Map<String, Object> clientProperties, String shard, String topic,
        int partitions, short replicationFactor, int minInSyncReplicas, Duration ackTimeout,
        boolean createTopic, long maxBufferedBytes) {

    public KafkaReplicatorOptions {
        clientProperties = Map.copyOf(clientProperties);
    }

    /** The {@code transactional.id} of the shard's producer. */
    public String transactionalId() {
        return "laminar-storage-" + shard;
    }

    /** The partition that core {@code core}'s changes go to: {@code core % partitions}. */
    public int partitionOfCore(int core) {
        return core % partitions;
    }

    /** A builder for shard {@code shard}, with the defaults below. */
    public static Builder builder(String shard) {
        return new Builder(shard);
    }

    /** Builds {@link KafkaReplicatorOptions}. Not thread-safe. */
    public static final class Builder {
        private final Map<String, Object> clientProperties = new LinkedHashMap<>();
        private final String shard;
        private String topic;
        private int partitions = 16;
        private short replicationFactor = 3;
        private int minInSyncReplicas = 2;
        private Duration ackTimeout = Duration.ofSeconds(30);
        private boolean createTopic = true;
        private long maxBufferedBytes = 64L << 20;

        private Builder(String shard) {
            Objects.requireNonNull(shard, "shard");
            if (shard.isBlank() || !shard.matches("[A-Za-z0-9._-]+") || shard.length() > 200) {
                throw new IllegalArgumentException("shard must be 1 to 200 letters, digits, '.', '_' or '-' (it names "
                        + "a Kafka topic and a transactional.id), but was '" + shard + "'");
            }
            this.shard = shard;
        }

        /** {@code bootstrap.servers} (required). */
        public Builder bootstrapServers(String servers) {
            Objects.requireNonNull(servers, "servers");
            if (servers.isBlank()) {
                throw new IllegalArgumentException("bootstrapServers must name at least one broker, but was blank");
            }
            clientProperties.put("bootstrap.servers", servers);
            return this;
        }

        /** Another client setting (security, client.id, ...); the replicator's own settings win. */
        public Builder clientProperty(String name, Object value) {
            clientProperties.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /** The topic (default {@code laminar-<shard>-changes}). */
        public Builder topic(String topic) {
            Objects.requireNonNull(topic, "topic");
            if (!topic.matches("[A-Za-z0-9._-]{1,249}")) {
                throw new IllegalArgumentException("topic must be 1 to 249 letters, digits, '.', '_' or '-', but was '"
                        + topic + "'");
            }
            this.topic = topic;
            return this;
        }

        /** The topic's partitions (default 16), at least 1: as many as the shard has cores at most spreads them best. */
        public Builder partitions(int partitions) {
            if (partitions < 1) {
                throw new IllegalArgumentException("partitions must be at least 1, but was " + partitions);
            }
            this.partitions = partitions;
            return this;
        }

        /** The replication factor of a created topic (default 3). */
        public Builder replicationFactor(int factor) {
            if (factor < 1 || factor > Short.MAX_VALUE) {
                throw new IllegalArgumentException("replicationFactor must be at least 1, but was " + factor);
            }
            this.replicationFactor = (short) factor;
            return this;
        }

        /** {@code min.insync.replicas} of a created topic (default 2). */
        public Builder minInSyncReplicas(int replicas) {
            if (replicas < 1) {
                throw new IllegalArgumentException("minInSyncReplicas must be at least 1, but was " + replicas);
            }
            this.minInSyncReplicas = replicas;
            return this;
        }

        /** How long a durable change waits for Kafka (default 30 s; at least 1 s). */
        public Builder ackTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.compareTo(Duration.ofSeconds(1)) < 0) {
                throw new IllegalArgumentException("ackTimeout must be at least 1 s, but was " + timeout);
            }
            this.ackTimeout = timeout;
            return this;
        }

        /** Whether a missing topic is created (default true). */
        public Builder createTopic(boolean create) {
            this.createTopic = create;
            return this;
        }

        /** Bytes of changes that may wait for Kafka before the drainer waits too (default 64 MiB; at least 1 MiB). */
        public Builder maxBufferedBytes(long bytes) {
            if (bytes < (1L << 20)) {
                throw new IllegalArgumentException("maxBufferedBytes must be at least 1 MiB, but was " + bytes);
            }
            this.maxBufferedBytes = bytes;
            return this;
        }

        /**
         * The options.
         *
         * @throws IllegalArgumentException if a value does not fit the others
         */
        public KafkaReplicatorOptions build() {
            if (!clientProperties.containsKey("bootstrap.servers")) {
                throw new IllegalArgumentException("bootstrapServers is required: the Kafka brokers of shard " + shard);
            }
            if (minInSyncReplicas > replicationFactor) {
                throw new IllegalArgumentException("minInSyncReplicas (" + minInSyncReplicas + ") must not exceed "
                        + "replicationFactor (" + replicationFactor + "): no write could ever succeed");
            }
            return new KafkaReplicatorOptions(clientProperties, shard, topic == null ? "laminar-" + shard + "-changes"
                    : topic, partitions, replicationFactor, minInSyncReplicas, ackTimeout, createTopic,
                    maxBufferedBytes);
        }
    }
}

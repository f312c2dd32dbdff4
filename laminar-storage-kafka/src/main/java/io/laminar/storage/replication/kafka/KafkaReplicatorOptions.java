package io.laminar.storage.replication.kafka;

import io.laminar.storage.KeyGroups;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Settings of a {@link KafkaChangeReplicator}. Immutable; built by {@link #builder(String)}, which
 * checks each value.
 *
 * <h2>Partitioning</h2>
 * A shard's topic has {@code partitions} partitions, a divisor of {@code keyGroups}: partition
 * {@code p} holds the changes of the contiguous key groups {@code [p * G / P, (p + 1) * G / P)}
 * ({@code G} key groups, {@code P} partitions; a key's group is {@link KeyGroups#keyGroupOf}), so
 * {@code partition = keyGroup * P / G}. The partition of a key depends only on the key, never on
 * the number of cores: the changes of a key stay in one partition, in order, when the shard is
 * rescaled to another core count, and Kafka never has to reduce a topic's partitions. Kafka allows
 * only more partitions later, which would move keys; so the count is fixed when the topic is
 * created and an existing topic with another count is refused.
 *
 * @param clientProperties  Kafka client settings shared by the producer, the consumer and the admin
 *                          client: {@code bootstrap.servers} and any security settings
 * @param shard             the unit of ownership; the producer's {@code transactional.id} is
 *                          {@code laminar-storage-<shard>}, so a new owner fences the old one
 * @param topic             the shard's topic
 * @param partitions        the topic's partitions, a divisor of {@code keyGroups}
 * @param keyGroups         the key groups the keys hash to ({@link KeyGroups#DEFAULT_KEY_GROUPS})
 * @param replicationFactor the replication factor of a topic the replicator creates
 * @param minInSyncReplicas {@code min.insync.replicas} of a topic the replicator creates
 * @param ackTimeout        how long a durable change waits for Kafka before its future fails
 * @param createTopic       whether a missing topic is created (otherwise refused)
 * @param maxBufferedBytes  how many bytes of changes may wait for Kafka before the drainer waits
 */
public record KafkaReplicatorOptions(Map<String, Object> clientProperties, String shard, String topic,
        int partitions, int keyGroups, short replicationFactor, int minInSyncReplicas, Duration ackTimeout,
        boolean createTopic, long maxBufferedBytes) {

    public KafkaReplicatorOptions {
        clientProperties = Map.copyOf(clientProperties);
    }

    /** The {@code transactional.id} of the shard's producer. */
    public String transactionalId() {
        return "laminar-storage-" + shard;
    }

    /** The partition of key group {@code keyGroup}: {@code keyGroup * partitions / keyGroups}. */
    public int partitionOfKeyGroup(int keyGroup) {
        return (int) ((long) keyGroup * partitions / keyGroups);
    }

    /** The partition of {@code key}. */
    public int partitionOf(byte[] key) {
        return partitionOfKeyGroup(KeyGroups.keyGroupOf(key, keyGroups));
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
        private int keyGroups = KeyGroups.DEFAULT_KEY_GROUPS;
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

        /** The topic's partitions (default 16), a divisor of the key groups. */
        public Builder partitions(int partitions) {
            this.partitions = partitions;
            return this;
        }

        /** The key groups (default 256). */
        public Builder keyGroups(int keyGroups) {
            this.keyGroups = KeyGroups.checkKeyGroups(keyGroups);
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
            if (partitions < 1 || keyGroups % partitions != 0) {
                throw new IllegalArgumentException("partitions must be a divisor of keyGroups (" + keyGroups
                        + ") so that each partition holds a contiguous range of whole key groups, but was " + partitions);
            }
            if (minInSyncReplicas > replicationFactor) {
                throw new IllegalArgumentException("minInSyncReplicas (" + minInSyncReplicas + ") must not exceed "
                        + "replicationFactor (" + replicationFactor + "): no write could ever succeed");
            }
            return new KafkaReplicatorOptions(clientProperties, shard, topic == null ? "laminar-" + shard + "-changes"
                    : topic, partitions, keyGroups, replicationFactor, minInSyncReplicas, ackTimeout, createTopic,
                    maxBufferedBytes);
        }
    }
}

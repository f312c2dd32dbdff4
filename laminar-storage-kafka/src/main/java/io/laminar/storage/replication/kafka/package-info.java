/**
 * Replication of durable changes through Kafka: {@link io.laminar.storage.replication.kafka.KafkaChangeReplicator}
 * implements the core's {@link io.laminar.storage.replication.ChangeReplicator} with a transactional,
 * idempotent {@code acks=all} producer per shard (its {@code transactional.id} fences the previous
 * owner; a change counts once acknowledged, not once its transaction commits), one topic per shard
 * with each core's changes in one partition, and a {@code read_uncommitted} consumer for takeovers
 * that skips copies a retry sent again; {@link io.laminar.storage.replication.kafka.ReplicatedRecordFormat} is the record
 * layout. Depends on the core's {@code replication}, {@code state} ({@code StateChangeFormat}) and
 * root packages, {@code kafka-clients} and the SLF4J API; no Spring.
 */
package io.laminar.storage.replication.kafka;

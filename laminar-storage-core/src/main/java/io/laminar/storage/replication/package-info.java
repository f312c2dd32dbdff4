/**
 * The replication SPI: what the runtime calls to copy every durable change to another system
 * (Kafka, in module {@code laminar-storage-kafka}) before acknowledging it, and to read the copies
 * back when a new owner takes a shard over. {@link io.laminar.storage.replication.ChangeReplicator}
 * is the interface, {@link io.laminar.storage.FencedException} what a replicator throws
 * once another owner has taken over. Plain Java: depends on {@code io.laminar.storage}
 * ({@code StorageException}) and the JDK only; the backends live in modules of their own.
 */
package io.laminar.storage.replication;

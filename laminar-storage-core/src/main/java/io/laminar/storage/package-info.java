/**
 * laminar-storage: the durability layer of a stream processor.
 *
 * <p>Sub-packages by concern, each depending only on those listed before it (tests enforce it):
 * {@code concurrent} (the thread plumbing: daemon threads, joins, the polling loops' back-off),
 * {@code io} (the seam through which every file is opened, so tests can inject failures),
 * {@code wal} (the write-ahead log), {@code percore} (one log per core, epochs and barriers),
 * {@code state} (the state stores), {@code changelog} (Ring 1: the drainer that makes Ring 0's
 * changes durable), {@code store} (the checkpoint store SPI; it depends on {@code io} alone),
 * {@code checkpoint} (taking checkpoints and recovering from them) and {@code runtime} (the per-core
 * threads over all of it). This package holds {@link io.laminar.storage.StorageException}, the root
 * of the library's exceptions, and depends on the JDK alone. Every package may also use
 * {@code concurrent} (threads and back-off, JDK only, below everything), every package from
 * {@code wal} on may log through the SLF4J API, and no two packages depend on each other.
 *
 * <p>This module is plain Java 17: it depends on no Spring, Micrometer, cloud SDK or Kafka class
 * (an enforcer rule and a test check it); the Spring Boot starter adapts its listener and
 * statistics interfaces, and backends live in modules of their own ({@code laminar-storage-s3}).
 * The test is {@code io.laminar.storage.ArchitectureTest} in the core's tests: it checks every rule
 * written in these package-info files. {@code ARCHITECTURE.md} at the root of the repository draws
 * the whole picture.
 */
package io.laminar.storage;

/**
 * The S3 {@link io.laminar.storage.store.CheckpointStore}:
 * {@link io.laminar.storage.store.s3.S3CheckpointStore}, for any S3-compatible object store.
 * Depends on the core's {@code store} SPI and what is below it ({@code io}, {@code io.laminar.storage},
 * {@code concurrent}), the AWS SDK v2 S3 client, the SLF4J API and the JDK: no other package of the
 * core ({@code S3ArchitectureTest} checks it).
 */
package io.laminar.storage.store.s3;

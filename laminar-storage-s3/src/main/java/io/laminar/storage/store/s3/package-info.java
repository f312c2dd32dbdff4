/**
 * The S3 {@link io.laminar.storage.store.CheckpointStore}:
 * {@link io.laminar.storage.store.s3.S3CheckpointStore}, for any S3-compatible object store.
 * Depends on the {@code checkpoint} package, the AWS SDK v2 S3 client (an optional dependency of
 * laminar-storage-core: only applications that use this package need it on the class path) and the JDK.
 */
package io.laminar.storage.store.s3;

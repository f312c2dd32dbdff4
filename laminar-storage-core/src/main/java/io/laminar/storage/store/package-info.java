/**
 * The checkpoint store SPI: where checkpoints live. {@link io.laminar.storage.store.CheckpointStore}
 * and its contract (every implementation runs the abstract {@code CheckpointStoreContract} of
 * core's test-jar), the {@link io.laminar.storage.store.CheckpointManifest} and its stored form
 * ({@link io.laminar.storage.store.ManifestCodec}: JSON sealed with a CRC32C), the references and
 * values a manifest holds, the one rule for store paths ({@link io.laminar.storage.store.StorePaths}),
 * reading a file verified against its reference
 * ({@link io.laminar.storage.store.VerifyingInputStream}), and the file-system implementation
 * ({@link io.laminar.storage.store.FileSystemCheckpointStore}). The S3 store lives in its own module
 * ({@code laminar-storage-s3}); a GCS or Azure store would too.
 *
 * <p>Depends on {@code io.laminar.storage} ({@code StorageException}), {@code io}, Jackson and the
 * JDK: nothing about WALs, cores, state or how checkpoints are taken (a test enforces it).
 */
package io.laminar.storage.store;

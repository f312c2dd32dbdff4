/**
 * Checkpoints: the manifest, the {@link io.laminar.storage.checkpoint.CheckpointStore} contract and
 * its file-system implementation (the S3 one is in the {@code s3} subpackage), incremental checkpoints
 * ({@link io.laminar.storage.checkpoint.IncrementalCheckpointManager}, state files in
 * {@link io.laminar.storage.checkpoint.StateFileFormat}), the
 * {@link io.laminar.storage.checkpoint.StateCheckpointCoordinator} that runs them on aligned barriers,
 * the {@link io.laminar.storage.checkpoint.RecoveryManager}, and the
 * {@link io.laminar.storage.checkpoint.CheckpointHistory} that monitoring reads. Depends on {@code percore},
 * {@code changelog}, {@code state}, {@code io}, Jackson (manifests) and the JDK.
 */
package io.laminar.storage.checkpoint;

/**
 * Checkpoint orchestration: the {@link io.laminar.storage.checkpoint.StateCheckpointCoordinator}
 * that takes checkpoints on aligned barriers, the {@code IncrementalCheckpointManager}
 * that writes each core's chain of full and delta state files ({@code StateFileFormat},
 * named by {@link io.laminar.storage.checkpoint.CoreChains}), the {@link io.laminar.storage.checkpoint.RecoveryManager}
 * that restores the newest valid checkpoint and replays the WAL on top, and the
 * {@link io.laminar.storage.checkpoint.CheckpointHistory} that monitoring reads. Where checkpoints
 * are stored is the {@code store} package's concern. What only the orchestration uses (the state
 * file format, the chain bookkeeping) is package-private.
 *
 * <p>Depends on {@code store}, {@code percore}, {@code changelog}, {@code state}, {@code replication}, {@code io},
 * {@code io.laminar.storage} ({@code StorageException}) and the JDK (a test enforces it); not on
 * {@code wal} directly, nor on {@code runtime}.
 */
package io.laminar.storage.checkpoint;

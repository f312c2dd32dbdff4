/**
 * The per-core write-ahead log: one {@link io.laminar.storage.wal.WriteAheadLog} per core in one
 * directory, each written by exactly one thread through a {@link io.laminar.storage.percore.CoreWalWriter},
 * with a global epoch that every core marks in its log with a barrier record, durable
 * acknowledgements by per-core sequence number, a deterministic replay that merges the cores
 * epoch by epoch, and the epoch part of checkpointing
 * ({@link io.laminar.storage.percore.EpochCoordinator}).
 *
 * <p>Entry point: {@link io.laminar.storage.percore.PerCoreWalManager#open}. The entry header inside each
 * WAL payload is documented in {@code CoreRecordFormat}; everything below it (frames, segments,
 * recovery) is the {@code wal} package's format, reused unchanged.
 *
 * <p>Depends only on {@code io.laminar.storage.wal} (through its public API),
 * {@code io.laminar.storage.io}, {@code io.laminar.storage} and the JDK. Nothing in the {@code wal}
 * package depends on this one.
 */
package io.laminar.storage.percore;

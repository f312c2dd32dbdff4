/**
 * Keyed state stores.
 *
 * <ul>
 *   <li>{@link io.laminar.storage.state.ChangelogAwareStateStore}: the Ring 0 store of one core. It
 *       publishes every change to a {@link io.laminar.storage.state.ChangelogSink} (which Ring 1
 *       makes durable) and takes O(1) copy-on-write {@link io.laminar.storage.state.StateSnapshot}s
 *       that a checkpoint reads, or diffs against the previous one, from another thread.</li>
 *   <li>{@link io.laminar.storage.state.WalStateStore}: a store that writes every change to a
 *       {@link io.laminar.storage.wal.WriteAheadLog} before applying it and rebuilds itself from
 *       the log, for users without the Ring 0 / Ring 1 split.</li>
 * </ul>
 *
 * <p>Inside, both keep their map in a {@code CowTree}: a B+-tree (key order, O(1) snapshots) whose
 * nodes are copied on write and whose cells keep, in undo logs, the versions snapshots still read,
 * with a {@code PointIndex} beside it, a hash index that takes point reads and writes straight to
 * the key's cell.
 *
 * <p>Depends on the JDK, {@code io.laminar.storage} (exceptions) and {@code io.laminar.storage.wal}
 * only. It must not depend on the per-core WAL or the changelog drainer: they depend on
 * {@code ChangelogSink} instead.
 */
package io.laminar.storage.state;

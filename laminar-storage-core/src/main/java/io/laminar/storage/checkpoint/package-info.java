/**
 * Checkpoints: the manifest, the {@link io.laminar.storage.checkpoint.CheckpointStore} contract and
 * its file-system implementation, incremental checkpoints, and recovery. Depends on {@code percore},
 * {@code state}, {@code io}, Jackson (manifests) and the JDK.
 */
package io.laminar.storage.checkpoint;

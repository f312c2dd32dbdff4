/**
 * Micrometer observations of laminar-storage: spans and timers of checkpoints and their steps and of
 * the recovery at start ({@link io.laminar.storage.spring.observation.LaminarStorageObservations},
 * named in {@link io.laminar.storage.spring.observation.LaminarStorageObservationDocumentation}).
 * Adapters of core's listeners; no wiring.
 */
package io.laminar.storage.spring.observation;

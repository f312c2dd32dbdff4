/**
 * Auto-configuration of laminar-storage's Micrometer observations
 * ({@link io.laminar.storage.spring.observation.LaminarStorageObservations}). Wiring only; depends on
 * the core auto-configuration and, optionally, Micrometer's observation API.
 */
package io.laminar.storage.spring.autoconfigure.observation;

/**
 * Auto-configuration of laminar-storage's Micrometer metrics
 * ({@link io.laminar.storage.spring.actuate.LaminarStorageMetrics}). Wiring only; depends on the
 * core auto-configuration and, optionally, Micrometer.
 */
package io.laminar.storage.spring.autoconfigure.metrics;

/**
 * The runtime side of the starter's monitoring: the {@code checkpoints} actuator endpoint
 * ({@link io.laminar.storage.spring.actuate.CheckpointsEndpoint}), the opt-in HTML checkpoint page
 * ({@link io.laminar.storage.spring.actuate.CheckpointPageEndpoint}, charts from
 * {@code laminar-storage-report}), the health indicator
 * ({@link io.laminar.storage.spring.actuate.LaminarStorageHealthIndicator}) and the Micrometer binder
 * ({@link io.laminar.storage.spring.actuate.LaminarStorageMetrics}). They read what the core already
 * keeps (WAL statistics, the {@link io.laminar.storage.checkpoint.CheckpointHistory}, the changelog
 * statistics) and never sit on the append path. Depends on the core, {@code laminar-storage-report},
 * Spring Boot's actuator and health modules, and Micrometer; wired by the auto-configurations in
 * {@code io.laminar.storage.spring.autoconfigure.metrics}, {@code .endpoint} and {@code .health}.
 */
package io.laminar.storage.spring.actuate;

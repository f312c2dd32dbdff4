/**
 * Auto-configuration of the {@code checkpoints} actuator endpoint
 * ({@link io.laminar.storage.spring.actuate.CheckpointsEndpoint}). Wiring only; depends on the core
 * auto-configuration and, optionally, Spring Boot's actuator.
 */
package io.laminar.storage.spring.autoconfigure.endpoint;

/**
 * Auto-configuration of the {@code checkpoints} actuator endpoint
 * ({@link io.laminar.storage.spring.actuate.CheckpointsEndpoint}) and of the opt-in checkpoint page
 * ({@link io.laminar.storage.spring.actuate.CheckpointPageEndpoint}, {@code laminar.storage.page.enabled}). Wiring only; depends on the core
 * auto-configuration and, optionally, Spring Boot's actuator.
 */
package io.laminar.storage.spring.autoconfigure.endpoint;

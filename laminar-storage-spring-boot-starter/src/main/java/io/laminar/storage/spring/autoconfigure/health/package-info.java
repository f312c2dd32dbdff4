/**
 * Auto-configuration of the laminar-storage health indicator
 * ({@link io.laminar.storage.spring.actuate.LaminarStorageHealthIndicator}). Wiring only; depends on
 * the core auto-configuration and, optionally, Spring Boot's health module.
 */
package io.laminar.storage.spring.autoconfigure.health;

/**
 * Auto-configuration of laminar-storage's core beans: {@link
 * io.laminar.storage.spring.autoconfigure.LaminarStorageProperties} ({@code laminar.storage.*}),
 * the checkpoint store (filesystem or S3), the per-core write-ahead log, the runtime and the
 * lifecycle that recovers it before the application takes traffic, plus the customizer interfaces.
 *
 * <p>Wiring only: the behaviour lives in {@code laminar-storage-core}, which knows nothing of
 * Spring. May depend on core, Spring Boot's auto-configuration and, optionally, the AWS SDK.
 */
package io.laminar.storage.spring.autoconfigure;

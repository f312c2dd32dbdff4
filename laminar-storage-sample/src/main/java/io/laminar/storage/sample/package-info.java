/**
 * A runnable Spring Boot application on laminar-storage: HTTP and file ingest of keyed amounts into
 * per-core state, exactly once across crashes.
 *
 * <p>It uses the library only through {@code laminar-storage-spring-boot-starter}: the starter
 * makes and starts the {@link io.laminar.storage.runtime.LaminarRuntime}; this package contributes
 * the recovery hook ({@link io.laminar.storage.runtime.CoreInitializer}), the cut context
 * ({@link io.laminar.storage.runtime.CutContextProvider}) and the manifest's source offsets
 * ({@code StateCheckpointCoordinatorCustomizer}). Everything a core changes goes through
 * {@link io.laminar.storage.sample.CoreLedger}, on that core's thread; the values it stores are
 * documented byte by byte in {@link io.laminar.storage.sample.Account},
 * {@link io.laminar.storage.sample.BatchPart}, {@link io.laminar.storage.sample.BatchMarker} and
 * {@link io.laminar.storage.sample.SourcePosition}.
 */
package io.laminar.storage.sample;

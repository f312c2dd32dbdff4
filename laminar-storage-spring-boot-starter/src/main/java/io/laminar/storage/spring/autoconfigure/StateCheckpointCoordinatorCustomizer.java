package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.checkpoint.StateCheckpointCoordinator;

/**
 * Adjusts the runtime's {@link StateCheckpointCoordinator} when the runtime builds it at start,
 * after the {@code laminar.storage.checkpoint.*} properties (interval, retention) were applied:
 * barrier timeout, delta chain limits, how the manifest's sources, operators and watermark are made
 * of the cores' cuts.
 *
 * <p>Every bean of this type is applied, in {@link org.springframework.core.Ordered} /
 * {@link org.springframework.core.annotation.Order @Order} order. Called once, on the thread that
 * starts the runtime (the one that refreshes the application context).
 */
@FunctionalInterface
public interface StateCheckpointCoordinatorCustomizer {

    /** Adjusts {@code builder}, which already holds the values of the properties. */
    void customize(StateCheckpointCoordinator.Builder builder);
}

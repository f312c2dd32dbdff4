package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.percore.PerCoreWalOptions;

/**
 * Adjusts the options of the auto-configured {@link io.laminar.storage.percore.PerCoreWalManager}
 * after the {@code laminar.storage.*} properties were applied to them, for what no property covers:
 * the maximum entry size, and through {@code builder.wal(wal -> ...)} the options of every core's
 * log (write buffer, corruption policy, group-commit batch size, ...).
 *
 * <p>Every bean of this type is applied, in {@link org.springframework.core.Ordered} /
 * {@link org.springframework.core.annotation.Order @Order} order. Called once, on the thread that
 * creates the bean.
 */
@FunctionalInterface
public interface PerCoreWalOptionsCustomizer {

    /** Adjusts {@code builder}, which already holds the values of the properties. */
    void customize(PerCoreWalOptions.Builder builder);
}

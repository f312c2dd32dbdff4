package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.runtime.LaminarRuntime;

/**
 * Adjusts the auto-configured {@link LaminarRuntime} before it is built: task queue capacity,
 * the cut context, what runs on each core after recovery, more checkpoint settings
 * ({@link LaminarRuntime.Builder#checkpoints}, which is repeatable).
 *
 * <p>Every bean of this type is applied, in {@link org.springframework.core.Ordered} /
 * {@link org.springframework.core.annotation.Order @Order} order, after the properties and the
 * {@link io.laminar.storage.runtime.CutContextProvider} and
 * {@link io.laminar.storage.runtime.CoreInitializer} beans. Called once, on the thread that creates
 * the bean.
 *
 * <p>{@link io.laminar.storage.checkpoint.CheckpointListener} beans need no customizer: the
 * {@link LaminarRuntimeLifecycle} adds every one of them to the runtime when it starts (adding one
 * here as well would make it hear every checkpoint twice). A customizer that calls
 * {@code cutContext} or {@code onRecovered} replaces what the beans of those types provide.
 */
@FunctionalInterface
public interface LaminarRuntimeCustomizer {

    /** Adjusts {@code builder}, which already holds the values of the properties. */
    void customize(LaminarRuntime.Builder builder);
}

package io.laminar.storage.spring.autoconfigure.metrics;

import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.actuate.LaminarStorageMetrics;
import io.laminar.storage.spring.actuate.RecoveryProgressTracker;
import io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfiguration;
import io.laminar.storage.spring.autoconfigure.history.LaminarStorageCheckpointHistoryAutoConfiguration;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * {@link EnableAutoConfiguration Auto-configuration} of the {@link LaminarStorageMetrics} binder,
 * which Spring Boot binds to every {@link MeterRegistry}: present when Micrometer is on the
 * classpath and there are a registry, a {@link LaminarRuntime} and a {@link CheckpointHistory}.
 */
@AutoConfiguration(after = {LaminarStorageAutoConfiguration.class, LaminarStorageCheckpointHistoryAutoConfiguration.class},
        afterName = {"org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration",
                "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration"})
@ConditionalOnClass(MeterRegistry.class)
@ConditionalOnBean({MeterRegistry.class, LaminarRuntime.class, CheckpointHistory.class})
public final class LaminarStorageMetricsAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    LaminarStorageMetrics laminarStorageMetrics(LaminarRuntime runtime, CheckpointHistory history,
                                                ObjectProvider<RecoveryProgressTracker> recoveryProgress) {
        return new LaminarStorageMetrics(runtime, history, Tags.empty(), recoveryProgress.getIfAvailable());
    }
}

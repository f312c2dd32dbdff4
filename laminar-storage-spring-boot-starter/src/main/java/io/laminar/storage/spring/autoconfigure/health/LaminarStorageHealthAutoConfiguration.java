package io.laminar.storage.spring.autoconfigure.health;

import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.actuate.LaminarStorageHealthIndicator;
import io.laminar.storage.spring.actuate.RecoveryProgressTracker;
import io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfiguration;
import io.laminar.storage.spring.autoconfigure.LaminarStorageProperties;
import io.laminar.storage.spring.autoconfigure.history.LaminarStorageCheckpointHistoryAutoConfiguration;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.Status;
import org.springframework.context.annotation.Bean;

/**
 * {@link EnableAutoConfiguration Auto-configuration} of the {@link LaminarStorageHealthIndicator}
 * (contributor {@code laminarStorage}), switched off with
 * {@code management.health.laminar-storage.enabled=false}. Its stale-checkpoint threshold and
 * status come from {@code laminar.storage.health.max-checkpoint-age} (zero: three times
 * {@code laminar.storage.checkpoint.interval}) and {@code laminar.storage.health.stale-checkpoint-status}.
 */
@AutoConfiguration(after = {LaminarStorageAutoConfiguration.class, LaminarStorageCheckpointHistoryAutoConfiguration.class},
        beforeName = "org.springframework.boot.health.autoconfigure.contributor.HealthContributorAutoConfiguration")
@ConditionalOnClass(Health.class)
@ConditionalOnEnabledHealthIndicator("laminar-storage")
@ConditionalOnBean({LaminarRuntime.class, CheckpointHistory.class})
@EnableConfigurationProperties(LaminarStorageProperties.class)
public final class LaminarStorageHealthAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean(name = "laminarStorageHealthIndicator", value = LaminarStorageHealthIndicator.class)
    LaminarStorageHealthIndicator laminarStorageHealthIndicator(LaminarRuntime runtime, CheckpointHistory history,
                                                                LaminarStorageProperties properties,
                                                                ObjectProvider<RecoveryProgressTracker> recoveryProgress) {
        var status = switch (properties.getHealth().getStaleCheckpointStatus()) {
            case DOWN -> Status.DOWN;
            case OUT_OF_SERVICE -> Status.OUT_OF_SERVICE;
        };
        return new LaminarStorageHealthIndicator(runtime, history, properties.effectiveMaxCheckpointAge(), status,
                recoveryProgress.getIfAvailable());
    }
}

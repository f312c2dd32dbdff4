package io.laminar.storage.spring.autoconfigure.endpoint;

import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.actuate.CheckpointsEndpoint;
import io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfiguration;
import io.laminar.storage.spring.autoconfigure.history.LaminarStorageCheckpointHistoryAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * {@link EnableAutoConfiguration Auto-configuration} of the {@code checkpoints} actuator endpoint
 * ({@link CheckpointsEndpoint}). As for every endpoint, the bean exists only while the endpoint is
 * available: its access is not {@code none} and it is exposed
 * ({@code management.endpoints.web.exposure.include=checkpoints}, or over JMX).
 */
@AutoConfiguration(after = {LaminarStorageAutoConfiguration.class, LaminarStorageCheckpointHistoryAutoConfiguration.class})
@ConditionalOnClass(ConditionalOnAvailableEndpoint.class)
@ConditionalOnAvailableEndpoint(CheckpointsEndpoint.class)
@ConditionalOnBean({LaminarRuntime.class, CheckpointHistory.class})
public final class LaminarStorageEndpointAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    CheckpointsEndpoint checkpointsEndpoint(LaminarRuntime runtime, CheckpointHistory history) {
        return new CheckpointsEndpoint(runtime, history);
    }
}

package io.laminar.storage.spring.autoconfigure.endpoint;

import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.actuate.CheckpointPageEndpoint;
import io.laminar.storage.spring.actuate.CheckpointPageEndpoint.HealthSummary;
import io.laminar.storage.spring.actuate.LaminarStorageHealthIndicator;
import io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfiguration;
import io.laminar.storage.spring.autoconfigure.history.LaminarStorageCheckpointHistoryAutoConfiguration;
import java.util.function.Supplier;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.actuate.autoconfigure.endpoint.expose.EndpointExposure;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;
import org.springframework.util.ClassUtils;

/**
 * {@link EnableAutoConfiguration Auto-configuration} of the checkpoint page
 * ({@link CheckpointPageEndpoint}, web endpoint {@code laminar}): off unless
 * {@code laminar.storage.page.enabled=true}, and then, as every actuator endpoint, present only while
 * the endpoint is available (exposed over the web, {@code management.endpoints.web.exposure.include=laminar},
 * and its access not {@code none}). When it is off no bean is defined and nothing is mapped.
 *
 * <p>The page shows the {@code laminarStorage} health indicator's status when that bean exists; it
 * looks the indicator up on each request, so the page works without {@code spring-boot-health} on the
 * classpath and whatever the order of the auto-configurations.
 */
@AutoConfiguration(after = {LaminarStorageAutoConfiguration.class, LaminarStorageCheckpointHistoryAutoConfiguration.class})
@ConditionalOnBooleanProperty("laminar.storage.page.enabled")
@ConditionalOnClass(ConditionalOnAvailableEndpoint.class)
@ConditionalOnAvailableEndpoint(value = CheckpointPageEndpoint.class, exposure = EndpointExposure.WEB)
@ConditionalOnBean({LaminarRuntime.class, CheckpointHistory.class})
public final class LaminarStoragePageAutoConfiguration {

    private static final boolean HEALTH_PRESENT = ClassUtils.isPresent(
            "org.springframework.boot.health.contributor.HealthIndicator", LaminarStoragePageAutoConfiguration.class.getClassLoader());

    @Bean
    @ConditionalOnMissingBean
    CheckpointPageEndpoint laminarCheckpointPageEndpoint(LaminarRuntime runtime, CheckpointHistory history,
                                                         BeanFactory beans) {
        Supplier<HealthSummary> health = HEALTH_PRESENT ? () -> Health.of(beans) : () -> null;
        return new CheckpointPageEndpoint(runtime, history, health);
    }

    /** Loaded only when spring-boot-health is on the classpath. */
    private static final class Health {

        static HealthSummary of(BeanFactory beans) {
            var indicator = beans.getBeanProvider(LaminarStorageHealthIndicator.class).getIfAvailable();
            if (indicator == null) {
                return null;
            }
            var health = indicator.health(true);
            var reason = health.getDetails().get("reason");
            return new HealthSummary(health.getStatus().getCode(), reason == null ? null : reason.toString());
        }
    }
}

package io.laminar.storage.spring.autoconfigure.endpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.actuate.CheckpointsEndpoint;
import io.laminar.storage.spring.actuate.CheckpointsEndpoint.TriggerStatus;
import io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfiguration;
import io.laminar.storage.spring.autoconfigure.QuickStorage;
import io.laminar.storage.spring.autoconfigure.history.LaminarStorageCheckpointHistoryAutoConfiguration;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Collectors;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.actuate.autoconfigure.endpoint.EndpointAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.actuate.autoconfigure.endpoint.jackson.JacksonEndpointAutoConfiguration;
import org.springframework.boot.actuate.autoconfigure.endpoint.jmx.JmxEndpointAutoConfiguration;
import org.springframework.boot.actuate.endpoint.OperationType;
import org.springframework.boot.actuate.endpoint.jmx.JmxEndpointsSupplier;
import org.springframework.boot.actuate.endpoint.jmx.JmxOperation;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.jmx.JmxAutoConfiguration;
import org.springframework.boot.convert.ApplicationConversionService;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * {@link LaminarStorageEndpointAutoConfiguration}: the endpoint exists only when exposed and
 * accessible, as every actuator endpoint; every context runs a real runtime over real files.
 */
class LaminarStorageEndpointAutoConfigurationTests {

    @TempDir
    Path dir;

    private String[] storage() {
        return QuickStorage.properties(dir, "laminar.storage.checkpoint.final-on-shutdown=false");
    }

    /**
     * A runner that converts property values as a Spring Boot application does (lenient enums:
     * {@code read-only} is {@code Access.READ_ONLY}).
     */
    private static ApplicationContextRunner application() {
        return new ApplicationContextRunner().withInitializer(
                context -> context.getEnvironment().setConversionService(new ApplicationConversionService()));
    }

    private ApplicationContextRunner runner() {
        return application()
                .withConfiguration(AutoConfigurations.of(LaminarStorageAutoConfiguration.class,
                        LaminarStorageCheckpointHistoryAutoConfiguration.class,
                        LaminarStorageEndpointAutoConfiguration.class))
                .withPropertyValues(storage());
    }

    @Test
    void runWhenExposedShouldCreateAnEndpointOverTheRuntimeAndItsHistory() {
        runner().withPropertyValues("management.endpoints.web.exposure.include=checkpoints").run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(CheckpointsEndpoint.class);
            var endpoint = context.getBean(CheckpointsEndpoint.class);
            var triggered = endpoint.trigger();
            assertThat(triggered.status()).isEqualTo(TriggerStatus.COMPLETED);
            var read = endpoint.checkpoints();
            assertThat(read.counts().completed()).isEqualTo(1);
            assertThat(read.latest().id()).isEqualTo(triggered.id());
            assertThat(read.recovery()).isNotNull();
            assertThat(endpoint.checkpoint(triggered.id()).walPositions()).hasSize(2);
            assertThat(context.getBean(CheckpointHistory.class).completedCount()).isEqualTo(1);
        });
    }

    @Test
    void runWhenNotExposedShouldNotCreateTheEndpoint() {
        // Actuator convention: over the web only 'health' is exposed unless the user says otherwise.
        runner().run(context -> assertThat(context).hasNotFailed().hasSingleBean(LaminarRuntime.class)
                .doesNotHaveBean(CheckpointsEndpoint.class));
    }

    @Test
    void runWhenExposedButWithoutAccessShouldNotCreateTheEndpoint() {
        runner().withPropertyValues("management.endpoints.web.exposure.include=checkpoints",
                        "management.endpoint.checkpoints.access=none")
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(CheckpointsEndpoint.class));
    }

    @Test
    void runWithAUserEndpointShouldBackOff() {
        runner().withPropertyValues("management.endpoints.web.exposure.include=checkpoints")
                .withUserConfiguration(UserEndpoint.class)
                .run(context -> assertThat(context).hasNotFailed().hasSingleBean(CheckpointsEndpoint.class)
                        .hasBean("userEndpoint"));
    }

    @Test
    void runWithoutTheActuatorShouldNotCreateTheEndpoint() {
        runner().withPropertyValues("management.endpoints.web.exposure.include=checkpoints")
                .withClassLoader(new FilteredClassLoader(ConditionalOnAvailableEndpoint.class))
                .run(context -> assertThat(context).hasNotFailed().hasSingleBean(LaminarRuntime.class)
                        .doesNotHaveBean(CheckpointsEndpoint.class));
    }

    @Test
    void runWithoutARuntimeShouldNotCreateTheEndpoint() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LaminarStorageEndpointAutoConfiguration.class))
                .withPropertyValues("management.endpoints.web.exposure.include=checkpoints")
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(CheckpointsEndpoint.class));
    }

    @Test
    @SuppressWarnings("unchecked")
    void theActuatorOffersTheReadsAndTheTriggerAndReadOnlyAccessDropsTheTrigger() {
        // Over JMX, which needs no web server; the operations and the access rules are the same.
        var jmx = application()
                .withConfiguration(AutoConfigurations.of(JmxAutoConfiguration.class, EndpointAutoConfiguration.class,
                        JacksonEndpointAutoConfiguration.class, JmxEndpointAutoConfiguration.class,
                        LaminarStorageAutoConfiguration.class, LaminarStorageCheckpointHistoryAutoConfiguration.class,
                        LaminarStorageEndpointAutoConfiguration.class))
                .withPropertyValues(storage())
                .withPropertyValues("spring.jmx.enabled=true", "spring.jmx.unique-names=true",
                        "management.endpoints.jmx.exposure.include=checkpoints");
        jmx.run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(operations(context.getBean(JmxEndpointsSupplier.class))).containsOnly(
                    entry("checkpoints", OperationType.READ), entry("checkpoint", OperationType.READ),
                    entry("trigger", OperationType.WRITE));
            // Through the MBean server, as a JMX client sees it: the actuator maps the answer to a Map.
            var server = context.getBean(MBeanServer.class);
            var name = server.queryNames(new ObjectName("org.springframework.boot:type=Endpoint,name=Checkpoints,*"),
                    null).iterator().next();
            var triggered = (Map<?, ?>) server.invoke(name, "trigger", new Object[0], new String[0]);
            assertThat(triggered.get("status")).isEqualTo("COMPLETED");
            var read = (Map<String, Object>) server.invoke(name, "checkpoints", new Object[0], new String[0]);
            assertThat((Map<String, Object>) read.get("counts")).containsEntry("completed", 1L);
            assertThat((Map<String, Object>) read.get("latest")).containsEntry("id", triggered.get("id"));
        });
        jmx.withPropertyValues("management.endpoint.checkpoints.access=read-only").run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(operations(context.getBean(JmxEndpointsSupplier.class))).containsOnly(
                    entry("checkpoints", OperationType.READ), entry("checkpoint", OperationType.READ));
        });
    }

    private static Map<String, OperationType> operations(JmxEndpointsSupplier endpoints) {
        return endpoints.getEndpoints().stream()
                .filter(e -> e.getEndpointId().toString().equals("checkpoints"))
                .flatMap(e -> e.getOperations().stream())
                .collect(Collectors.toMap(JmxOperation::getName, JmxOperation::getType));
    }

    @Configuration(proxyBeanMethods = false)
    static class UserEndpoint {

        @Bean
        CheckpointsEndpoint userEndpoint(LaminarRuntime runtime, CheckpointHistory history) {
            return new CheckpointsEndpoint(runtime, history, Duration.ofMinutes(5));
        }
    }
}

package io.laminar.storage.spring.autoconfigure.endpoint;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.actuate.CheckpointPageEndpoint;
import io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfiguration;
import io.laminar.storage.spring.autoconfigure.QuickStorage;
import io.laminar.storage.spring.autoconfigure.health.LaminarStorageHealthAutoConfiguration;
import io.laminar.storage.spring.autoconfigure.history.LaminarStorageCheckpointHistoryAutoConfiguration;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.convert.ApplicationConversionService;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/**
 * {@link LaminarStoragePageAutoConfiguration}: the checkpoint page exists only when
 * {@code laminar.storage.page.enabled=true} and the endpoint is exposed over the web and accessible;
 * every context runs a real runtime over real files.
 */
class LaminarStoragePageAutoConfigurationTests {

    @TempDir
    Path dir;

    private ApplicationContextRunner runner() {
        return new ApplicationContextRunner()
                .withInitializer(context -> context.getEnvironment().setConversionService(new ApplicationConversionService()))
                .withConfiguration(AutoConfigurations.of(LaminarStorageAutoConfiguration.class,
                        LaminarStorageCheckpointHistoryAutoConfiguration.class, LaminarStoragePageAutoConfiguration.class))
                .withPropertyValues(QuickStorage.properties(dir, "laminar.storage.checkpoint.final-on-shutdown=false"));
    }

    @Test
    void offByDefaultEvenWhenExposed() {
        runner().withPropertyValues("management.endpoints.web.exposure.include=*")
                .run(context -> assertThat(context).hasNotFailed().hasSingleBean(LaminarRuntime.class)
                        .doesNotHaveBean(CheckpointPageEndpoint.class)
                        .doesNotHaveBean(LaminarStoragePageAutoConfiguration.class));
    }

    @Test
    void offWhenSetToFalse() {
        runner().withPropertyValues("laminar.storage.page.enabled=false", "management.endpoints.web.exposure.include=laminar")
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(CheckpointPageEndpoint.class));
    }

    @Test
    void enabledAndExposedMakesThePage() {
        runner().withPropertyValues("laminar.storage.page.enabled=true", "management.endpoints.web.exposure.include=laminar")
                .run(context -> {
                    assertThat(context).hasNotFailed().hasSingleBean(CheckpointPageEndpoint.class);
                    context.getBean(LaminarRuntime.class).triggerCheckpoint().join();
                    assertThat(context.getBean(CheckpointPageEndpoint.class).page())
                            .contains("<svg", "id=\"count-completed\">1</span>",
                                    "id=\"health-status\">no health indicator</span>");
                });
    }

    @Test
    void showsTheHealthIndicatorsStatusWhenThereIsOne() {
        runner().withConfiguration(AutoConfigurations.of(LaminarStorageHealthAutoConfiguration.class))
                .withPropertyValues("laminar.storage.page.enabled=true", "management.endpoints.web.exposure.include=laminar")
                .run(context -> assertThat(context.getBean(CheckpointPageEndpoint.class).page())
                        .contains("id=\"health-status\">UP</span>"));
    }

    @Test
    void enabledButNotExposedOverTheWebMakesNoPage() {
        runner().withPropertyValues("laminar.storage.page.enabled=true")
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(CheckpointPageEndpoint.class));
        // A web endpoint: exposing it over JMX does not count.
        runner().withPropertyValues("laminar.storage.page.enabled=true", "spring.jmx.enabled=true",
                        "management.endpoints.jmx.exposure.include=laminar")
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(CheckpointPageEndpoint.class));
    }

    @Test
    void enabledButWithoutAccessMakesNoPage() {
        runner().withPropertyValues("laminar.storage.page.enabled=true", "management.endpoints.web.exposure.include=laminar",
                        "management.endpoint.laminar.access=none")
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(CheckpointPageEndpoint.class));
    }

    @Test
    void withoutTheActuatorMakesNoPage() {
        runner().withPropertyValues("laminar.storage.page.enabled=true", "management.endpoints.web.exposure.include=laminar")
                .withClassLoader(new FilteredClassLoader(ConditionalOnAvailableEndpoint.class))
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(CheckpointPageEndpoint.class));
    }

    @Test
    void withTheStorageSwitchedOffMakesNoPage() {
        runner().withPropertyValues("laminar.storage.enabled=false", "laminar.storage.page.enabled=true",
                        "management.endpoints.web.exposure.include=laminar")
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(LaminarRuntime.class)
                        .doesNotHaveBean(CheckpointPageEndpoint.class));
    }
}

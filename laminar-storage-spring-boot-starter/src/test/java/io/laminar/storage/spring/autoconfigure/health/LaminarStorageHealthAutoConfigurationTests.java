package io.laminar.storage.spring.autoconfigure.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.io.FaultyFileIO;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.actuate.LaminarStorageHealthIndicator;
import io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfiguration;
import io.laminar.storage.spring.autoconfigure.PerCoreWalOptionsCustomizer;
import io.laminar.storage.spring.autoconfigure.history.LaminarStorageCheckpointHistoryAutoConfiguration;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.autoconfigure.registry.HealthContributorRegistryAutoConfiguration;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.health.registry.HealthContributorRegistry;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@link LaminarStorageHealthAutoConfiguration}: every context runs a real runtime over real files.
 */
class LaminarStorageHealthAutoConfigurationTests {

    @TempDir
    Path dir;

    private ApplicationContextRunner runner() {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LaminarStorageAutoConfiguration.class,
                        LaminarStorageCheckpointHistoryAutoConfiguration.class,
                        LaminarStorageHealthAutoConfiguration.class, HealthContributorRegistryAutoConfiguration.class))
                .withPropertyValues("laminar.storage.dir=" + dir, "laminar.storage.cores=2",
                        "laminar.storage.wal.segment-size=2MB", "laminar.storage.checkpoint.final-on-shutdown=false");
    }

    private static Health health(org.springframework.context.ApplicationContext context) {
        return context.getBean(LaminarStorageHealthIndicator.class).health();
    }

    @Test
    void runShouldContributeAnIndicatorThatAllowsThreeCheckpointIntervals() {
        runner().withPropertyValues("laminar.storage.checkpoint.interval=20s").run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(LaminarStorageHealthIndicator.class)
                    .hasBean("laminarStorageHealthIndicator");
            var health = health(context);
            assertThat(health.getStatus()).isEqualTo(Status.UP);
            assertThat(health.getDetails()).containsEntry("maxCheckpointAge", "PT1M").containsEntry("runtime",
                    "running");
            assertThat(context.getBean(HealthContributorRegistry.class).getContributor("laminarStorage"))
                    .isSameAs(context.getBean(LaminarStorageHealthIndicator.class));
        });
    }

    @Test
    void runShouldReportAStaleCheckpointWithTheConfiguredStatus() {
        var stale = runner().withPropertyValues("laminar.storage.checkpoint.interval=0",
                "laminar.storage.health.max-checkpoint-age=50ms");
        stale.run(context -> {
            Thread.sleep(120);
            var health = health(context);
            assertThat(health.getStatus()).isEqualTo(Status.OUT_OF_SERVICE); // the default stale status
            assertThat((String) health.getDetails().get("reason"))
                    .startsWith("no checkpoint completed since the runtime started");
            context.getBean(LaminarRuntime.class).triggerCheckpoint().get(30, TimeUnit.SECONDS);
            assertThat(health(context).getStatus()).isEqualTo(Status.UP);
        });
        stale.withPropertyValues("laminar.storage.health.stale-checkpoint-status=down").run(context -> {
            Thread.sleep(120);
            assertThat(health(context).getStatus()).isEqualTo(Status.DOWN);
        });
    }

    @Test
    void runWithoutPeriodicCheckpointsOrAMaximumAgeShouldNotCheckStaleness() {
        runner().withPropertyValues("laminar.storage.checkpoint.interval=0").run(context -> {
            Thread.sleep(20);
            var health = health(context);
            assertThat(health.getStatus()).isEqualTo(Status.UP);
            assertThat(health.getDetails()).containsEntry("maxCheckpointAge", "unchecked");
        });
    }

    @Test
    void runShouldReportDownOnceTheWriteAheadLogOfACoreFailed() {
        var io = FaultyFileIO.overSystem();
        runner().withPropertyValues("laminar.storage.checkpoint.interval=0")
                .withBean(PerCoreWalOptionsCustomizer.class, () -> options -> options.wal(w -> w.fileIO(io)))
                .run(context -> {
                    var runtime = context.getBean(LaminarRuntime.class);
                    io.forces().failNow();
                    var key = "k".getBytes(StandardCharsets.UTF_8);
                    var put = runtime.submitDurable(runtime.coreOf(key), c -> {
                        c.store().put(key, new byte[10]);
                        return null;
                    });
                    assertThatThrownBy(() -> put.get(10, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class);
                    var health = health(context);
                    assertThat(health.getStatus()).isEqualTo(Status.DOWN);
                    assertThat(health.getDetails()).containsKey("failedCores");
                    io.forces().stopFailing();
                });
    }

    @Test
    void runWhenTheIndicatorIsDisabledShouldNotCreateIt() {
        runner().withPropertyValues("management.health.laminar-storage.enabled=false").run(context -> assertThat(
                context).hasNotFailed().hasSingleBean(LaminarRuntime.class)
                .doesNotHaveBean(LaminarStorageHealthIndicator.class));
        runner().withPropertyValues("management.health.defaults.enabled=false").run(context -> assertThat(context)
                .hasNotFailed().doesNotHaveBean(LaminarStorageHealthIndicator.class));
    }

    @Test
    void runWithAUserIndicatorOfTheSameNameShouldBackOff() {
        runner().withUserConfiguration(UserIndicator.class).run(context -> {
            assertThat(context).hasNotFailed().doesNotHaveBean(LaminarStorageHealthIndicator.class)
                    .hasBean("laminarStorageHealthIndicator");
            assertThat(context.getBean("laminarStorageHealthIndicator", HealthIndicator.class).health().getStatus())
                    .isEqualTo(Status.UNKNOWN);
        });
    }

    @Test
    void runWithoutTheHealthModuleShouldNotCreateTheIndicator() {
        runner().withClassLoader(new FilteredClassLoader(Health.class)).run(context -> assertThat(context)
                .hasNotFailed().hasSingleBean(LaminarRuntime.class)
                .doesNotHaveBean(LaminarStorageHealthIndicator.class));
    }

    @Test
    void runWithoutARuntimeShouldNotCreateTheIndicator() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LaminarStorageHealthAutoConfiguration.class))
                .run(context -> assertThat(context).hasNotFailed()
                        .doesNotHaveBean(LaminarStorageHealthIndicator.class));
    }

    @Test
    void theSwitchOfTheIndicatorAndTheAccessOfTheEndpointAreInTheConfigurationMetadata() throws Exception {
        var described = new java.util.HashMap<String, String>();
        var resources = getClass().getClassLoader().getResources("META-INF/spring-configuration-metadata.json");
        while (resources.hasMoreElements()) {
            try (var in = resources.nextElement().openStream()) {
                for (var property : JsonMapper.builder().build().readTree(in).get("properties")) {
                    described.put(property.get("name").asString(),
                            property.has("description") ? property.get("description").asString() : "");
                }
            }
        }
        assertThat(described.get("management.health.laminar-storage.enabled"))
                .startsWith("Whether to enable the laminar-storage health check");
        assertThat(described.get("management.endpoint.checkpoints.access")).isNotBlank();
    }

    @Configuration(proxyBeanMethods = false)
    static class UserIndicator {

        @Bean
        HealthIndicator laminarStorageHealthIndicator() {
            return () -> Health.unknown().build();
        }
    }
}

package io.laminar.storage.spring.autoconfigure.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.actuate.LaminarStorageMetrics;
import io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfiguration;
import io.laminar.storage.spring.autoconfigure.QuickStorage;
import io.laminar.storage.spring.autoconfigure.history.LaminarStorageCheckpointHistoryAutoConfiguration;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * {@link LaminarStorageMetricsAutoConfiguration} with Spring Boot's metrics auto-configuration and
 * its simple registry; every context runs a real runtime over real files.
 */
class LaminarStorageMetricsAutoConfigurationTests {

    @TempDir
    Path dir;

    private ApplicationContextRunner runner() {
        return QuickStorage.withMetrics(dir);
    }

    /** The storage, its history and the binder's auto-configuration, without Spring Boot's metrics. */
    private ApplicationContextRunner withoutMetricsAutoConfiguration() {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LaminarStorageAutoConfiguration.class,
                        LaminarStorageCheckpointHistoryAutoConfiguration.class,
                        LaminarStorageMetricsAutoConfiguration.class))
                .withPropertyValues(QuickStorage.properties(dir));
    }

    @Test
    void fsyncAndCheckpointTimersShouldHonourTheDistributionProperties() {
        runner().withPropertyValues("management.metrics.distribution.percentiles-histogram.laminar.storage=true",
                        "management.metrics.distribution.percentiles.laminar.storage.wal.fsync=0.5,0.99",
                        "management.metrics.distribution.slo.laminar.storage.checkpoint.duration=100ms,1s")
                .run(context -> {
                    var registry = context.getBean(MeterRegistry.class);
                    var runtime = context.getBean(LaminarRuntime.class);
                    for (int i = 0; i < 20; i++) {
                        QuickStorage.putDurably(runtime, "k" + i, new byte[10]);
                    }
                    runtime.triggerCheckpoint().get(30, TimeUnit.SECONDS);

                    var fsync = registry.get("laminar.storage.wal.fsync").tag("core", "0").timer().takeSnapshot();
                    assertThat(fsync.count()).isPositive();
                    // Percentile histograms show as buckets only in registries that aggregate them
                    // (Prometheus: see QuickStartApplicationTests); the simple registry computes the percentiles.
                    assertThat(fsync.percentileValues()).extracting(v -> v.percentile()).containsExactly(0.5, 0.99);
                    var checkpoint = registry.get("laminar.storage.checkpoint.duration").timer().takeSnapshot();
                    assertThat(checkpoint.count()).isEqualTo(1);
                    assertThat(checkpoint.histogramCounts()).extracting(c -> c.bucket(TimeUnit.MILLISECONDS))
                            .contains(100.0, 1000.0);
                });
        runner().run(context -> assertThat(context.getBean(MeterRegistry.class).get("laminar.storage.wal.fsync")
                .tag("core", "0").timer().takeSnapshot().percentileValues()).as("no percentiles unless asked").isEmpty());
    }

    @Test
    void runShouldBindTheMetersOfTheRuntimeToTheApplicationsRegistry() {
        runner().run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(LaminarStorageMetrics.class);
            var registry = context.getBean(MeterRegistry.class);
            var runtime = context.getBean(LaminarRuntime.class);
            QuickStorage.putDurably(runtime, "k", new byte[10]);
            runtime.triggerCheckpoint().get(30, TimeUnit.SECONDS);

            var core = Integer.toString(runtime.coreOf("k".getBytes(StandardCharsets.UTF_8)));
            assertThat(registry.get("laminar.storage.wal.records").tag("core", core).functionCounter().count())
                    .isGreaterThanOrEqualTo(1);
            assertThat(registry.get("laminar.storage.checkpoints").tag("outcome", "completed").functionCounter()
                    .count()).isEqualTo(1);
            // The recovery report reached the history through the starter's lifecycle.
            assertThat(registry.get("laminar.storage.recovery.replayed").gauge().value()).isZero();
            assertThat(registry.get("laminar.storage.changelog.drained").functionCounter().count())
                    .isGreaterThanOrEqualTo(1);
        });
    }

    @Test
    void runWithAUserBinderShouldBackOff() {
        runner().withUserConfiguration(UserBinder.class).run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(LaminarStorageMetrics.class).hasBean("userMetrics");
            var registry = context.getBean(MeterRegistry.class);
            assertThat(registry.get("laminar.storage.wal.records").tag("app", "orders").meters()).hasSize(2);
        });
    }

    @Test
    void runWithoutMicrometerShouldNotCreateTheBinder() {
        // Without Micrometer there is no Spring Boot metrics auto-configuration either.
        withoutMetricsAutoConfiguration().withClassLoader(new FilteredClassLoader(MeterRegistry.class))
                .run(context -> assertThat(context).hasNotFailed().hasSingleBean(LaminarRuntime.class)
                        .doesNotHaveBean(LaminarStorageMetrics.class));
    }

    @Test
    void runWithoutARegistryShouldNotCreateTheBinder() {
        withoutMetricsAutoConfiguration()
                .run(context -> assertThat(context).hasNotFailed().hasSingleBean(LaminarRuntime.class)
                        .doesNotHaveBean(LaminarStorageMetrics.class));
    }

    @Test
    void runWithoutARuntimeShouldNotCreateTheBinder() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(MetricsAutoConfiguration.class,
                        SimpleMetricsExportAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class,
                        LaminarStorageMetricsAutoConfiguration.class))
                .run(context -> assertThat(context).hasNotFailed().hasSingleBean(MeterRegistry.class)
                        .doesNotHaveBean(LaminarStorageMetrics.class));
    }

    @Configuration(proxyBeanMethods = false)
    static class UserBinder {

        @Bean
        LaminarStorageMetrics userMetrics(LaminarRuntime runtime, CheckpointHistory history) {
            return new LaminarStorageMetrics(runtime, history, Tags.of("app", "orders"));
        }
    }
}

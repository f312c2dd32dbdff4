package io.laminar.storage.spring.autoconfigure.history;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.autoconfigure.LaminarRuntimeLifecycle;
import io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfiguration;
import io.laminar.storage.spring.autoconfigure.QuickStorage;
import io.laminar.storage.spring.autoconfigure.endpoint.LaminarStorageEndpointAutoConfiguration;
import io.laminar.storage.spring.autoconfigure.health.LaminarStorageHealthAutoConfiguration;
import io.laminar.storage.spring.autoconfigure.metrics.LaminarStorageMetricsAutoConfiguration;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.annotation.ImportCandidates;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * {@link LaminarStorageCheckpointHistoryAutoConfiguration}: every context runs a real runtime over
 * real files in a temporary directory.
 */
class LaminarStorageCheckpointHistoryAutoConfigurationTests {

    @TempDir
    Path dir;

    private ApplicationContextRunner runner() {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LaminarStorageAutoConfiguration.class,
                        LaminarStorageCheckpointHistoryAutoConfiguration.class))
                .withPropertyValues(QuickStorage.properties(dir))
                .withPropertyValues("laminar.storage.checkpoint.final-on-shutdown=false");
    }

    @Test
    void runShouldListenToTheRuntimesCheckpointsAndHoldItsRecoveryReport() {
        // A first run leaves a checkpoint, which the second one restores.
        runner().run(context -> context.getBean(LaminarRuntime.class).triggerCheckpoint().get(30, TimeUnit.SECONDS));
        runner().run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(CheckpointHistory.class)
                    .hasBean("laminarCheckpointHistory").hasSingleBean(RecoveryReportHandOver.class);
            var history = context.getBean(CheckpointHistory.class);
            var runtime = context.getBean(LaminarRuntime.class);
            var report = history.recoveryReport().orElseThrow();
            assertThat(report).isSameAs(runtime.recoveryReport().orElseThrow());
            assertThat(report.checkpointId()).isZero();
            assertThat(history.snapshot().recoveredAt()).isNotNull();

            var manifest = runtime.triggerCheckpoint().get(30, TimeUnit.SECONDS);
            assertThat(history.completedCount()).isEqualTo(1);
            assertThat(history.latestCompleted().orElseThrow().checkpointId()).isEqualTo(manifest.checkpointId());
        });
    }

    @Test
    void theMonitoringAutoConfigurationsShouldBeRegisteredForSpringBootToFind() {
        var candidates = ImportCandidates.load(AutoConfiguration.class, getClass().getClassLoader()).getCandidates();
        assertThat(candidates).contains(LaminarStorageCheckpointHistoryAutoConfiguration.class.getName(),
                LaminarStorageMetricsAutoConfiguration.class.getName(),
                LaminarStorageEndpointAutoConfiguration.class.getName(),
                LaminarStorageHealthAutoConfiguration.class.getName());
    }

    @Test
    void theHandOverRunsRightAfterTheRuntimeStartsAndBeforeTheWebServer() {
        assertThat(RecoveryReportHandOver.PHASE).isEqualTo(LaminarRuntimeLifecycle.PHASE + 1)
                .isLessThan(Integer.MAX_VALUE - 2048); // the web server's start phase
    }

    @Test
    void runWithAUserHistoryShouldBackOffAndWireThatOne() {
        runner().withUserConfiguration(UserHistory.class).run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(CheckpointHistory.class).hasBean("userHistory")
                    .doesNotHaveBean("laminarCheckpointHistory");
            var history = context.getBean(CheckpointHistory.class);
            assertThat(history.capacity()).isEqualTo(50);
            assertThat(history.recoveryReport()).isPresent();
            context.getBean(LaminarRuntime.class).triggerCheckpoint().get(30, TimeUnit.SECONDS);
            assertThat(history.completedCount()).isEqualTo(1);
        });
    }

    @Test
    void runWithoutARuntimeShouldNotCreateAHistory() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LaminarStorageCheckpointHistoryAutoConfiguration.class))
                .run(context -> assertThat(context).hasNotFailed().doesNotHaveBean(CheckpointHistory.class)
                        .doesNotHaveBean(RecoveryReportHandOver.class));
    }

    @Configuration(proxyBeanMethods = false)
    static class UserHistory {

        @Bean
        CheckpointHistory userHistory() {
            return new CheckpointHistory(50, Clock.systemUTC());
        }
    }
}

package io.laminar.storage.spring.autoconfigure.history;

import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.actuate.RecoveryProgressTracker;
import io.laminar.storage.spring.autoconfigure.LaminarRuntimeLifecycle;
import io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * Auto-configuration of the {@link CheckpointHistory} that the metrics, the {@code checkpoints}
 * endpoint and the health indicator read: present whenever a {@link LaminarRuntime} bean is, so
 * that it hears every checkpoint from the first, whichever of those is enabled; and the
 * {@link RecoveryProgressTracker} that the health details and the meters read while the recovery
 * at start runs.
 *
 * <p>Being a {@code CheckpointListener} bean, the history is added to the runtime by
 * {@link LaminarRuntimeLifecycle} before the runtime starts. {@link RecoveryReportHandOver} then
 * gives it the runtime's recovery report, right after the start and before the web server opens.
 * An application that defines its own {@code CheckpointHistory} bean (say, with a longer history)
 * gets the same wiring.
 */
@AutoConfiguration(after = LaminarStorageAutoConfiguration.class)
@ConditionalOnBean(LaminarRuntime.class)
public final class LaminarStorageCheckpointHistoryAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    CheckpointHistory laminarCheckpointHistory() {
        return new CheckpointHistory();
    }

    /**
     * The progress of the recovery at start, for the health details and the meters; a
     * {@code RecoveryListener} bean, so the runtime's recovery reports to it.
     */
    @Bean
    @ConditionalOnMissingBean
    RecoveryProgressTracker laminarRecoveryProgress() {
        return new RecoveryProgressTracker();
    }

    @Bean
    @ConditionalOnMissingBean
    RecoveryReportHandOver laminarRecoveryReportHandOver(LaminarRuntime runtime, CheckpointHistory history) {
        return new RecoveryReportHandOver(runtime, history);
    }
}

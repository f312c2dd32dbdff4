package io.laminar.storage.spring.autoconfigure.health;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.checkpoint.RecoveryListener;
import io.laminar.storage.checkpoint.RecoveryProgress;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.actuate.LaminarStorageHealthIndicator;
import io.laminar.storage.spring.actuate.RecoveryProgressTracker;
import io.laminar.storage.spring.autoconfigure.QuickStorage;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.autoconfigure.registry.HealthContributorRegistryAutoConfiguration;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The recovery at start runs before the web server (see {@code LaminarRuntimeLifecycle}); its
 * progress is visible meanwhile in the {@code laminarStorage} health details and the
 * {@code laminar.storage.recovery.*} meters, as a listener of the application reads them from inside
 * the recovery: every context runs a real runtime over real files.
 */
class RecoveryProgressExposureTests {

    @TempDir
    Path dir;

    private ApplicationContextRunner runner() {
        return QuickStorage.withMetrics(dir, "laminar.storage.recovery.progress-interval=1ms")
                .withConfiguration(AutoConfigurations.of(LaminarStorageHealthAutoConfiguration.class,
                        HealthContributorRegistryAutoConfiguration.class));
    }

    /** What the probe saw when the restore had read every state file, still inside the recovery. */
    record Seen(RecoveryProgress progress, Status status, Map<String, Object> recovery, double active,
                double bytesDone, double bytesTotal, double filesDone, double filesTotal) {
    }

    @Configuration(proxyBeanMethods = false)
    static class Probe {
        static final List<Seen> seen = new CopyOnWriteArrayList<>();

        @Bean
        RecoveryListener probe(ObjectProvider<LaminarStorageHealthIndicator> health,
                               ObjectProvider<MeterRegistry> registry) {
            return new RecoveryListener() {
                @Override
                public void progress(RecoveryProgress progress) {
                    if (progress.phase() != RecoveryProgress.Phase.RESTORE || !progress.complete()) {
                        return;
                    }
                    var h = health.getObject().health(true);
                    var meters = registry.getObject();
                    @SuppressWarnings("unchecked")
                    var recovery = new LinkedHashMap<>((Map<String, Object>) h.getDetails().get("recovery"));
                    seen.add(new Seen(progress, h.getStatus(), recovery,
                            meters.get("laminar.storage.recovery.active").gauge().value(),
                            meters.get("laminar.storage.recovery.progress.bytes").tag("of", "done").gauge().value(),
                            meters.get("laminar.storage.recovery.progress.bytes").tag("of", "total").gauge().value(),
                            meters.get("laminar.storage.recovery.progress.files").tag("of", "done").gauge().value(),
                            meters.get("laminar.storage.recovery.progress.files").tag("of", "total").gauge().value()));
                }
            };
        }
    }

    @Test
    void theProgressOfTheRestoreIsInTheHealthDetailsAndMetersWhileTheRecoveryRuns() throws Exception {
        // A checkpoint of 300 entries of 2 KiB, and changes after it for the replay.
        runner().run(context -> {
            var runtime = context.getBean(LaminarRuntime.class);
            for (int i = 0; i < 300; i++) {
                QuickStorage.putDurably(runtime, "k" + i, new byte[2048]);
            }
            runtime.triggerCheckpoint().get(30, TimeUnit.SECONDS);
            for (int i = 0; i < 10; i++) {
                QuickStorage.putDurably(runtime, "after" + i, new byte[10]);
            }
        });
        long fileBytes;
        long files;
        try (Stream<Path> walk = Files.walk(dir.resolve("checkpoints/state"))) {
            var stateFiles = walk.filter(Files::isRegularFile).toList();
            files = stateFiles.size();
            long sum = 0;
            for (var f : stateFiles) {
                sum += Files.size(f);
            }
            fileBytes = sum;
        }
        Probe.seen.clear();

        runner().withUserConfiguration(Probe.class).run(context -> {
            assertThat(context).hasNotFailed();
            // The final report, and possibly a periodic one that came after the last byte.
            assertThat(Probe.seen).isNotEmpty().allSatisfy(seen -> {
                assertThat(seen.progress().bytesDone()).isEqualTo(fileBytes);
                assertThat(seen.progress().filesDone()).isEqualTo(files);
                assertThat(seen.status()).isEqualTo(Status.OUT_OF_SERVICE);
                assertThat(seen.recovery()).containsEntry("state", "restoring").containsEntry("phase", "restore")
                        .containsEntry("bytesDone", fileBytes).containsEntry("bytesTotal", fileBytes)
                        .containsEntry("filesDone", (int) files).containsEntry("filesTotal", (int) files)
                        .containsKeys("checkpointId", "elapsed", "bytesPerSecond", "eta");
                assertThat(seen.active()).isEqualTo(1.0);
                assertThat(seen.bytesDone()).isEqualTo(fileBytes);
                assertThat(seen.bytesTotal()).isEqualTo(fileBytes);
                assertThat(seen.filesDone()).isEqualTo(files);
                assertThat(seen.filesTotal()).isEqualTo(files);
            });
            // Once started: the outcome stays in the details, the meters say it is over.
            var health = context.getBean(LaminarStorageHealthIndicator.class).health(true);
            assertThat(health.getStatus()).isEqualTo(Status.UP);
            @SuppressWarnings("unchecked")
            var recovery = (Map<String, Object>) health.getDetails().get("recovery");
            assertThat(recovery).containsEntry("state", "completed").containsEntry("phase", "replay")
                    .containsKeys("checkpointId", "duration");
            assertThat(context.getBean(MeterRegistry.class).get("laminar.storage.recovery.active").gauge().value())
                    .isZero();
            assertThat(context.getBean(RecoveryProgressTracker.class).snapshot().state())
                    .isEqualTo(RecoveryProgressTracker.State.COMPLETED);
        });
    }
}

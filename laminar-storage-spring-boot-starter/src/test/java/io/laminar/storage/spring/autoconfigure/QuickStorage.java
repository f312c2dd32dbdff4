package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.autoconfigure.history.LaminarStorageCheckpointHistoryAutoConfiguration;
import io.laminar.storage.spring.autoconfigure.metrics.LaminarStorageMetricsAutoConfiguration;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/**
 * A storage that starts quickly in a test (two cores, small segments, no periodic checkpoints), and
 * the set-up the tests of the starter share around it: a context runner with the metrics, and
 * durable puts.
 */
public final class QuickStorage {

    private QuickStorage() {
    }

    /** The properties of such a storage in {@code dir}, followed by {@code more}. */
    public static String[] properties(Path dir, String... more) {
        return Stream.concat(Stream.of("laminar.storage.dir=" + dir, "laminar.storage.cores=2",
                "laminar.storage.wal.segment-size=2MB", "laminar.storage.checkpoint.interval=0"), Stream.of(more))
                .toArray(String[]::new);
    }

    /** A runner of such a storage in {@code dir} with the starter's core auto-configuration only. */
    public static ApplicationContextRunner runner(Path dir) {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LaminarStorageAutoConfiguration.class))
                .withPropertyValues(properties(dir));
    }

    /**
     * A runner of such a storage in {@code dir} with Spring Boot's metrics and its simple registry,
     * the checkpoint history and the starter's meters; no final checkpoint at shutdown, so a test
     * decides which checkpoints exist. {@code more} properties follow; a test adds its own
     * auto-configurations with {@code withConfiguration}.
     */
    public static ApplicationContextRunner withMetrics(Path dir, String... more) {
        return runner(dir)
                .withConfiguration(AutoConfigurations.of(MetricsAutoConfiguration.class,
                        SimpleMetricsExportAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class,
                        LaminarStorageCheckpointHistoryAutoConfiguration.class,
                        LaminarStorageMetricsAutoConfiguration.class))
                .withPropertyValues("laminar.storage.checkpoint.final-on-shutdown=false")
                .withPropertyValues(more);
    }

    /** Puts {@code key} (UTF-8) on its core and waits up to 30 s until the change is durable. */
    public static void putDurably(LaminarRuntime runtime, String key, byte[] value) throws Exception {
        var bytes = key.getBytes(StandardCharsets.UTF_8);
        runtime.submitDurable(runtime.coreOf(bytes), c -> {
            c.store().put(bytes, value);
            return null;
        }).get(30, TimeUnit.SECONDS);
    }
}

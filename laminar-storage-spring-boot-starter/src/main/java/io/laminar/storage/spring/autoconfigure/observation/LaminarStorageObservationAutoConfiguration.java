package io.laminar.storage.spring.autoconfigure.observation;

import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfiguration;
import io.laminar.storage.spring.observation.LaminarStorageObservations;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.micrometer.observation.ObservationRegistry;
import java.util.Locale;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * {@link EnableAutoConfiguration Auto-configuration} of {@link LaminarStorageObservations}: the
 * observations of checkpoints and of the recovery, present when Micrometer's observation API is on
 * the classpath and there are an {@link ObservationRegistry} (Spring Boot makes one with the
 * actuator) and a {@link LaminarRuntime}. Switched off with
 * {@code management.observations.laminar-storage.enabled=false}. The bean is a checkpoint listener
 * and a recovery listener, so the starter's lifecycle and runtime add it like any such bean.
 */
@AutoConfiguration(after = LaminarStorageAutoConfiguration.class,
        afterName = "org.springframework.boot.micrometer.observation.autoconfigure.ObservationAutoConfiguration")
@ConditionalOnClass(ObservationRegistry.class)
@ConditionalOnBean({ObservationRegistry.class, LaminarRuntime.class})
@ConditionalOnBooleanProperty(name = "management.observations.laminar-storage.enabled", matchIfMissing = true)
public final class LaminarStorageObservationAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    LaminarStorageObservations laminarStorageObservations(ObservationRegistry registry, CheckpointStore store) {
        return new LaminarStorageObservations(registry, storeName(store));
    }

    /** A low-cardinality name of the store: {@code filesystem}, {@code s3}, or its class's simple name. */
    static String storeName(CheckpointStore store) {
        if (store instanceof FileSystemCheckpointStore) {
            return "filesystem";
        }
        var name = store.getClass().getSimpleName();
        return name.equals("S3CheckpointStore") ? "s3" : name.toLowerCase(Locale.ROOT);
    }
}

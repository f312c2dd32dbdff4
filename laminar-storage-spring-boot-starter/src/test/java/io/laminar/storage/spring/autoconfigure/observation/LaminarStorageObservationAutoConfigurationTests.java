package io.laminar.storage.spring.autoconfigure.observation;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.io.FaultyFileIO;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfiguration;
import io.laminar.storage.spring.autoconfigure.QuickStorage;
import io.laminar.storage.spring.observation.LaminarStorageObservations;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationHandler;
import io.micrometer.observation.ObservationRegistry;
import io.micrometer.observation.tck.TestObservationRegistry;
import io.micrometer.observation.tck.TestObservationRegistryAssert;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/**
 * The observations of checkpoints and of the recovery, with a {@link TestObservationRegistry}, on a
 * real runtime over real files: names, parents, steps in order, low-cardinality keys.
 */
class LaminarStorageObservationAutoConfigurationTests {

    @TempDir
    Path dir;

    private final TestObservationRegistry registry = TestObservationRegistry.create();

    /** Every observation started, in order. */
    private final List<Observation.Context> started = new CopyOnWriteArrayList<>();

    LaminarStorageObservationAutoConfigurationTests() {
        registry.observationConfig().observationHandler(new ObservationHandler<>() {
            @Override
            public void onStart(Observation.Context context) {
                started.add(context);
            }

            @Override
            public boolean supportsContext(Observation.Context context) {
                return true;
            }
        });
    }

    private ApplicationContextRunner runner() {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LaminarStorageAutoConfiguration.class,
                        LaminarStorageObservationAutoConfiguration.class))
                .withBean(ObservationRegistry.class, () -> registry)
                .withPropertyValues(QuickStorage.properties(dir))
                .withPropertyValues("laminar.storage.checkpoint.final-on-shutdown=false");
    }

    private static void put(LaminarRuntime runtime, String key) throws Exception {
        QuickStorage.putDurably(runtime, key, key.getBytes(StandardCharsets.UTF_8));
    }

    /** The observations with {@code name}, in the order they were started. */
    private List<Observation.Context> observations(String name) {
        return started.stream().filter(context -> context.getName().equals(name)).toList();
    }

    private static String low(Observation.Context context, String key) {
        var value = context.getLowCardinalityKeyValue(key);
        return value == null ? null : value.getValue();
    }

    @Test
    void aCheckpointIsAnObservationWithItsStepsAsChildrenInOrder() {
        runner().run(context -> {
            assertThat(context).hasSingleBean(LaminarStorageObservations.class);
            var runtime = context.getBean(LaminarRuntime.class);
            put(runtime, "alpha");
            var manifest = runtime.triggerCheckpoint().get(30, TimeUnit.SECONDS);

            TestObservationRegistryAssert.assertThat(registry)
                    .hasNumberOfObservationsWithNameEqualTo("laminar.storage.checkpoint", 1)
                    .hasObservationWithNameEqualTo("laminar.storage.checkpoint").that()
                    .hasBeenStarted().hasBeenStopped()
                    .hasContextualNameEqualTo("checkpoint")
                    .hasLowCardinalityKeyValue("outcome", "completed")
                    .hasLowCardinalityKeyValue("store", "filesystem")
                    .hasHighCardinalityKeyValue("checkpoint.id", Long.toString(manifest.checkpointId()))
                    .doesNotHaveError();
            var checkpoint = observations("laminar.storage.checkpoint").get(0);
            var steps = observations("laminar.storage.checkpoint.step");
            assertThat(steps).extracting(step -> low(step, "step"))
                    .containsExactly("barrier", "upload", "publish", "cleanup");
            assertThat(steps).allSatisfy(step -> {
                assertThat(step.getParentObservation()).isNotNull();
                assertThat(step.getParentObservation().getContextView()).isSameAs(checkpoint);
                assertThat(low(step, "outcome")).isEqualTo("completed");
            });
            assertThat(steps).extracting(Observation.Context::getContextualName)
                    .containsExactly("checkpoint barrier", "checkpoint upload", "checkpoint publish",
                            "checkpoint cleanup");
        });
    }

    @Test
    void aFailedCheckpointEndsItsStepAndItselfWithTheError() {
        var io = FaultyFileIO.overSystem();
        runner().withBean(CheckpointStore.class, () -> {
                    try {
                        return FileSystemCheckpointStore.open(dir.resolve("cp"), io);
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                })
                .run(context -> {
                    var runtime = context.getBean(LaminarRuntime.class);
                    put(runtime, "alpha");
                    io.forces().withMessage("No space left on device").failNow();
                    assertThat(runtime.triggerCheckpoint()).failsWithin(Duration.ofSeconds(30));
                    io.forces().stopFailing();

                    var checkpoint = observations("laminar.storage.checkpoint").get(0);
                    assertThat(low(checkpoint, "outcome")).isEqualTo("failed");
                    assertThat(checkpoint.getError()).hasMessageContaining("No space left on device");
                    var steps = observations("laminar.storage.checkpoint.step");
                    assertThat(steps).extracting(step -> low(step, "step") + " " + low(step, "outcome"))
                            .containsExactly("barrier completed", "upload failed");
                    assertThat(steps.get(1).getError()).isNotNull();
                });
    }

    @Test
    void theRecoveryIsAnObservationWithADownloadPerCheckpointTriedAndTheReplay() {
        runner().run(context -> {
            var runtime = context.getBean(LaminarRuntime.class);
            put(runtime, "alpha");
            runtime.triggerCheckpoint().get(30, TimeUnit.SECONDS);
            put(runtime, "beta");
        });
        // The first start recovered from the WAL alone: no download.
        var first = observations("laminar.storage.recovery").get(0);
        assertThat(low(first, "source")).isEqualTo("wal");
        registry.clear();
        started.clear();

        runner().run(context -> {
            TestObservationRegistryAssert.assertThat(registry)
                    .hasNumberOfObservationsWithNameEqualTo("laminar.storage.recovery", 1)
                    .hasObservationWithNameEqualTo("laminar.storage.recovery").that()
                    .hasBeenStopped()
                    .hasLowCardinalityKeyValue("outcome", "completed")
                    .hasLowCardinalityKeyValue("source", "checkpoint")
                    .hasHighCardinalityKeyValue("checkpoint.id", "0")
                    .hasHighCardinalityKeyValue("records.replayed", "1");
            var recovery = observations("laminar.storage.recovery").get(0);
            var steps = observations("laminar.storage.recovery.step");
            assertThat(steps).extracting(step -> low(step, "step") + " " + low(step, "outcome"))
                    .containsExactly("download restored", "replay completed");
            assertThat(steps).allSatisfy(step -> assertThat(step.getParentObservation().getContextView())
                    .isSameAs(recovery));
        });
    }

    @Test
    void theObservationsBackOffWhenSwitchedOffOrWithoutTheObservationApi() {
        runner().withPropertyValues("management.observations.laminar-storage.enabled=false")
                .run(context -> assertThat(context).hasSingleBean(LaminarRuntime.class)
                        .doesNotHaveBean(LaminarStorageObservations.class));
        runner().withClassLoader(new FilteredClassLoader(ObservationRegistry.class))
                .run(context -> assertThat(context).hasSingleBean(LaminarRuntime.class)
                        .doesNotHaveBean(LaminarStorageObservations.class));
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LaminarStorageAutoConfiguration.class,
                        LaminarStorageObservationAutoConfiguration.class))
                .withPropertyValues(QuickStorage.properties(dir))
                .run(context -> assertThat(context).doesNotHaveBean(LaminarStorageObservations.class));
    }

    @Test
    void storeNamesAreLowCardinality() throws Exception {
        try (var store = FileSystemCheckpointStore.open(dir.resolve("cp"))) {
            assertThat(LaminarStorageObservationAutoConfiguration.storeName(store)).isEqualTo("filesystem");
        }
    }
}

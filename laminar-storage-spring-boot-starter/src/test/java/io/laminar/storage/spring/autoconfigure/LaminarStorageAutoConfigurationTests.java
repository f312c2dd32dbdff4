package io.laminar.storage.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.KeyGroups;
import io.laminar.storage.changelog.CutContext;
import io.laminar.storage.checkpoint.CheckpointListener;
import io.laminar.storage.checkpoint.CheckpointStep;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.runtime.CoreInitializer;
import io.laminar.storage.runtime.CutContextProvider;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalIoBackend;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.annotation.ImportCandidates;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.annotation.Order;

/**
 * {@link LaminarStorageAutoConfiguration} on the filesystem store: the defaults, the properties,
 * user beans backing off, the customizers and the hook beans. Every context runs a real runtime
 * over real files in a temporary directory.
 */
class LaminarStorageAutoConfigurationTests {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    /** Two cores and small segments keep each context quick; the defaults test uses neither. */
    private ApplicationContextRunner runner() {
        return QuickStorage.runner(this.dir);
    }

    @Test
    void runWithDefaultsShouldRecoverTakeDurableTasksAndCheckpointOnTheFileSystem() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LaminarStorageAutoConfiguration.class))
                .withPropertyValues("laminar.storage.dir=" + this.dir)
                .run(context -> {
                    assertThat(context).hasNotFailed()
                            .hasSingleBean(LaminarStorageProperties.class)
                            .hasSingleBean(PerCoreWalManager.class)
                            .hasSingleBean(LaminarRuntime.class)
                            .hasSingleBean(LaminarRuntimeLifecycle.class)
                            .hasBean("laminarCheckpointStore")
                            .hasBean("laminarPerCoreWalManager")
                            .hasBean("laminarRuntime")
                            .hasBean("laminarRuntimeLifecycle");
                    var store = context.getBean(CheckpointStore.class);
                    assertThat(store).isInstanceOf(FileSystemCheckpointStore.class);
                    assertThat(((FileSystemCheckpointStore) store).root())
                            .isEqualTo(this.dir.resolve("checkpoints").toAbsolutePath().normalize());

                    var wal = context.getBean(PerCoreWalManager.class);
                    assertThat(wal.directory()).isEqualTo(this.dir.resolve("wal"));
                    var options = wal.options();
                    assertThat(options.cores()).isEqualTo(Runtime.getRuntime().availableProcessors());
                    assertThat(options.wal().segmentSize()).isEqualTo(64L << 20);
                    assertThat(options.wal().syncPolicy())
                            .isEqualTo(SyncPolicy.groupCommit(Duration.ofMillis(1), 4096));

                    var runtime = context.getBean(LaminarRuntime.class);
                    assertThat(runtime.isRunning()).isTrue();
                    assertThat(runtime.recoveryReport()).hasValueSatisfying(report -> {
                        assertThat(report.checkpointId()).isNull();
                        assertThat(report.recordsReplayed()).isZero();
                    });
                    put(runtime, "alpha", "1");
                    var manifest = runtime.triggerCheckpoint().get(WAIT.toSeconds(), TimeUnit.SECONDS);
                    assertThat(store.listCheckpoints()).containsExactly(manifest.checkpointId());
                    assertThat(manifest.stateBytes()).isEqualTo("alpha".length() + "1".length());
                });
    }

    @Test
    void autoConfigurationShouldBeRegisteredForSpringBootToFind() {
        var candidates = ImportCandidates.load(AutoConfiguration.class, getClass().getClassLoader()).getCandidates();
        assertThat(candidates).contains(LaminarStorageAutoConfiguration.class.getName());
    }

    @Test
    void enabledFalseShouldBackOffEverythingAndTouchNoDirectory() {
        var everything = AutoConfigurations.of(ImportCandidates.load(AutoConfiguration.class,
                getClass().getClassLoader()).getCandidates().stream()
                .filter(name -> name.startsWith("io.laminar.storage."))
                .map(name -> {
                    try {
                        return Class.forName(name);
                    } catch (ClassNotFoundException e) {
                        throw new AssertionError(e);
                    }
                }).toArray(Class<?>[]::new));
        var data = this.dir.resolve("data");
        new ApplicationContextRunner().withConfiguration(everything)
                .withBean(io.micrometer.core.instrument.simple.SimpleMeterRegistry.class)
                .withPropertyValues("laminar.storage.dir=" + data, "laminar.storage.enabled=false")
                .run(context -> {
                    assertThat(context).hasNotFailed()
                            .doesNotHaveBean(LaminarStorageProperties.class)
                            .doesNotHaveBean(PerCoreWalManager.class)
                            .doesNotHaveBean(CheckpointStore.class)
                            .doesNotHaveBean(LaminarRuntime.class)
                            .doesNotHaveBean(LaminarRuntimeLifecycle.class)
                            .doesNotHaveBean(io.laminar.storage.checkpoint.CheckpointHistory.class)
                            .doesNotHaveBean(io.laminar.storage.spring.actuate.LaminarStorageMetrics.class);
                    assertThat(data).doesNotExist();
                });
    }

    @Test
    void enabledTrueShouldBeTheDefault() {
        runner().withPropertyValues("laminar.storage.enabled=true")
                .run(context -> assertThat(context).hasSingleBean(LaminarRuntime.class));
    }

    @Test
    void runShouldRecoverWhatThePreviousContextMadeDurable() {
        var runner = runner().withPropertyValues("laminar.storage.checkpoint.final-on-shutdown=false");
        runner.run(context -> {
            var runtime = context.getBean(LaminarRuntime.class);
            for (int i = 0; i < 20; i++) {
                put(runtime, "key-" + i, "value-" + i);
            }
        });
        runner.run(context -> {
            var runtime = context.getBean(LaminarRuntime.class);
            assertThat(runtime.recoveryReport()).hasValueSatisfying(report -> {
                assertThat(report.checkpointId()).isNull();
                assertThat(report.recordsReplayed()).isEqualTo(20);
            });
            for (int i = 0; i < 20; i++) {
                assertThat(get(runtime, "key-" + i)).isEqualTo("value-" + i);
            }
        });
    }

    @Test
    void propertiesShouldConfigureTheWalTheStoreAndThePeriodicCheckpoints() {
        var checkpoints = this.dir.resolve("elsewhere");
        runner().withPropertyValues("laminar.storage.cores=3", "laminar.storage.wal.segment-size=4MB",
                        "laminar.storage.wal.sync-policy=interval", "laminar.storage.wal.sync-interval=5ms",
                        "laminar.storage.wal.io-backend=direct",
                        "laminar.storage.checkpoint.interval=50ms", "laminar.storage.checkpoint.retained=2",
                        "laminar.storage.checkpoint.filesystem.dir=" + checkpoints)
                .run(context -> {
                    var options = context.getBean(PerCoreWalManager.class).options();
                    assertThat(options.cores()).isEqualTo(3);
                    assertThat(options.wal().segmentSize()).isEqualTo(4L << 20);
                    assertThat(options.wal().syncPolicy()).isEqualTo(SyncPolicy.interval(Duration.ofMillis(5)));
                    assertThat(options.wal().ioBackend()).isEqualTo(WalIoBackend.DIRECT);
                    assertThat(context.getBean(PerCoreWalManager.class).ioBackend(2)).isEqualTo(WalIoBackend.DIRECT);
                    var store = (FileSystemCheckpointStore) context.getBean(CheckpointStore.class);
                    assertThat(store.root()).isEqualTo(checkpoints.toAbsolutePath().normalize());

                    var runtime = context.getBean(LaminarRuntime.class);
                    put(runtime, "k", "v");
                    // Periodic checkpoints run without being triggered, and retention keeps two.
                    awaitTrue(() -> !store.listCheckpoints().isEmpty() && store.listCheckpoints().get(0) >= 3,
                            "three periodic checkpoints");
                    assertThat(store.listCheckpoints()).hasSize(2);
                });
    }

    @Test
    void userDefinedBeansShouldMakeTheAutoConfiguredOnesBackOff() throws IOException {
        var userStore = FileSystemCheckpointStore.open(this.dir.resolve("user-store"));
        var userWal = PerCoreWalManager.open(this.dir.resolve("user-wal"),
                PerCoreWalOptions.builder().cores(1).wal(w -> w.segmentSize(2L << 20)).build());
        try {
            runner().withBean(CheckpointStore.class, () -> userStore)
                    .withBean(PerCoreWalManager.class, () -> userWal)
                    .run(context -> {
                        assertThat(context).hasSingleBean(CheckpointStore.class)
                                .hasSingleBean(PerCoreWalManager.class)
                                .doesNotHaveBean("laminarCheckpointStore")
                                .doesNotHaveBean("laminarPerCoreWalManager");
                        var runtime = context.getBean(LaminarRuntime.class);
                        assertThat(runtime.store()).isSameAs(userStore);
                        assertThat(runtime.wal()).isSameAs(userWal);
                        assertThat(runtime.cores()).isEqualTo(1);
                        assertThat(runtime.isRunning()).isTrue();
                    });
        } finally {
            userWal.close();
        }
    }

    @Test
    void userDefinedRuntimeAndLifecycleShouldMakeTheAutoConfiguredOnesBackOff() {
        runner().withUserConfiguration(UserRuntimeConfiguration.class).run(context -> {
            assertThat(context).hasSingleBean(LaminarRuntime.class).hasSingleBean(LaminarRuntimeLifecycle.class)
                    .doesNotHaveBean("laminarRuntime").doesNotHaveBean("laminarRuntimeLifecycle");
            var runtime = context.getBean("userRuntime", LaminarRuntime.class);
            assertThat(runtime.isRunning()).isTrue();
            assertThat(runtime.wal()).isSameAs(context.getBean(PerCoreWalManager.class));
        });
    }

    @Test
    void everyCheckpointListenerBeanShouldHearTheCheckpoints() {
        runner().withUserConfiguration(ListenerConfiguration.class).run(context -> {
            var runtime = context.getBean(LaminarRuntime.class);
            var manifest = runtime.triggerCheckpoint().get(WAIT.toSeconds(), TimeUnit.SECONDS);
            var first = context.getBean("firstListener", RecordingListener.class);
            var second = context.getBean("secondListener", RecordingListener.class);
            awaitTrue(() -> first.completed.contains(manifest.checkpointId())
                    && second.completed.contains(manifest.checkpointId()), "both listeners hear the checkpoint");
            // A listener that depends on the runtime (an endpoint, a health indicator) makes no cycle.
            assertThat(context.getBean("runtimeAwareListener", RuntimeAwareListener.class).completed)
                    .contains(manifest.checkpointId());
        });
    }

    @Test
    void customizersShouldBeAppliedInOrderAfterTheProperties() {
        runner().withUserConfiguration(CustomizerConfiguration.class).run(context -> {
            var calls = context.getBean("calls", Calls.class).list;
            assertThat(calls).containsSubsequence("wal-first", "wal-second");
            var wal = context.getBean(PerCoreWalManager.class);
            assertThat(wal.options().maxEntrySize()).isEqualTo(64 * 1024);
            assertThat(wal.options().cores()).isEqualTo(2); // the property, kept by the customizers

            var runtime = context.getBean(LaminarRuntime.class);
            // The runtime customizer added a listener through the builder.
            var manifest = runtime.triggerCheckpoint().get(WAIT.toSeconds(), TimeUnit.SECONDS);
            awaitTrue(() -> calls.contains("listener-completed-" + manifest.checkpointId()),
                    "the customizer's listener hears the checkpoint");
            // The coordinator customizers ran at start, in order, and their step observer sees steps.
            assertThat(calls).containsSubsequence("runtime-customizer", "coordinator-first", "coordinator-second");
            assertThat(calls).contains("step-" + CheckpointStep.MANIFEST_PUBLISHED);
        });
    }

    @Test
    void coordinatorCustomizerShouldOverrideTheCheckpointProperties() {
        runner().withPropertyValues("laminar.storage.checkpoint.retained=5")
                .withBean(StateCheckpointCoordinatorCustomizer.class, () -> builder -> builder.retainedCheckpoints(1))
                .run(context -> {
                    var runtime = context.getBean(LaminarRuntime.class);
                    for (int i = 0; i < 3; i++) {
                        put(runtime, "k" + i, "v");
                        runtime.triggerCheckpoint().get(WAIT.toSeconds(), TimeUnit.SECONDS);
                    }
                    assertThat(context.getBean(CheckpointStore.class).listCheckpoints()).hasSize(1);
                });
    }

    @Test
    void cutContextProviderAndCoreInitializerBeansShouldBeUsedByTheRuntime() {
        runner().withUserConfiguration(HookConfiguration.class).run(context -> {
            var runtime = context.getBean(LaminarRuntime.class);
            var initialized = context.getBean("initialized", Calls.class).list;
            // Both initializers ran on both cores, in order, before any task.
            assertThat(initialized).containsExactlyInAnyOrder("first-0", "second-0", "first-1", "second-1");
            assertThat(initialized.indexOf("first-0")).isLessThan(initialized.indexOf("second-0"));
            assertThat(get(runtime, "initialized-by-core")).isNotNull();

            var manifest = runtime.triggerCheckpoint().get(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(manifest.sources().get(io.laminar.storage.checkpoint.CoreChains.name(1))
                    .offsets()).containsEntry("events", "offset-of-core-1");
        });
    }

    @Test
    void twoCutContextProviderBeansShouldFailTheStartNamingTheProblem() {
        runner().withBean("one", CutContextProvider.class, () -> CutContextProvider.NONE)
                .withBean("two", CutContextProvider.class, () -> CutContextProvider.NONE)
                .run(context -> {
                    assertThat(context).hasFailed();
                    assertThat(context.getStartupFailure())
                            .rootCause().hasMessageContaining("Found 2 CutContextProvider beans");
                });
    }

    @Test
    void reopeningWithAnotherNumberOfCoresShouldRescaleAndReportIt() {
        runner().run(context -> {
            assertThat(context).hasNotFailed();
            var runtime = context.getBean(LaminarRuntime.class);
            for (int i = 0; i < 20; i++) {
                put(runtime, "key-" + i, "value-" + i);
            }
        });
        runner().withPropertyValues("laminar.storage.cores=3").run(context -> {
            assertThat(context).hasNotFailed();
            var runtime = context.getBean(LaminarRuntime.class);
            assertThat(runtime.cores()).isEqualTo(3);
            var rescale = runtime.recoveryReport().orElseThrow().rescale();
            assertThat(rescale.oldCores()).isEqualTo(2);
            assertThat(rescale.newCores()).isEqualTo(3);
            for (int i = 0; i < 20; i++) {
                assertThat(get(runtime, "key-" + i)).isEqualTo("value-" + i);
            }
        });
        runner().withPropertyValues("laminar.storage.cores=3").run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(LaminarRuntime.class).recoveryReport().orElseThrow().rescale())
                    .as("the same number again: no rescale").isNull();
        });
    }

    @Test
    void reopeningWithAnotherNumberOfKeyGroupsShouldFailNamingThePropertyAndTheRecordedValue() {
        runner().run(context -> assertThat(context).hasNotFailed());
        runner().withPropertyValues("laminar.storage.key-groups=128").run(context -> {
            assertThat(context).hasFailed();
            var failure = findCause(context, InvalidConfigurationPropertyValueException.class);
            assertThat(failure.getName()).isEqualTo("laminar.storage.key-groups");
            assertThat(failure.getValue()).isEqualTo(128);
            assertThat(failure.getReason()).contains("256 key groups").contains("set it back to 256");
            assertThat(InvalidPropertiesTests.analyze(context.getStartupFailure()).getDescription())
                    .contains("laminar.storage.key-groups");
        });
    }

    @Test
    void unusableCheckpointDirectoryShouldFailNamingTheProperty() throws IOException {
        var file = Files.writeString(this.dir.resolve("a-file"), "not a directory");
        runner().withPropertyValues("laminar.storage.checkpoint.filesystem.dir=" + file).run(context -> {
            assertThat(context).hasFailed();
            var failure = findCause(context, StorageDirectoryException.class);
            assertThat(failure).hasMessageContaining("Cannot use the directory " + file)
                    .hasMessageContaining("laminar.storage.checkpoint.filesystem.dir")
                    .hasMessageContaining(file + " is a file, not a directory");
        });
    }

    // ---- helpers --------------------------------------------------------------------------------

    static void put(LaminarRuntime runtime, String key, String value) throws Exception {
        QuickStorage.putDurably(runtime, key, value.getBytes(StandardCharsets.UTF_8));
    }

    static String get(LaminarRuntime runtime, String key) throws Exception {
        var bytes = key.getBytes(StandardCharsets.UTF_8);
        var value = runtime.submit(runtime.coreOf(bytes), context -> context.store().get(bytes))
                .get(WAIT.toSeconds(), TimeUnit.SECONDS);
        return (value != null) ? new String(value, StandardCharsets.UTF_8) : null;
    }

    interface Check {
        boolean holds() throws Exception;
    }

    static void awaitTrue(Check check, String what) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!check.holds()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(10);
        }
    }

    static <T extends Throwable> T findCause(AssertableApplicationContext context, Class<T> type) {
        for (Throwable t = context.getStartupFailure(); t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        throw new AssertionError("no " + type.getSimpleName() + " in " + context.getStartupFailure());
    }

    static final class Calls {
        final List<String> list = new CopyOnWriteArrayList<>();
    }

    static class RecordingListener implements CheckpointListener {
        final List<Long> completed = new CopyOnWriteArrayList<>();

        @Override
        public void completed(CheckpointManifest manifest, Duration duration, long writtenBytes) {
            this.completed.add(manifest.checkpointId());
        }
    }

    static final class RuntimeAwareListener extends RecordingListener {
        RuntimeAwareListener(LaminarRuntime runtime) {
            assertThat(runtime).isNotNull();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class ListenerConfiguration {

        @Bean
        RecordingListener firstListener() {
            return new RecordingListener();
        }

        @Bean
        RecordingListener secondListener() {
            return new RecordingListener();
        }

        @Bean
        RuntimeAwareListener runtimeAwareListener(LaminarRuntime runtime) {
            return new RuntimeAwareListener(runtime);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class UserRuntimeConfiguration {

        @Bean
        LaminarRuntime userRuntime(PerCoreWalManager wal, CheckpointStore store) {
            return LaminarRuntime.builder(wal, store).build();
        }

        @Bean
        LaminarRuntimeLifecycle userLifecycle(LaminarRuntime runtime,
                                              org.springframework.beans.factory.ObjectProvider<CheckpointListener> listeners,
                                              org.springframework.context.ApplicationEventPublisher events) {
            return new LaminarRuntimeLifecycle(runtime, listeners, events);
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class CustomizerConfiguration {

        @Bean
        Calls calls() {
            return new Calls();
        }

        // Declared second, ordered first.
        @Bean
        @Order(2)
        PerCoreWalOptionsCustomizer secondWalCustomizer(Calls calls) {
            return builder -> {
                calls.list.add("wal-second");
                builder.maxEntrySize(64 * 1024);
            };
        }

        @Bean
        @Order(1)
        PerCoreWalOptionsCustomizer firstWalCustomizer(Calls calls) {
            return builder -> {
                calls.list.add("wal-first");
                builder.maxEntrySize(1024);
            };
        }

        @Bean
        LaminarRuntimeCustomizer runtimeCustomizer(Calls calls) {
            return builder -> {
                calls.list.add("runtime-customizer");
                builder.listener(new CheckpointListener() {
                    @Override
                    public void completed(CheckpointManifest manifest, Duration duration, long writtenBytes) {
                        calls.list.add("listener-completed-" + manifest.checkpointId());
                    }
                });
            };
        }

        @Bean
        @Order(2)
        StateCheckpointCoordinatorCustomizer secondCoordinatorCustomizer(Calls calls) {
            return builder -> {
                calls.list.add("coordinator-second");
                builder.stepObserver(step -> calls.list.add("step-" + step));
            };
        }

        @Bean
        @Order(1)
        StateCheckpointCoordinatorCustomizer firstCoordinatorCustomizer(Calls calls) {
            return builder -> calls.list.add("coordinator-first");
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class HookConfiguration {

        @Bean
        Calls initialized() {
            return new Calls();
        }

        /** Reports offsets at the cut and depends on the runtime, like a source that submits tasks. */
        @Bean
        CutContextProvider sourceOffsets(LaminarRuntime runtime) {
            assertThat(runtime).isNotNull();
            return (core, store) -> CutContext.ofSourceOffsets(Map.of("events", "offset-of-core-" + core));
        }

        @Bean
        @Order(1)
        CoreInitializer firstInitializer(Calls initialized) {
            return context -> initialized.list.add("first-" + context.core());
        }

        @Bean
        @Order(2)
        CoreInitializer secondInitializer(Calls initialized) {
            return context -> {
                initialized.list.add("second-" + context.core());
                var key = "initialized-by-core".getBytes(StandardCharsets.UTF_8);
                if (LaminarRuntime.coreOf(key, KeyGroups.DEFAULT_KEY_GROUPS, 2) == context.core()) {
                    context.store().put(key, new byte[] {(byte) context.core()});
                }
            };
        }
    }
}

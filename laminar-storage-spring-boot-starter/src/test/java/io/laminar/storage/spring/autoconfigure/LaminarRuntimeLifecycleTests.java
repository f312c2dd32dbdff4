package io.laminar.storage.spring.autoconfigure;

import static io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfigurationTests.get;
import static io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfigurationTests.put;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatException;

import io.laminar.storage.io.FaultyFileIO;
import io.laminar.storage.runtime.CoreInitializer;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.autoconfigure.availability.ApplicationAvailabilityAutoConfiguration;
import org.springframework.boot.availability.ApplicationAvailability;
import org.springframework.boot.availability.LivenessState;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The lifecycle: recovery completes before a web server (or a listener container) starts, the
 * runtime stops after them, readiness refuses traffic while recovering, and closing the context
 * takes the final checkpoint.
 */
class LaminarRuntimeLifecycleTests {

    /** Where Spring Boot starts and stops the embedded web server ({@code WebServerApplicationContext}). */
    private static final int WEB_SERVER_PHASE = SmartLifecycle.DEFAULT_PHASE - 2048;

    @TempDir
    Path dir;

    private ApplicationContextRunner runner() {
        return QuickStorage.runner(this.dir);
    }

    @Test
    void phaseShouldStartBeforeAndStopAfterTheWebServerAndItsGracefulShutdown() {
        assertThat(LaminarRuntimeLifecycle.PHASE).isLessThan(WEB_SERVER_PHASE)
                .isLessThan(SmartLifecycle.DEFAULT_PHASE - 1024);
    }

    @Test
    void recoveryShouldCompleteBeforeTrafficStartsAndTheRuntimeShouldStopAfterTrafficStopped() {
        runner().withUserConfiguration(TrafficConfiguration.class).run(context -> {
            var events = context.getBean(Events.class).list;
            assertThat(events).containsSubsequence("recovered-core-0", "web-server-started",
                    "web-server-saw-running-runtime", "listener-container-started",
                    "listener-container-saw-running-runtime");
            assertThat(events).containsSubsequence("recovered-core-1", "web-server-started");
            events.clear();
            var runtime = context.getBean(LaminarRuntime.class);
            context.close();
            assertThat(events).containsExactly("listener-container-stopping",
                    "listener-container-saw-running-runtime", "web-server-stopping",
                    "web-server-saw-running-runtime");
            assertThat(runtime.isRunning()).isFalse();
        });
    }

    @Test
    void readinessShouldRefuseTrafficWhileRecoveringAndAfterStop() {
        var seen = new CopyOnWriteArrayList<ReadinessState>();
        var application = new SpringApplicationBuilder(ReadinessApplication.class)
                .web(WebApplicationType.NONE)
                .properties("laminar.storage.dir=" + this.dir, "laminar.storage.cores=2",
                        "laminar.storage.wal.segment-size=2MB")
                .initializers(context -> context.getBeanFactory().registerSingleton("seenReadiness", seen));
        try (var context = application.run()) {
            // Seen by each core during its recovery.
            assertThat(seen).containsExactly(ReadinessState.REFUSING_TRAFFIC, ReadinessState.REFUSING_TRAFFIC);
            var availability = context.getBean(ApplicationAvailability.class);
            assertThat(availability.getReadinessState()).isEqualTo(ReadinessState.ACCEPTING_TRAFFIC);
            var runtime = context.getBean(LaminarRuntime.class);
            assertThat(runtime.isRunning()).isTrue();

            context.stop(); // stopped, not closed: readiness must follow the runtime
            assertThat(runtime.isRunning()).isFalse();
            assertThat(availability.getReadinessState()).isEqualTo(ReadinessState.REFUSING_TRAFFIC);
            assertThatException().isThrownBy(context::start)
                    .havingRootCause().isInstanceOf(IllegalStateException.class)
                    .withMessageContaining("was stopped and cannot start again; restart the application instead");
        }
    }

    @Test
    void readinessShouldRefuseTrafficOnceTheWalOfACoreFailed() throws Exception {
        var io = FaultyFileIO.overSystem();
        var application = new SpringApplicationBuilder(ReadinessApplication.class)
                .web(WebApplicationType.NONE)
                .properties("laminar.storage.dir=" + this.dir, "laminar.storage.cores=2",
                        "laminar.storage.wal.segment-size=2MB", "laminar.storage.checkpoint.interval=0")
                .initializers(context -> {
                    context.getBeanFactory().registerSingleton("seenReadiness", new CopyOnWriteArrayList<>());
                    context.getBeanFactory().registerSingleton("faultyFileIo",
                            (PerCoreWalOptionsCustomizer) options -> options.wal(w -> w.fileIO(io)));
                });
        try (var context = application.run()) {
            var availability = context.getBean(ApplicationAvailability.class);
            assertThat(availability.getReadinessState()).isEqualTo(ReadinessState.ACCEPTING_TRAFFIC);
            assertThat(availability.getLivenessState()).isEqualTo(LivenessState.CORRECT);
            var runtime = context.getBean(LaminarRuntime.class);
            io.forces().withMessage("No space left on device").failNow();
            var key = "k".getBytes(java.nio.charset.StandardCharsets.UTF_8);
            var put = runtime.submitDurable(runtime.coreOf(key), c -> {
                c.store().put(key, new byte[10]);
                return null;
            });
            assertThat(put).failsWithin(java.time.Duration.ofSeconds(10));
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                    .until(availability::getReadinessState, ReadinessState.REFUSING_TRAFFIC::equals);
            assertThat(availability.getLivenessState()).isEqualTo(LivenessState.CORRECT);
            io.forces().stopFailing();
            context.getBean(LaminarRuntimeLifecycle.class).stop(); // the failed core's changes fail the close
        } catch (RuntimeException closing) {
            assertThat(closing).hasStackTraceContaining("No space left on device");
        }
    }

    @Test
    void closeShouldTakeAFinalCheckpointSoTheNextStartReplaysNothing() throws Exception {
        runner().run(context -> {
            var runtime = context.getBean(LaminarRuntime.class);
            for (int i = 0; i < 50; i++) {
                put(runtime, "key-" + i, "value-" + i);
            }
            assertThat(context.getBean(io.laminar.storage.store.CheckpointStore.class).listCheckpoints())
                    .isEmpty();
        });
        List<Long> checkpoints;
        try (var store = FileSystemCheckpointStore.open(this.dir.resolve("checkpoints"))) {
            checkpoints = store.listCheckpoints();
        }
        assertThat(checkpoints).hasSize(1);
        runner().run(context -> {
            var runtime = context.getBean(LaminarRuntime.class);
            assertThat(runtime.recoveryReport()).hasValueSatisfying(report -> {
                assertThat(report.checkpointId()).isEqualTo(checkpoints.get(0));
                assertThat(report.recordsReplayed()).isZero();
            });
            for (int i = 0; i < 50; i++) {
                assertThat(get(runtime, "key-" + i)).isEqualTo("value-" + i);
            }
        });
    }

    @Test
    void closeWithoutFinalCheckpointShouldLeaveTheChangesToTheWalReplay() throws Exception {
        var runner = runner().withPropertyValues("laminar.storage.checkpoint.final-on-shutdown=false");
        runner.run(context -> {
            var runtime = context.getBean(LaminarRuntime.class);
            for (int i = 0; i < 50; i++) {
                put(runtime, "key-" + i, "value-" + i);
            }
        });
        try (var store = FileSystemCheckpointStore.open(this.dir.resolve("checkpoints"))) {
            assertThat(store.listCheckpoints()).isEmpty();
        }
        runner.run(context -> {
            var runtime = context.getBean(LaminarRuntime.class);
            assertThat(runtime.recoveryReport()).hasValueSatisfying(report ->
                    assertThat(report.recordsReplayed()).isEqualTo(50));
            assertThat(get(runtime, "key-49")).isEqualTo("value-49");
        });
    }

    @Test
    void failedRecoveryShouldFailTheStartupAndLeaveNothingRunning() {
        runner().withBean(CoreInitializer.class, () -> context -> {
            throw new IllegalStateException("cannot resume the source");
        }).run(context -> {
            assertThat(context).hasFailed();
            assertThat(context.getStartupFailure())
                    .hasMessageContaining("laminarRuntimeLifecycle")
                    .rootCause().hasMessageContaining("cannot resume the source");
            var failure = LaminarStorageAutoConfigurationTests.findCause(context,
                    io.laminar.storage.StorageException.class);
            assertThat(failure).hasMessageContaining("the initializer of core");
        });
        // The WAL was closed with the failed context: the directory opens again.
        runner().run(context -> assertThat(context.getBean(LaminarRuntime.class).isRunning()).isTrue());
    }

    static final class Events {
        final List<String> list = new CopyOnWriteArrayList<>();
    }

    /** Stands for a web server or a listener container: records what it sees of the runtime. */
    static final class TrafficLifecycle implements SmartLifecycle {
        private final String name;
        private final int phase;
        private final List<String> events;
        private final ObjectProvider<LaminarRuntime> runtime;
        private volatile boolean running;

        TrafficLifecycle(String name, int phase, Events events, ObjectProvider<LaminarRuntime> runtime) {
            this.name = name;
            this.phase = phase;
            this.events = events.list;
            this.runtime = runtime;
        }

        @Override
        public void start() {
            this.events.add(this.name + "-started");
            seeRuntime();
            this.running = true;
        }

        @Override
        public void stop() {
            this.events.add(this.name + "-stopping");
            seeRuntime();
            this.running = false;
        }

        private void seeRuntime() {
            if (this.runtime.getObject().isRunning()) {
                this.events.add(this.name + "-saw-running-runtime");
            }
        }

        @Override
        public boolean isRunning() {
            return this.running;
        }

        @Override
        public int getPhase() {
            return this.phase;
        }
    }

    /**
     * The runtime reaches the traffic lifecycles through an {@link ObjectProvider}, so that only
     * the phases order them, not a bean dependency.
     */
    @Configuration(proxyBeanMethods = false)
    static class TrafficConfiguration {

        @Bean
        Events events() {
            return new Events();
        }

        @Bean
        CoreInitializer slowRecovery(Events events) {
            return context -> {
                Thread.sleep(100); // a recovery that takes a while
                events.list.add("recovered-core-" + context.core());
            };
        }

        @Bean
        TrafficLifecycle webServer(Events events, ObjectProvider<LaminarRuntime> runtime) {
            return new TrafficLifecycle("web-server", WEB_SERVER_PHASE, events, runtime);
        }

        @Bean
        TrafficLifecycle listenerContainer(Events events, ObjectProvider<LaminarRuntime> runtime) {
            return new TrafficLifecycle("listener-container", SmartLifecycle.DEFAULT_PHASE, events, runtime);
        }
    }

    @Configuration(proxyBeanMethods = false)
    @ImportAutoConfiguration({ApplicationAvailabilityAutoConfiguration.class, LaminarStorageAutoConfiguration.class})
    static class ReadinessApplication {

        @Bean
        CoreInitializer recordReadiness(ApplicationAvailability availability,
                                        org.springframework.beans.factory.BeanFactory beans) {
            @SuppressWarnings("unchecked")
            var seen = (List<ReadinessState>) beans.getBean("seenReadiness");
            return context -> seen.add(availability.getReadinessState());
        }
    }
}

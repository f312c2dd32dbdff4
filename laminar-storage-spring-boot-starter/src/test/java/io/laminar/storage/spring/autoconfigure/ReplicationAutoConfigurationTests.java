package io.laminar.storage.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.replication.ChangeReplicator;
import io.laminar.storage.replication.kafka.KafkaChangeReplicator;
import io.laminar.storage.replication.kafka.KafkaCluster;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.actuate.LaminarStorageHealthIndicator;
import io.laminar.storage.spring.autoconfigure.health.LaminarStorageHealthAutoConfiguration;
import io.laminar.storage.spring.autoconfigure.history.LaminarStorageCheckpointHistoryAutoConfiguration;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.kafka.autoconfigure.KafkaAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/**
 * {@code laminar.storage.durability}: local by default (no replicator), replicated through Kafka
 * with Spring Boot's {@code spring.kafka.*} settings against real brokers in this JVM, and the
 * failures of a replicated configuration that cannot work.
 */
class ReplicationAutoConfigurationTests {

    private static KafkaCluster cluster;

    @TempDir
    Path dir;

    @BeforeAll
    static void startBrokers() throws Exception {
        cluster = KafkaCluster.start(1);
    }

    @AfterAll
    static void stopBrokers() throws Exception {
        cluster.close();
    }

    private ApplicationContextRunner runner() {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LaminarStorageAutoConfiguration.class,
                        LaminarStorageCheckpointHistoryAutoConfiguration.class,
                        LaminarStorageHealthAutoConfiguration.class, KafkaAutoConfiguration.class))
                .withPropertyValues(QuickStorage.properties(this.dir));
    }

    @Test
    void durabilityIsLocalByDefault() {
        runner().run(context -> {
            assertThat(context).hasNotFailed().doesNotHaveBean(ChangeReplicator.class);
            assertThat(context.getBean(LaminarRuntime.class).isReplicated()).isFalse();
        });
    }

    @Test
    void replicatedDurabilityReplicatesThroughTheSpringKafkaBrokers() {
        runner().withPropertyValues("laminar.storage.durability=replicated", "spring.application.name=orders",
                        "spring.kafka.bootstrap-servers=" + cluster.bootstrapServers(),
                        "laminar.storage.replication.partitions=4", "laminar.storage.replication.replication-factor=1",
                        "laminar.storage.replication.min-insync-replicas=1",
                        "laminar.storage.replication.ack-timeout=10s")
                .run(context -> {
                    assertThat(context).hasNotFailed().hasSingleBean(KafkaChangeReplicator.class);
                    var replicator = context.getBean(KafkaChangeReplicator.class);
                    assertThat(replicator.options().shard()).isEqualTo("orders");
                    assertThat(replicator.options().topic()).isEqualTo("laminar-orders-changes");
                    assertThat(replicator.options().partitions()).isEqualTo(4);
                    var runtime = context.getBean(LaminarRuntime.class);
                    assertThat(runtime.isReplicated()).isTrue();
                    var key = "k".getBytes(StandardCharsets.UTF_8);
                    runtime.submitDurable(runtime.coreOf(key), c -> {
                        c.store().put(key, key);
                        return null;
                    }).get(30, TimeUnit.SECONDS);
                    assertThat(replicator.positions().values().stream().mapToLong(Long::parseLong).sum())
                            .as("the change is in the topic").isPositive();
                    var health = context.getBean(LaminarStorageHealthIndicator.class).health(true);
                    assertThat(health.getStatus()).isEqualTo(Status.UP);
                    assertThat(health.getDetails()).containsEntry("replication", "ok");
                    try (var admin = cluster.admin()) {
                        assertThat(admin.listTopics().names().get()).contains("laminar-orders-changes");
                    }
                });
    }

    @Test
    void aReplicatedShardRestartedWithAnotherNumberOfCoresIsRescaledAtStartAndLosesNothing() {
        String[] replicated = {"laminar.storage.durability=replicated", "spring.application.name=resized",
                "spring.kafka.bootstrap-servers=" + cluster.bootstrapServers(),
                "laminar.storage.replication.partitions=4", "laminar.storage.replication.replication-factor=1",
                "laminar.storage.replication.min-insync-replicas=1", "laminar.storage.replication.ack-timeout=10s"};
        var keys = new java.util.ArrayList<byte[]>();
        for (int i = 0; i < 40; i++) {
            keys.add(("k" + i).getBytes(StandardCharsets.UTF_8));
        }
        runner().withPropertyValues(replicated).withPropertyValues("laminar.storage.cores=2").run(context -> {
            assertThat(context).hasNotFailed();
            for (var key : keys) {
                QuickStorage.putDurably(context.getBean(LaminarRuntime.class), new String(key, StandardCharsets.UTF_8),
                        key);
            }
        });
        for (int cores : new int[] {3, 1}) {
            runner().withPropertyValues(replicated).withPropertyValues("laminar.storage.cores=" + cores).run(context -> {
                assertThat(context).hasNotFailed();
                var runtime = context.getBean(LaminarRuntime.class);
                assertThat(runtime.cores()).isEqualTo(cores);
                var rescale = runtime.recoveryReport().orElseThrow().rescale();
                assertThat(rescale).isNotNull();
                assertThat(rescale.newCores()).isEqualTo(cores);
                assertThat(rescale.entries()).isEqualTo(keys.size());
                for (var key : keys) {
                    assertThat(runtime.submit(runtime.coreOf(key), c -> c.store().get(key)).get(30, TimeUnit.SECONDS))
                            .isEqualTo(key);
                }
            });
        }
        assertThat(this.dir.resolve("wal" + io.laminar.storage.checkpoint.Rescaler.REPLICATED_SUFFIX)).doesNotExist();
    }

    @Test
    void replicatedDurabilityWithoutBrokersFailsNamingTheProperty() {
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LaminarStorageAutoConfiguration.class))
                .withPropertyValues(QuickStorage.properties(this.dir, "laminar.storage.durability=replicated"))
                .run(context -> {
                    assertThat(context).hasFailed();
                    var failure = findCause(context.getStartupFailure(), InvalidConfigurationPropertyValueException.class);
                    assertThat(failure.getName()).isEqualTo("laminar.storage.durability");
                    assertThat(failure.getReason()).contains("set spring.kafka.bootstrap-servers");
                });
    }

    @Test
    void noPartitionsAreRefused() {
        runner().withPropertyValues("laminar.storage.durability=replicated", "laminar.storage.replication.partitions=0")
                .run(context -> {
                    assertThat(context).hasFailed();
                    assertThat(context.getStartupFailure()).rootCause().hasMessageContaining(
                            "laminar.storage.replication.partitions must be at least 1, but was 0");
                });
    }

    private static <T extends Throwable> T findCause(Throwable failure, Class<T> type) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        throw new AssertionError("no " + type.getSimpleName() + " in " + failure, failure);
    }

}

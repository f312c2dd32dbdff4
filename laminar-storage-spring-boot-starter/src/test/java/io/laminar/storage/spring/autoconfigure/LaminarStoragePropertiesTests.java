package io.laminar.storage.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.changelog.ChangelogOptions;
import io.laminar.storage.changelog.OverflowPolicy;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.spring.autoconfigure.LaminarStorageProperties.StaleCheckpointStatus;
import io.laminar.storage.spring.autoconfigure.LaminarStorageProperties.StoreType;
import io.laminar.storage.spring.autoconfigure.LaminarStorageProperties.SyncPolicyType;
import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalIoBackend;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The defaults of {@link LaminarStorageProperties}, what they map to in core's options, and the
 * configuration metadata the annotation processor generates from the field javadoc.
 */
class LaminarStoragePropertiesTests {

    @Test
    void defaultsShouldBeThoseOfThePlanAndOfCore() {
        var properties = new LaminarStorageProperties();
        assertThat(properties.getDir()).isEqualTo(Path.of("laminar-data"));
        assertThat(properties.getCores()).isEqualTo(Runtime.getRuntime().availableProcessors());
        assertThat(properties.getWal().getSegmentSize()).isEqualTo(DataSize.ofMegabytes(64));
        assertThat(properties.getWal().getSyncPolicy()).isEqualTo(SyncPolicyType.GROUP_COMMIT);
        assertThat(properties.getWal().getGroupCommitMaxWait()).isEqualTo(Duration.ofMillis(1));
        assertThat(properties.getCheckpoint().getInterval()).isEqualTo(Duration.ofSeconds(10));
        assertThat(properties.getCheckpoint().getRetained()).isEqualTo(3);
        assertThat(properties.getCheckpoint().getStore()).isEqualTo(StoreType.FILESYSTEM);
        assertThat(properties.getCheckpoint().isFinalOnShutdown()).isTrue();
        assertThat(properties.getCheckpoint().getS3().getPrefix()).isEmpty();
        assertThat(properties.isEnabled()).isTrue();
        assertThat(properties.getWal().getMaxEntrySize().toBytes()).isEqualTo(PerCoreWalOptions.DEFAULT_MAX_ENTRY_SIZE);
        // The S3 store's own defaults.
        var s3 = properties.getCheckpoint().getS3();
        assertThat(s3.getPartSize().toBytes()).isEqualTo(io.laminar.storage.store.s3.S3CheckpointStore.DEFAULT_PART_SIZE);
        assertThat(s3.getUploadThreads()).isEqualTo(4);
        assertThat(s3.getMaxAttempts()).isEqualTo(5);
        assertThat(s3.getRetryBaseDelay()).isEqualTo(Duration.ofMillis(100));
        assertThat(s3.getRetryMaxDelay()).isEqualTo(Duration.ofSeconds(5));
        assertThat(s3.getIncompleteUploadMaxAge()).isEqualTo(Duration.ofHours(1));
        assertThat(properties.getHealth().getMaxCheckpointAge()).isZero();
        assertThat(properties.getHealth().getStaleCheckpointStatus()).isEqualTo(StaleCheckpointStatus.OUT_OF_SERVICE);
        // The same defaults as core, so that the starter changes nothing by itself.
        assertThat(properties.changelogOptions()).isEqualTo(ChangelogOptions.defaults());
        assertThat(properties.syncPolicy()).isEqualTo(SyncPolicy.groupCommit());
        assertThat(properties.getWal().getSegmentSize().toBytes())
                .isEqualTo(PerCoreWalOptions.builder().build().wal().segmentSize());
    }

    @Test
    void derivedValuesShouldFollowTheirProperties() {
        var properties = new LaminarStorageProperties();
        properties.setDir(Path.of("/data/app"));
        assertThat(properties.walDirectory()).isEqualTo(Path.of("/data/app/wal"));
        assertThat(properties.checkpointDirectory()).isEqualTo(Path.of("/data/app/checkpoints"));
        properties.getCheckpoint().getFilesystem().setDir(Path.of("/mnt/checkpoints"));
        assertThat(properties.checkpointDirectory()).isEqualTo(Path.of("/mnt/checkpoints"));

        assertThat(properties.effectiveMaxCheckpointAge()).isEqualTo(Duration.ofSeconds(30));
        properties.getHealth().setMaxCheckpointAge(Duration.ofMinutes(2));
        assertThat(properties.effectiveMaxCheckpointAge()).isEqualTo(Duration.ofMinutes(2));

        properties.getChangelog().setQueueCapacity(1024);
        properties.getChangelog().setOverflowPolicy(OverflowPolicy.FAIL);
        assertThat(properties.changelogOptions()).isEqualTo(
                ChangelogOptions.defaults().withQueueCapacity(1024).withOverflowPolicy(OverflowPolicy.FAIL));
    }

    @Test
    void everySyncPolicyShouldMapToCore() {
        var wal = new LaminarStorageProperties();
        wal.getWal().setGroupCommitMaxWait(Duration.ofMillis(3));
        wal.getWal().setSyncInterval(Duration.ofMillis(20));
        var expected = Map.of(
                SyncPolicyType.GROUP_COMMIT, SyncPolicy.groupCommit(Duration.ofMillis(3), 4096),
                SyncPolicyType.EVERY_APPEND, SyncPolicy.everyAppend(),
                SyncPolicyType.INTERVAL, SyncPolicy.interval(Duration.ofMillis(20)),
                SyncPolicyType.NONE, SyncPolicy.none());
        for (var type : SyncPolicyType.values()) {
            wal.getWal().setSyncPolicy(type);
            assertThat(wal.syncPolicy()).as(type.name()).isEqualTo(expected.get(type));
        }
    }

    @Test
    void generatedMetadataShouldDescribeEveryProperty() throws IOException {
        var metadata = laminarMetadata();
        var described = new LinkedHashMap<String, String>();
        for (var property : metadata.get("properties")) {
            described.put(property.get("name").asString(),
                    property.has("description") ? property.get("description").asString() : "");
        }
        // The module's metadata also describes its actuator endpoint and health indicator
        // (management.*, checked by their own tests); these are the properties of this class.
        assertThat(described.keySet()).filteredOn(name -> name.startsWith(LaminarStorageProperties.PREFIX + "."))
                .containsExactlyInAnyOrder(
                "laminar.storage.enabled", "laminar.storage.dir", "laminar.storage.cores", "laminar.storage.key-groups",
                "laminar.storage.wal.segment-size", "laminar.storage.wal.sync-policy",
                "laminar.storage.wal.max-entry-size", "laminar.storage.wal.io-backend",
                "laminar.storage.wal.group-commit-max-wait", "laminar.storage.wal.sync-interval",
                "laminar.storage.checkpoint.interval", "laminar.storage.checkpoint.retained",
                "laminar.storage.checkpoint.store", "laminar.storage.checkpoint.final-on-shutdown",
                "laminar.storage.checkpoint.filesystem.dir",
                "laminar.storage.checkpoint.s3.bucket", "laminar.storage.checkpoint.s3.prefix",
                "laminar.storage.checkpoint.s3.part-size", "laminar.storage.checkpoint.s3.upload-threads",
                "laminar.storage.checkpoint.s3.download-range-size", "laminar.storage.checkpoint.s3.ranges-ahead",
                "laminar.storage.checkpoint.s3.max-attempts", "laminar.storage.checkpoint.s3.retry-base-delay",
                "laminar.storage.checkpoint.s3.retry-max-delay",
                "laminar.storage.checkpoint.s3.incomplete-upload-max-age",
                "laminar.storage.changelog.queue-capacity", "laminar.storage.changelog.overflow-policy",
                "laminar.storage.health.max-checkpoint-age", "laminar.storage.health.stale-checkpoint-status",
                "laminar.storage.page.enabled", "laminar.storage.recovery.fetch-threads",
                "laminar.storage.recovery.parse-threads", "laminar.storage.recovery.progress-interval",
                "laminar.storage.durability", "laminar.storage.shard",
                "laminar.storage.replication.topic", "laminar.storage.replication.partitions",
                "laminar.storage.replication.replication-factor", "laminar.storage.replication.min-insync-replicas",
                "laminar.storage.replication.ack-timeout", "laminar.storage.replication.create-topic");
        var undescribed = new ArrayList<String>();
        described.forEach((name, description) -> {
            if (description.isBlank()) {
                undescribed.add(name);
            }
        });
        assertThat(undescribed).as("properties without a description").isEmpty();
        var types = new LinkedHashMap<String, String>();
        metadata.get("properties").forEach(p -> types.put(p.get("name").asString(), p.get("type").asString()));
        assertThat(types).containsEntry("laminar.storage.wal.segment-size", DataSize.class.getName())
                .containsEntry("laminar.storage.checkpoint.interval", Duration.class.getName())
                .containsEntry("laminar.storage.wal.group-commit-max-wait", Duration.class.getName())
                .containsEntry("laminar.storage.health.max-checkpoint-age", Duration.class.getName());
    }

    @Test
    void everyEnumValueShouldHaveAHintWithADescription() throws IOException {
        var hints = new LinkedHashMap<String, Map<String, String>>();
        for (var hint : laminarMetadata().get("hints")) {
            var values = new LinkedHashMap<String, String>();
            hint.get("values").forEach(v -> values.put(v.get("value").asString(),
                    v.has("description") ? v.get("description").asString() : ""));
            hints.put(hint.get("name").asString(), values);
        }
        Map<String, Class<? extends Enum<?>>> enums = Map.of(
                "laminar.storage.wal.sync-policy", SyncPolicyType.class,
                "laminar.storage.wal.io-backend", WalIoBackend.class,
                "laminar.storage.checkpoint.store", StoreType.class,
                "laminar.storage.changelog.overflow-policy", OverflowPolicy.class,
                "laminar.storage.health.stale-checkpoint-status", StaleCheckpointStatus.class);
        enums.forEach((property, type) -> {
            var expected = java.util.Arrays.stream(type.getEnumConstants())
                    .map(constant -> constant.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-')).toList();
            assertThat(hints).as(property).containsKey(property);
            assertThat(hints.get(property).keySet()).as(property).containsExactlyInAnyOrderElementsOf(expected);
            assertThat(hints.get(property).values()).as(property + " descriptions").allMatch(d -> d.length() > 20);
        });
    }

    @Test
    void theAutoconfigureProcessorShouldHaveWrittenTheConditionsOfEveryAutoConfiguration() throws IOException {
        var properties = new java.util.Properties();
        try (var in = LaminarStoragePropertiesTests.class.getClassLoader()
                .getResourceAsStream("META-INF/spring-autoconfigure-metadata.properties")) {
            assertThat(in).as("spring-autoconfigure-metadata.properties").isNotNull();
            properties.load(in);
        }
        assertThat(properties.stringPropertyNames()).contains(
                LaminarStorageAutoConfiguration.class.getName() + ".AutoConfigureAfter",
                "io.laminar.storage.spring.autoconfigure.metrics.LaminarStorageMetricsAutoConfiguration.ConditionalOnClass");
    }

    /** This module's generated metadata (the classpath holds Spring Boot's too). */
    private static JsonNode laminarMetadata() throws IOException {
        var resources = LaminarStoragePropertiesTests.class.getClassLoader()
                .getResources("META-INF/spring-configuration-metadata.json");
        var mapper = JsonMapper.builder().build();
        while (resources.hasMoreElements()) {
            try (var in = resources.nextElement().openStream()) {
                var node = mapper.readTree(in);
                for (var group : node.get("groups")) {
                    if (group.get("name").asString().equals(LaminarStorageProperties.PREFIX)) {
                        return node;
                    }
                }
            }
        }
        throw new AssertionError("no generated metadata for " + LaminarStorageProperties.PREFIX);
    }
}

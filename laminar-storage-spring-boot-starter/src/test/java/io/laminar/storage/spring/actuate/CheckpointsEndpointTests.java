package io.laminar.storage.spring.actuate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.jayway.jsonpath.DocumentContext;
import com.jayway.jsonpath.JsonPath;
import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.io.FaultyFileIO;
import io.laminar.storage.spring.actuate.CheckpointsEndpoint.CompletedDescriptor;
import io.laminar.storage.spring.actuate.CheckpointsEndpoint.FailedDescriptor;
import io.laminar.storage.spring.actuate.CheckpointsEndpoint.TriggerStatus;
import io.laminar.storage.store.CheckpointManifest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.actuate.autoconfigure.endpoint.jackson.JacksonEndpointAutoConfiguration;
import org.springframework.boot.actuate.endpoint.jackson.EndpointJsonMapper;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.util.FileSystemUtils;

class CheckpointsEndpointTests {

    @TempDir
    Path dir;

    private TestRuntime test;

    @AfterEach
    void close() {
        if (test != null) {
            test.close();
        }
    }

    /**
     * A first run that writes 30 keys, checkpoints, writes 5 more and stops without a final
     * checkpoint; then the run under test, which recovers that checkpoint and replays the 5.
     */
    private CheckpointManifest restartAfterACheckpointAndFiveMoreChanges() throws Exception {
        CheckpointManifest first;
        try (var previous = TestRuntime.started(dir, 2, new CheckpointHistory())) {
            for (int i = 0; i < 30; i++) {
                previous.put("key-" + i, 50);
            }
            first = previous.checkpoint();
            for (int i = 30; i < 35; i++) {
                previous.put("key-" + i, 50);
            }
        }
        test = TestRuntime.started(dir, 2, new CheckpointHistory());
        return first;
    }

    @Test
    void readShowsTheCountsTheLatestTheHistoryTheLastFailureAndTheRecovery() throws Exception {
        var restored = restartAfterACheckpointAndFiveMoreChanges();
        var endpoint = new CheckpointsEndpoint(test.runtime, test.history);
        var second = test.checkpoint();
        test.put("key-0", 80);
        var third = test.checkpoint();
        test.storeIo.forces().failNow();
        test.put("key-1", 80);
        assertThatThrownBy(test::checkpoint).isInstanceOf(ExecutionException.class);
        test.storeIo.forces().stopFailing();

        var read = endpoint.checkpoints();

        assertThat(read.counts().completed()).isEqualTo(2);
        assertThat(read.counts().failed()).isEqualTo(1);
        assertThat(read.counts().inProgress()).isZero();
        var latest = read.latest();
        assertThat(latest.status()).isEqualTo("COMPLETED");
        assertThat(latest.id()).isEqualTo(third.checkpointId());
        assertThat(latest.epoch()).isEqualTo(third.epoch());
        assertThat(latest.walPositions()).isEqualTo(third.walPositions()).hasSize(2);
        assertThat(latest.stateBytes()).isEqualTo(third.stateBytes()).isPositive();
        assertThat(latest.writtenBytes()).isEqualTo(third.writtenBytes()).isPositive();
        assertThat(latest.incremental()).isTrue();
        assertThat(latest.parentId()).isEqualTo(second.checkpointId());
        assertThat(latest.completedAt()).isAfterOrEqualTo(latest.startedAt());
        assertThat(read.history()).extracting(d -> d.id())
                .containsExactly(third.checkpointId() + 1, third.checkpointId(), second.checkpointId());
        assertThat(read.history().get(0)).isInstanceOf(FailedDescriptor.class);
        assertThat(read.history().get(1)).isInstanceOf(CompletedDescriptor.class);
        var failure = read.lastFailure();
        assertThat(failure.status()).isEqualTo("FAILED");
        assertThat(failure.id()).isEqualTo(third.checkpointId() + 1);
        assertThat(failure.durationMillis()).isNotNull();
        assertThat(failure.cause().type()).isEqualTo("java.io.IOException");
        assertThat(failure.cause().message()).contains("cannot write state file").contains("injected fdatasync");
        assertThat(failure.cause().causedBy()).singleElement().asString().contains("injected fdatasync failure");
        var recovery = read.recovery();
        assertThat(recovery.checkpointId()).isEqualTo(restored.checkpointId());
        assertThat(recovery.adoptedCheckpoint()).isFalse();
        assertThat(recovery.recordsReplayed()).isEqualTo(5);
        assertThat(recovery.recordsReplayedPerCore()).hasSize(2);
        assertThat(recovery.recordsReplayedPerCore().stream().mapToLong(Long::longValue).sum()).isEqualTo(5);
        assertThat(recovery.recordsFromReplication()).as("local durability: nothing from Kafka").isZero();
        assertThat(recovery.bytesReplayed()).isPositive();
        assertThat(recovery.skipped()).isEmpty();
        assertThat(recovery.recoveredAt()).isNotNull();
    }

    @Test
    void readBeforeAnyCheckpointHasCountsAndTheRecoveryOnly() {
        test = TestRuntime.started(dir, 2, new CheckpointHistory());
        var read = new CheckpointsEndpoint(test.runtime, test.history).checkpoints();
        assertThat(read.counts().completed()).isZero();
        assertThat(read.latest()).isNull();
        assertThat(read.lastFailure()).isNull();
        assertThat(read.history()).isEmpty();
        assertThat(read.recovery().checkpointId()).isNull();
        assertThat(read.recovery().adoptedCheckpoint()).isFalse();
        assertThat(read.recovery().recordsReplayed()).isZero();
    }

    @Test
    void readSaysWhenTheRecoveryAdoptedACheckpointTakenWithAnotherWal() throws Exception {
        CheckpointManifest taken;
        try (var previous = TestRuntime.started(dir, 2, new CheckpointHistory())) {
            for (int i = 0; i < 10; i++) {
                previous.put("key-" + i, 50);
            }
            taken = previous.checkpoint();
            previous.put("after-the-checkpoint", 50);
        }
        // A new, empty WAL over the same store: as another machine restoring from a shared store.
        assertThat(FileSystemUtils.deleteRecursively(dir.resolve("wal"))).isTrue();
        test = TestRuntime.started(dir, 2, new CheckpointHistory());
        var endpoint = new CheckpointsEndpoint(test.runtime, test.history);

        var recovery = endpoint.checkpoints().recovery();

        assertThat(recovery.checkpointId()).isEqualTo(taken.checkpointId());
        assertThat(recovery.adoptedCheckpoint()).isTrue();
        assertThat(recovery.recordsReplayed()).as("the change after the checkpoint was in the lost WAL").isZero();
        var doc = JsonPath.parse(actuatorJson(endpoint.checkpoints()));
        assertThat(doc.read("$.recovery.adoptedCheckpoint", Boolean.class)).isTrue();
        assertThat(doc.read("$.recovery.checkpointId", Long.class)).isEqualTo(taken.checkpointId());
    }

    @Test
    void readByIdSummarizesTheManifestInTheStore() throws Exception {
        test = TestRuntime.started(dir, 2, new CheckpointHistory());
        test.put("a", 100);
        test.put("b", 100);
        var first = test.checkpoint();
        test.put("a", 10);
        var second = test.checkpoint();

        var summary = new CheckpointsEndpoint(test.runtime, test.history).checkpoint(second.checkpointId());

        assertThat(summary.id()).isEqualTo(second.checkpointId());
        assertThat(summary.epoch()).isEqualTo(second.epoch());
        assertThat(summary.createdAt()).isEqualTo(second.createdAt());
        assertThat(summary.incremental()).isTrue();
        assertThat(summary.parentId()).isEqualTo(first.checkpointId());
        assertThat(summary.stateBytes()).isEqualTo(second.stateBytes());
        assertThat(summary.writtenBytes()).isEqualTo(second.writtenBytes());
        assertThat(summary.storedBytes()).isEqualTo(second.files().stream().mapToLong(f -> f.size()).sum());
        assertThat(summary.walPositions()).isEqualTo(second.walPositions());
        assertThat(summary.files()).isEqualTo(second.files());
        assertThat(summary.watermark()).isNull(); // no core reported one
        assertThat(summary.sources()).containsOnlyKeys("core-0000", "core-0001");
        assertThat(summary.operators()).containsKeys("core-0000", "core-0001");
        assertThat(summary.operators().get("core-0000").stateFiles())
                .isEqualTo(second.operators().get("core-0000").stateFiles());
    }

    @Test
    void readByIdOfACheckpointTheStoreDoesNotHoldIsNull() throws Exception {
        test = TestRuntime.started(dir, 1, new CheckpointHistory());
        var endpoint = new CheckpointsEndpoint(test.runtime, test.history);
        assertThat(endpoint.checkpoint(0)).isNull();
        var manifest = test.checkpoint();
        assertThat(endpoint.checkpoint(manifest.checkpointId())).isNotNull();
        assertThat(endpoint.checkpoint(manifest.checkpointId() + 1)).isNull();
        assertThat(endpoint.checkpoint(-1)).isNull();
    }

    @Test
    void triggerTakesACheckpointAndAnswersWithItsSummary() throws Exception {
        test = TestRuntime.started(dir, 2, new CheckpointHistory());
        test.put("a", 100);

        var answer = new CheckpointsEndpoint(test.runtime, test.history).trigger();

        assertThat(answer.status()).isEqualTo(TriggerStatus.COMPLETED);
        assertThat(answer.cause()).isNull();
        assertThat(test.store.listCheckpoints()).containsExactly(answer.id());
        assertThat(answer.checkpoint().id()).isEqualTo(answer.id());
        assertThat(answer.checkpoint().stateBytes()).isEqualTo(101); // key "a" and 100 value bytes
        assertThat(test.history.latestCompleted().orElseThrow().checkpointId()).isEqualTo(answer.id());
    }

    @Test
    void triggerAnswersWithTheFailureAndItsCause() throws Exception {
        test = TestRuntime.started(dir, 2, new CheckpointHistory());
        test.put("a", 100);
        test.storeIo.forces().failNow();

        var answer = new CheckpointsEndpoint(test.runtime, test.history).trigger();

        assertThat(answer.status()).isEqualTo(TriggerStatus.FAILED);
        assertThat(answer.id()).isZero();
        assertThat(answer.checkpoint()).isNull();
        assertThat(answer.cause().type()).isEqualTo("java.io.IOException");
        assertThat(answer.cause().message()).contains("injected fdatasync failure");
        assertThat(test.store.listCheckpoints()).isEmpty();
    }

    @Test
    void triggerOnAStoppedRuntimeFailsWithoutAnId() {
        test = TestRuntime.started(dir, 1, new CheckpointHistory());
        test.runtime.close();

        var answer = new CheckpointsEndpoint(test.runtime, test.history).trigger();

        assertThat(answer.status()).isEqualTo(TriggerStatus.FAILED);
        assertThat(answer.id()).isNull();
        assertThat(answer.cause().type()).isEqualTo(IllegalStateException.class.getName());
        assertThat(answer.cause().message()).contains("checkpoints run only while it runs");
    }

    @Test
    void triggerStopsWaitingAfterItsTimeoutAndTheCheckpointGoesOn() throws Exception {
        test = TestRuntime.started(dir, 1, new CheckpointHistory());
        test.put("a", 100);
        test.storeIo.slowForces(Duration.ofMillis(300), FaultyFileIO.ANY);

        var answer = new CheckpointsEndpoint(test.runtime, test.history, Duration.ofMillis(20)).trigger();

        assertThat(answer.status()).isEqualTo(TriggerStatus.IN_PROGRESS);
        assertThat(answer.message()).contains("still running after 20 ms");
        // The next checkpoint runs after it: once that one is done, so is the first.
        test.storeIo.slowForces(Duration.ZERO, FaultyFileIO.ANY);
        test.checkpoint();
        assertThat(test.history.completedCount()).isEqualTo(2);
    }

    @Test
    void refusesATimeoutThatIsNotPositive() {
        test = TestRuntime.open(dir, 1, new CheckpointHistory());
        assertThatThrownBy(() -> new CheckpointsEndpoint(test.runtime, test.history, Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("triggerTimeout must be positive, but was PT0S");
    }

    @Test
    void theActuatorWritesTheReadOperationAsDocumented() throws Exception {
        restartAfterACheckpointAndFiveMoreChanges();
        test.put("key-0", 80);
        var latest = test.checkpoint();
        test.storeIo.forces().failNow();
        test.put("key-1", 80);
        assertThatThrownBy(test::checkpoint).isInstanceOf(ExecutionException.class);
        var endpoint = new CheckpointsEndpoint(test.runtime, test.history);

        var json = actuatorJson(endpoint.checkpoints());

        var doc = JsonPath.parse(json);
        assertThat(map(doc, "$.counts")).containsEntry("completed", 1).containsEntry("failed", 1)
                .containsEntry("inProgress", 0).containsEntry("cleanupFailures", 0);
        assertThat(doc.read("$.latest.status", String.class)).isEqualTo("COMPLETED");
        assertThat(doc.read("$.latest.id", Long.class)).isEqualTo(latest.checkpointId());
        assertThat(list(doc, "$.latest.walPositions")).hasSize(2);
        assertThat(doc.read("$.latest.completedAt", String.class)).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
        assertThat(map(doc, "$.latest")).containsKeys("epoch", "startedAt", "durationMillis", "stateBytes",
                "writtenBytes", "storedBytes", "files", "incremental", "parentId")
                .doesNotContainKey("cleanupFailure"); // absent values are left out
        assertThat(list(doc, "$.history[*].status")).containsExactly("FAILED", "COMPLETED");
        assertThat(doc.read("$.lastFailure.cause.type", String.class)).isEqualTo("java.io.IOException");
        assertThat(list(doc, "$.lastFailure.cause.causedBy")).hasSize(1);
        assertThat(doc.read("$.recovery.adoptedCheckpoint", Boolean.class)).isFalse();
        assertThat(doc.read("$.recovery.recordsReplayed", Integer.class)).isEqualTo(5);
        assertThat(list(doc, "$.recovery.recordsReplayedPerCore")).hasSize(2);
        assertThat(list(doc, "$.recovery.skipped")).isEmpty();

        var summary = JsonPath.parse(actuatorJson(endpoint.checkpoint(latest.checkpointId())));
        assertThat(map(summary, "$.files[0]")).containsKeys("path", "size", "crc32c");
        assertThat(map(summary, "$.operators.core-0000")).containsKeys("inlineBytes", "stateFiles");
        assertThat(map(summary, "$.sources.core-0001")).containsKeys("offsets", "metadata");
        assertThat(map(summary, "$")).doesNotContainKey("watermark");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(DocumentContext json, String path) {
        return json.read(path, Map.class);
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(DocumentContext json, String path) {
        return json.read(path, List.class);
    }

    /** Serializes as the actuator does, with its isolated JSON mapper. */
    private static String actuatorJson(Object body) {
        var json = new String[1];
        new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(JacksonEndpointAutoConfiguration.class))
                .run(context -> json[0] = context.getBean(EndpointJsonMapper.class).get().writeValueAsString(body));
        return json[0];
    }
}

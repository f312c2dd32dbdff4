package io.laminar.storage.sample;

import static io.laminar.storage.sample.SampleClient.batch;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/** The HTTP API and the file source of the application in this JVM, on a random port. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class SampleApplicationTest {

    private static final Path DIR = tempDir();
    private static final Path SOURCE = DIR.resolve("events.jsonl");

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        registry.add("laminar.storage.dir", () -> DIR.resolve("data").toString());
        registry.add("laminar.storage.cores", () -> "3");
        registry.add("laminar.storage.wal.segment-size", () -> "4MB");
        registry.add("laminar.storage.checkpoint.interval", () -> "300ms");
        registry.add("laminar.sample.source.file", SOURCE::toString);
        registry.add("laminar.sample.source.poll-interval", () -> "20ms");
        registry.add("laminar.sample.source.chunk-lines", () -> "7");
    }

    private static Path tempDir() {
        try {
            var dir = Files.createTempDirectory("laminar-sample-test");
            Files.createFile(dir.resolve("events.jsonl"));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @LocalServerPort
    int port;

    SampleClient client;

    @BeforeEach
    void client() {
        client = new SampleClient(port);
    }

    @Test
    void aBatchIsAppliedOnceHoweverOftenItIsSent() throws Exception {
        var summary = client.get("/api/summary").body();
        var body = batch("once-1", "once-a", 5, "once-b", 7, "once-a", -2, "once-c", 0);

        var first = client.post("/api/events", body);
        assertThat(first.status()).isEqualTo(200);
        assertThat(first.body().toString()).isEqualTo("{\"batchId\":\"once-1\",\"applied\":true}");
        var again = client.post("/api/events", body);
        assertThat(again.status()).isEqualTo(200);
        assertThat(again.body().toString()).isEqualTo("{\"batchId\":\"once-1\",\"applied\":false}");

        assertThat(client.get("/api/balances/once-a").body().toString())
                .isEqualTo("{\"key\":\"once-a\",\"balance\":3,\"events\":2}");
        assertThat(client.get("/api/balances/once-c").body().toString())
                .isEqualTo("{\"key\":\"once-c\",\"balance\":0,\"events\":1}");
        var after = client.get("/api/summary").body();
        assertThat(after.get("keys").asLong()).isEqualTo(summary.get("keys").asLong() + 3);
        assertThat(after.get("events").asLong()).isEqualTo(summary.get("events").asLong() + 4);
        assertThat(after.get("sum").asLong()).isEqualTo(summary.get("sum").asLong() + 10);
        assertThat(after.get("batches").asLong()).isEqualTo(summary.get("batches").asLong() + 1);
    }

    @Test
    void aBatchOfManyKeysSpreadOverEveryCoreCountsAsOneBatch() throws Exception {
        var summary = client.get("/api/summary").body();
        var events = new Object[60];
        for (int i = 0; i < 30; i++) {
            events[2 * i] = "spread-" + i;
            events[2 * i + 1] = i;
        }
        assertThat(client.post("/api/events", batch("spread", events)).body().get("applied").asBoolean()).isTrue();
        var after = client.get("/api/summary").body();
        assertThat(after.get("batches").asLong()).isEqualTo(summary.get("batches").asLong() + 1);
        assertThat(after.get("keys").asLong()).isEqualTo(summary.get("keys").asLong() + 30);
        assertThat(client.get("/api/balances/spread-29").body().get("balance").asLong()).isEqualTo(29);
    }

    @Test
    void aBatchIdReusedWithOtherEventsIsRefusedAndChangesNothing() throws Exception {
        assertThat(client.post("/api/events", batch("reused", "reused-a", 1)).status()).isEqualTo(200);
        var summary = client.get("/api/summary").body();

        var other = client.post("/api/events", batch("reused", "reused-a", 1, "reused-b", 2));
        assertThat(other.status()).isEqualTo(409);
        assertThat(other.body().get("detail").asString()).contains("batch 'reused' was applied before with other events");
        assertThat(client.get("/api/summary").body()).isEqualTo(summary);
        assertThat(client.get("/api/balances/reused-b").status()).isEqualTo(404);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            not JSON              | {"batchId": "bad", "events": [           | the body is not valid JSON
            a missing batchId     | {"events": [{"key": "bad-k", "amount": 1}]} | batchId must be a non-blank string
            empty events          | {"batchId": "bad", "events": []}         | events must not be empty
            a blank key           | {"batchId": "bad", "events": [{"key": "bad-k", "amount": 1}, {"key": " ", "amount": 1}]} | events[1]: key must be a non-blank string
            a fractional amount   | {"batchId": "bad", "events": [{"key": "bad-k", "amount": 0.5}]} | events[0]: amount must be an integer
            a sum overflow        | {"batchId": "bad", "events": [{"key": "bad-k", "amount": 9223372036854775807}, {"key": "bad-k", "amount": 9}]} | add up to more than a signed 64-bit integer
            """)
    void malformedInputIsABadRequestAndAppliesNothing(String what, String body, String message) throws Exception {
        var summary = client.get("/api/summary").body();

        var answer = client.post("/api/events", body);
        assertThat(answer.status()).isEqualTo(400);
        assertThat(answer.body().get("detail").asString()).contains(message);
        assertThat(client.get("/api/summary").body()).isEqualTo(summary);
        assertThat(client.get("/api/balances/bad-k").status()).isEqualTo(404);
    }

    @Test
    void anUnknownKeyIsNotFound() throws Exception {
        var answer = client.get("/api/balances/nobody");
        assertThat(answer.status()).isEqualTo(404);
        assertThat(answer.body().get("detail").asString()).isEqualTo("no event was applied to key 'nobody'");
    }

    @Test
    void theFileSourceAppliesLinesAsTheyAreAppendedAndSkipsBadOnes() throws Exception {
        var before = client.get("/api/source").body();
        var lines = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            lines.append("{\"key\": \"file-").append(i % 5).append("\", \"amount\": ").append(i).append("}\n");
        }
        lines.append("not json\n\n{\"key\": \"file-0\", \"amount\": 1.25}\r\n{\"key\": \"file-0\", \"amount\": 100}\r\n");
        lines.append("{\"key\": \"file-0\", \"amount\": 1000"); // no newline yet: not read
        Files.writeString(SOURCE, lines, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        long complete = Files.size(SOURCE) - "{\"key\": \"file-0\", \"amount\": 1000".length();

        await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                assertThat(client.get("/api/source").body().get("offset").asLong()).isEqualTo(complete));
        var status = client.get("/api/source").body();
        assertThat(status.get("linesApplied").asLong() - before.get("linesApplied").asLong()).isEqualTo(41);
        assertThat(status.get("linesRejected").asLong() - before.get("linesRejected").asLong()).isEqualTo(2);
        // file-0 got 0, 5, ..., 35 and then 100
        assertThat(client.get("/api/balances/file-0").body().toString())
                .isEqualTo("{\"key\":\"file-0\",\"balance\":240,\"events\":9}");

        Files.writeString(SOURCE, "}\n", StandardOpenOption.APPEND);
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() ->
                assertThat(client.get("/api/balances/file-0").body().get("balance").asLong()).isEqualTo(1240));
    }

    @Test
    void theActuatorShowsHealthMetricsPrometheusAndCheckpoints() throws Exception {
        assertThat(client.post("/api/events", batch("actuator", "actuator-a", 1)).status()).isEqualTo(200);
        var health = client.get("/actuator/health");
        assertThat(health.status()).isEqualTo(200);
        assertThat(health.body().get("status").asString()).isEqualTo("UP");
        assertThat(health.body().at("/components/laminarStorage/status").asString()).isEqualTo("UP");
        assertThat(health.body().at("/components/fileSource/details/file").asString()).isEqualTo(SOURCE.toString());
        assertThat(client.get("/actuator/metrics").body().get("names").toString()).contains("laminar.storage.wal.bytes");
        var prometheus = client.get("/actuator/prometheus");
        assertThat(prometheus.status()).isEqualTo(200);
        assertThat(prometheus.text()).contains("laminar_storage_checkpoint_duration_seconds_count");

        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(
                client.get("/actuator/checkpoints").body().at("/counts/completed").asLong()).isPositive());
        long id = client.get("/actuator/checkpoints").body().at("/latest/id").asLong();
        var manifest = client.get("/actuator/checkpoints/" + id);
        assertThat(manifest.status()).isEqualTo(200);
        assertThat(manifest.body().get("walPositions")).hasSize(3);
        // The sample exposes the reads only.
        assertThat(client.post("/actuator/checkpoints", "").status()).isEqualTo(405);
    }

    @Test
    void aCheckpointRecordsTheFileSourceOffsetAsAConnector() throws Exception {
        Files.writeString(SOURCE, "{\"key\": \"manifest-a\", \"amount\": 3}\n", StandardOpenOption.APPEND);
        long size = Files.size(SOURCE);
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            long id = client.get("/actuator/checkpoints").body().at("/latest/id").asLong();
            // A checkpoint taken before the source's first chunk has no offset yet: an assertion, so that await retries.
            var offset = client.get("/actuator/checkpoints/" + id).body().at("/sources/file-source/offsets")
                    .get(SOURCE.toString());
            assertThat(offset).as("the offset of %s in checkpoint %d", SOURCE, id).isNotNull();
            assertThat(offset.asString()).isEqualTo(Long.toString(size));
            var sources = client.get("/actuator/checkpoints/" + id).body().get("sources");
            assertThat(sources.at("/file-source/metadata").properties()).hasSize(3);
        });
    }
}

package io.laminar.storage.test.quickstart;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.test.AutoConfigureLaminarStorage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The README's quick start as a user builds it: the dependencies of its XML block (this module's
 * test dependencies), its {@code application.yml} (this module's test configuration) and its
 * controller ({@link Deposits}), on a real port. {@link QuickStartReadmeTests} checks that the
 * README shows exactly these files.
 */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT)
@AutoConfigureLaminarStorage
class QuickStartTests {

    private final HttpClient http = HttpClient.newHttpClient();

    @LocalServerPort
    int port;

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String path, String json) throws Exception {
        var request = HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .header("Content-Type", "application/json")
                .POST(json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json))
                .build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void depositsTakeAJsonBodyAndAnswerWithTheDurableBalance() throws Exception {
        var first = post("/deposits/alice", "{\"amount\": 5}");
        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(first.body()).isEqualTo("{\"account\":\"alice\",\"balance\":5}");
        assertThat(post("/deposits/alice", "{\"amount\": 7}").body()).contains("\"balance\":12");
        assertThat(get("/deposits/alice").body()).contains("\"balance\":12");
    }

    @Test
    void aBalanceThatWouldOverflowIsRefusedAndNothingIsWritten() throws Exception {
        assertThat(post("/deposits/bob", "{\"amount\": " + (Long.MAX_VALUE - 1) + "}").statusCode()).isEqualTo(200);
        var overflow = post("/deposits/bob", "{\"amount\": 2}");
        assertThat(overflow.statusCode()).isEqualTo(422);
        assertThat(get("/deposits/bob").body()).contains("\"balance\":" + (Long.MAX_VALUE - 1));
    }

    @Test
    void healthShowsTheLaminarStorageComponentWithItsDetails() throws Exception {
        var health = get("/actuator/health");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).contains("\"laminarStorage\"").contains("\"durablePosition\"");
        var component = get("/actuator/health/laminarStorage");
        assertThat(component.statusCode()).isEqualTo(200);
        assertThat(component.body()).contains("\"status\":\"UP\"").contains("\"wal\"").contains("\"core\":3");
    }

    @Test
    void prometheusShowsTheMetersWithLatencyBuckets() throws Exception {
        post("/deposits/carol", "{\"amount\": 1}");
        var scrape = get("/actuator/prometheus");
        assertThat(scrape.statusCode()).isEqualTo(200);
        assertThat(scrape.body()).contains("laminar_storage_wal_records_total{core=\"0\"")
                .contains("laminar_storage_wal_fsync_seconds_bucket{core=")
                .contains("laminar_storage_checkpoint_duration_seconds_bucket{");
    }

    @Test
    void theCheckpointsEndpointIsReadOnly() throws Exception {
        assertThat(get("/actuator/checkpoints").statusCode()).isEqualTo(200);
        var trigger = post("/actuator/checkpoints", null);
        assertThat(trigger.statusCode()).as("POST /actuator/checkpoints with access: read-only").isIn(404, 405);
        assertThat(get("/actuator/checkpoints").body()).contains("\"completed\":0");
    }
}

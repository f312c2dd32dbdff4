package io.laminar.storage.sample;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** A small HTTP client of the sample's API, for the tests. Thread-safe. */
final class SampleClient {

    static final JsonMapper JSON = JsonMapper.builder().build();

    /** An answer: its status and its body as JSON (null if it has none or it is not JSON). */
    record Answer(int status, JsonNode body, String text) {
    }

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final String base;

    SampleClient(int port) {
        this.base = "http://127.0.0.1:" + port;
    }

    Answer post(String path, String json) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build());
    }

    Answer get(String path) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30)).GET().build());
    }

    private Answer send(HttpRequest request) throws IOException, InterruptedException {
        var response = http.send(request, HttpResponse.BodyHandlers.ofString());
        JsonNode body = null;
        try {
            body = response.body().isEmpty() ? null : JSON.readTree(response.body());
        } catch (RuntimeException notJson) {
            // e.g. the Prometheus text format
        }
        return new Answer(response.statusCode(), body, response.body());
    }

    /** The body of {@code POST /api/events} for {@code batchId} with keys and amounts alternating. */
    static String batch(String batchId, Object... keysAndAmounts) {
        var events = JSON.createArrayNode();
        for (int i = 0; i < keysAndAmounts.length; i += 2) {
            events.addObject().put("key", (String) keysAndAmounts[i]).put("amount", ((Number) keysAndAmounts[i + 1]).longValue());
        }
        var body = JSON.createObjectNode().put("batchId", batchId);
        body.set("events", events);
        return body.toString();
    }
}

package io.laminar.storage.spring.actuate;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.report.HeadlessChromium;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.spring.autoconfigure.QuickStorage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The checkpoint page in a real application (Tomcat on a random port, the actuator, the starter):
 * after a restart that recovered a checkpoint and replayed the WAL after it, the test takes
 * checkpoints through the runtime, fetches {@code /actuator/laminar} over HTTP, checks the HTML and
 * renders it in headless chromium (installed with apt-get when missing; skipped, saying why, when
 * impossible). The screenshot is kept in {@code target/checkpoint-page.png}.
 */
class CheckpointPageTests {

    @TempDir
    Path dir;

    @TempDir
    Path temp;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @SpringBootConfiguration(proxyBeanMethods = false)
    @EnableAutoConfiguration(excludeName = {
            // The S3 client of Spring Cloud AWS is on the test classpath for the S3 tests; not wanted here.
            "io.awspring.cloud.autoconfigure.core.AwsAutoConfiguration",
            "io.awspring.cloud.autoconfigure.s3.S3AutoConfiguration",
            "io.awspring.cloud.autoconfigure.core.RegionProviderAutoConfiguration",
            "io.awspring.cloud.autoconfigure.core.CredentialsProviderAutoConfiguration"})
    static class PageApplication {
    }

    private ConfigurableApplicationContext start() {
        // No final checkpoint on close: the first run's last changes are replayed at the restart.
        return new SpringApplicationBuilder(PageApplication.class)
                .properties(QuickStorage.properties(dir, "server.port=0", "spring.main.banner-mode=off",
                        "laminar.storage.checkpoint.final-on-shutdown=false", "laminar.storage.page.enabled=true",
                        "management.endpoints.web.exposure.include=health,laminar"))
                .run();
    }

    private static void put(LaminarRuntime runtime, String key, int size) throws Exception {
        var bytes = key.getBytes(StandardCharsets.UTF_8);
        runtime.submitDurable(runtime.coreOf(bytes), c -> {
            c.store().put(bytes, new byte[size]);
            return null;
        }).get(10, TimeUnit.SECONDS);
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return http.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static long count(String html, String regex) {
        return Pattern.compile(regex).matcher(html).results().count();
    }

    @Test
    void thePageShowsTheCheckpointsInABrowser() throws Exception {
        long restoredId;
        try (var first = start()) {
            var runtime = first.getBean(LaminarRuntime.class);
            put(runtime, "before", 64);
            restoredId = runtime.triggerCheckpoint().get(30, TimeUnit.SECONDS).checkpointId();
            for (int i = 0; i < 5; i++) {
                put(runtime, "after-" + i, 32);
            }
        }
        try (var context = start()) {
            var runtime = context.getBean(LaminarRuntime.class);
            var ids = new ArrayList<Long>();
            for (int i = 0; i < 4; i++) {
                for (int k = 0; k <= i * 4; k++) {
                    put(runtime, "key-" + i + "-" + k, 200);
                }
                ids.add(runtime.triggerCheckpoint().get(30, TimeUnit.SECONDS).checkpointId());
            }
            int port = ((WebServerApplicationContext) context).getWebServer().getPort();
            var url = "http://localhost:" + port + "/actuator/laminar";

            var response = send(HttpRequest.newBuilder(URI.create(url)));
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
                    type -> assertThat(type).startsWith("text/html"));
            var html = response.body();
            Files.writeString(Path.of("target", "checkpoint-page.html"), html);
            assertThat(html).doesNotContain("<script", "<link", "<img", "src=", "href=", "url(", "https://", "<form");
            assertThat(count(html, "<svg[^>]*class=\"laminar-chart\"")).isEqualTo(3);
            assertThat(count(html, "<circle class=\"point\"")).isEqualTo(3L * ids.size());
            long latest = ids.get(ids.size() - 1);
            assertThat(html).contains("id=\"latest-id\">" + latest + "</span>", "id=\"health-status\">UP</span>",
                    "id=\"recovery-checkpoint\">" + restoredId + "</span>", "id=\"recovery-records\">5</span>");
            for (long id : ids) {
                assertThat(html).contains("<tr class=\"checkpoint\" data-id=\"" + id + "\"><td>" + id + "</td>");
            }
            for (int core = 0; core < runtime.cores(); core++) {
                assertThat(html).contains("<tr class=\"core\" data-core=\"" + core + "\"><td>" + core
                        + "</td><td class=\"text\">ok</td><td class=\"position\">" + runtime.wal().durablePosition(core)
                        + "</td>");
            }

            // Read-only: no operation takes a checkpoint.
            var post = send(HttpRequest.newBuilder(URI.create(url)).POST(HttpRequest.BodyPublishers.noBody()));
            assertThat(post.statusCode()).isBetween(400, 499);
            assertThat(send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/actuator/checkpoints"))
                    .POST(HttpRequest.BodyPublishers.noBody())).statusCode()).isEqualTo(404); // not exposed here
            assertThat(send(HttpRequest.newBuilder(URI.create(url))).body())
                    .contains("id=\"count-completed\">" + ids.size() + "</span>");

            HeadlessChromium.ensureInstalled();
            var dom = HeadlessChromium.run(temp, "--dump-dom", url);
            assertThat(dom.exit()).as(dom.toString()).isZero();
            assertThat(count(dom.out(), "<svg[^>]*class=\"laminar-chart\"")).as(dom.out()).isEqualTo(3);
            assertThat(dom.out()).contains("id=\"duration\"", "id=\"state-bytes\"", "id=\"written-bytes\"",
                    "<polyline class=\"series\"", "id=\"latest-id\">" + latest + "</span>");
            assertThat(count(dom.out(), "<circle class=\"point\"")).isEqualTo(3L * ids.size());
            for (long id : ids) {
                assertThat(dom.out()).contains("<tr class=\"checkpoint\" data-id=\"" + id + "\">");
            }

            var png = Path.of("target", "checkpoint-page.png").toAbsolutePath();
            var colors = HeadlessChromium.screenshotColors(temp, png, url);
            assertThat(Files.size(png)).isGreaterThan(10_000);
            assertThat(colors.size()).as("distinct colors in " + png).isGreaterThan(20); // not a blank page
            // The series are on screen (duration blue, state green), and the UP badge.
            for (int rgb : List.of(0x1f77b4, 0x2ca02c, 0x2a7d2e)) {
                assertThat(colors.stream().anyMatch(c -> HeadlessChromium.near(c, rgb))).as("color %06x on screen", rgb).isTrue();
            }
        }
    }

}

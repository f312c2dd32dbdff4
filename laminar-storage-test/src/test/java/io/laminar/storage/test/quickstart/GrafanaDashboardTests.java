package io.laminar.storage.test.quickstart;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.test.AutoConfigureLaminarStorage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The Grafana dashboard shipped in the repository asks only for series the application really
 * exports: every {@code laminar_storage_*} name in every query of the dashboard is in a scrape of
 * the quick start application's {@code /actuator/prometheus} (with its percentile histograms), after
 * a durable change and a checkpoint. The scrape is left in {@code target/prometheus-scrape.txt}.
 */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT)
@AutoConfigureLaminarStorage
class GrafanaDashboardTests {

    static final Path DASHBOARD = Path.of("../laminar-storage-spring-boot-starter/grafana/laminar-storage.json");
    private static final Pattern SERIES = Pattern.compile("\\blaminar_storage_[a-z_]+");

    @LocalServerPort
    int port;

    @Autowired
    LaminarRuntime runtime;

    /** The series names of a scrape: the metric name of each sample line. */
    private Set<String> scrape() throws Exception {
        var key = "dashboard".getBytes(StandardCharsets.UTF_8);
        runtime.submitDurable(runtime.coreOf(key), c -> {
            c.store().put(key, key);
            return null;
        }).get(10, TimeUnit.SECONDS);
        runtime.triggerCheckpoint().get(30, TimeUnit.SECONDS);
        var response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://localhost:" + port + "/actuator/prometheus")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).isEqualTo(200);
        Files.writeString(Path.of("target/prometheus-scrape.txt"), response.body());
        var names = new TreeSet<String>();
        for (var line : response.body().split("\n")) {
            if (!line.startsWith("#") && !line.isBlank()) {
                names.add(line.split("[{ ]", 2)[0]);
            }
        }
        return names;
    }

    /** Every PromQL expression of the dashboard: the targets of its panels and its template variables. */
    static List<String> queries(JsonNode dashboard) {
        var queries = new ArrayList<String>();
        for (var panel : dashboard.get("panels")) {
            if (panel.has("targets")) {
                for (var target : panel.get("targets")) {
                    queries.add(target.get("expr").asString());
                }
            }
        }
        for (var variable : dashboard.path("templating").path("list")) {
            if (variable.path("type").asString().equals("query")) {
                var query = variable.get("query");
                queries.add(query.isObject() ? query.get("query").asString() : query.asString());
            }
        }
        return queries;
    }

    @Test
    void everyQueryNamesOnlySeriesTheApplicationExports() throws Exception {
        var dashboard = JsonMapper.builder().build().readTree(Files.readString(DASHBOARD));
        var exported = scrape();
        var queries = queries(dashboard);
        assertThat(queries).hasSizeGreaterThan(10);
        var missing = new TreeSet<String>();
        for (var query : queries) {
            var matcher = SERIES.matcher(query);
            assertThat(matcher.find()).as("a laminar_storage series in %s", query).isTrue();
            do {
                if (!exported.contains(matcher.group())) {
                    missing.add(matcher.group() + " (in " + query + ")");
                }
            } while (matcher.find());
        }
        assertThat(missing).as("series the dashboard asks for and the application does not export").isEmpty();
    }

    @Test
    void theDashboardCoversWhatOperatorsLookAt() throws Exception {
        var dashboard = JsonMapper.builder().build().readTree(Files.readString(DASHBOARD));
        var all = String.join("\n", queries(dashboard));
        assertThat(all).contains("laminar_storage_wal_records_total", "laminar_storage_wal_bytes_total",
                "laminar_storage_wal_fsync_seconds_bucket", "laminar_storage_wal_fsync_records_total",
                "laminar_storage_checkpoint_duration_seconds_bucket", "laminar_storage_checkpoint_age_seconds",
                "laminar_storage_checkpoint_size_bytes", "laminar_storage_recovery_duration_seconds",
                "laminar_storage_changelog_backpressure_seconds", "laminar_storage_wal_io_backend_logs",
                "laminar_storage_wal_torn_tail_repairs_total", "laminar_storage_checkpoints_in_progress_checkpoints",
                "laminar_storage_recovery_active_recoveries", "laminar_storage_recovery_progress_bytes",
                "laminar_storage_recovery_progress_files", "laminar_storage_recovery_progress_rate_bytes",
                "laminar_storage_recovery_progress_eta_seconds");
        assertThat(dashboard.get("uid").asString()).isEqualTo("laminar-storage");
        for (var panel : dashboard.get("panels")) {
            assertThat(panel.get("title").asString()).as("panel title").isNotBlank();
        }
    }
}

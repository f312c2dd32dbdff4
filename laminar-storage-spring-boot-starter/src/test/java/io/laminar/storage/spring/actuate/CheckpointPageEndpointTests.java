package io.laminar.storage.spring.actuate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.checkpoint.RecoveryReport;
import io.laminar.storage.checkpoint.SkippedCheckpoint;
import io.laminar.storage.spring.actuate.CheckpointPageEndpoint.HealthSummary;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.actuate.endpoint.annotation.DeleteOperation;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.WriteOperation;

/** {@link CheckpointPageEndpoint} over a real runtime: what the page shows, and that it escapes what it shows. */
class CheckpointPageEndpointTests {

    @TempDir
    Path dir;

    TestRuntime test;

    @AfterEach
    void close() {
        if (test != null) {
            test.close();
        }
    }

    static long count(String html, String regex) {
        return Pattern.compile(regex).matcher(html).results().count();
    }

    @Test
    void showsChartsLatestCoresHistoryAndRecovery() throws Exception {
        test = TestRuntime.started(dir, 2, new CheckpointHistory());
        var page = new CheckpointPageEndpoint(test.runtime, test.history, () -> new HealthSummary("UP", null));
        var empty = page.page();
        assertThat(empty).contains("No checkpoint completed since the start", "no checkpoints", "no checkpoint yet",
                "id=\"recovery-checkpoint\">none (WAL only)</span>");
        long last = -1;
        for (int i = 0; i < 3; i++) {
            test.put("key-" + i, 100 * (i + 1));
            last = test.checkpoint().checkpointId();
        }
        var html = page.page();
        assertThat(count(html, "<svg[^>]*class=\"laminar-chart\"")).isEqualTo(3);
        assertThat(html).contains("id=\"duration\"", "id=\"state-bytes\"", "id=\"written-bytes\"",
                "id=\"latest-id\">" + last + "</span>", "id=\"health-status\">UP</span>",
                "id=\"count-completed\">3</span>");
        assertThat(count(html, "<circle class=\"point\"")).isEqualTo(9);
        assertThat(count(html, "<tr class=\"checkpoint\" data-id=")).isEqualTo(3);
        for (int core = 0; core < 2; core++) {
            assertThat(html).contains("<tr class=\"core\" data-core=\"" + core + "\"><td>" + core
                    + "</td><td class=\"text\">ok</td><td class=\"position\">" + test.wal.durablePosition(core) + "</td>");
        }
        // Nothing to fetch, nothing to run.
        assertThat(html).doesNotContain("<script", "<link", "<img", "src=", "href=", "url(", "<form", "<button");
    }

    @Test
    void escapesWhatItShowsAndShowsFailures() throws Exception {
        var history = new CheckpointHistory();
        test = TestRuntime.open(dir, 2, history);
        test.runtime.start();
        // The history's report wins over the runtime's: one with a reason that is markup.
        history.recovered(new RecoveryReport(3L, false, List.of(new SkippedCheckpoint(4,
                "<script>alert('x')</script> & \"more\"")), 5, 600, List.of(2L, 3L), Duration.ofMillis(12)));
        test.put("a", 10);
        test.checkpoint();
        test.storeIo.forces().failNow();
        test.put("b", 10);
        assertThatThrownBy(test::checkpoint).isInstanceOf(ExecutionException.class);
        test.storeIo.forces().stopFailing();
        test.walIo.forces().on(path -> path.getFileName().toString().matches("core-0001-\\d{20}\\.wal")).failNow();
        assertThatThrownBy(() -> test.put(test.keyOn(1, "c"), 10)).isInstanceOf(ExecutionException.class);

        var html = new CheckpointPageEndpoint(test.runtime, history,
                () -> new HealthSummary("DOWN", "the <b>WAL</b> of core 1 failed")).page();

        assertThat(html).doesNotContain("<script>", "<b>WAL</b>")
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;more&quot;",
                        "the &lt;b&gt;WAL&lt;/b&gt; of core 1 failed", "id=\"health-status\">DOWN</span>",
                        "id=\"recovery-checkpoint\">3</span>", "id=\"recovery-records\">5</span>",
                        "<tr class=\"core failed\" data-core=\"1\"", "<tr class=\"core\" data-core=\"0\"",
                        "id=\"count-failed\">1</span>", "<tr class=\"checkpoint failed\"", "FAILED");
        assertThat(count(html, "<circle class=\"point\"")).isEqualTo(3); // failures are not points
    }

    @Test
    void withoutAHealthIndicatorItSaysSo() throws Exception {
        test = TestRuntime.started(dir, 1, new CheckpointHistory());
        assertThat(new CheckpointPageEndpoint(test.runtime, test.history, () -> null).page())
                .contains("id=\"health-status\">no health indicator</span>", "Runtime running");
    }

    @Test
    void hasAReadOperationOnly() {
        var operations = Arrays.stream(CheckpointPageEndpoint.class.getDeclaredMethods())
                .filter(m -> m.isAnnotationPresent(ReadOperation.class) || m.isAnnotationPresent(WriteOperation.class)
                        || m.isAnnotationPresent(DeleteOperation.class))
                .map(Method::getName).toList();
        assertThat(operations).containsExactly("page");
        assertThat(CheckpointPageEndpoint.class.getDeclaredMethods()).noneMatch(m ->
                m.isAnnotationPresent(WriteOperation.class) || m.isAnnotationPresent(DeleteOperation.class));
    }
}

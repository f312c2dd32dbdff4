package io.laminar.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.report.HeadlessChromium;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `laminar checkpoint history --html` rendered by a real headless browser (Debian's chromium, installed
 * with apt-get when missing; the test is skipped, saying why, when that is impossible).
 */
class CheckpointHistoryIT {

    @TempDir
    static Path shared;
    static Path data;
    static List<Long> ids;

    @TempDir
    Path temp;

    @BeforeAll
    static void produce() throws Exception {
        data = shared.resolve("data");
        RuntimeData.run(data, 4, 4, 40); // four checkpoints: a full one, then deltas
        try (var store = FileSystemCheckpointStore.openReadOnly(data.resolve("checkpoints"))) {
            ids = store.listCheckpoints();
        }
        assertThat(ids.size()).isGreaterThanOrEqualTo(3);
    }

    @Test
    void helpHasExamples() throws Exception {
        var help = Cli.run("checkpoint", "history", "--help");
        assertThat(help.exit()).as(help.toString()).isZero();
        assertThat(help.out()).contains("Usage: laminar checkpoint history", "--html", "Examples:");
    }

    @Test
    void reportRendersInAHeadlessBrowser() throws Exception {
        var html = temp.resolve("history.html");
        var result = Cli.run("checkpoint", "history", data.resolve("checkpoints").toString(), "--html", html.toString());
        assertThat(result.exit()).as(result.toString()).isZero();
        assertThat(result.out()).contains("wrote " + html, ids.size() + " checkpoints");
        var page = Files.readString(html);
        // Nothing to fetch: no script, style sheet, image or font (the SVG namespace is a name, not a fetch).
        assertThat(page).doesNotContain("<script", "<link", "<img", "src=", "href=", "url(", "https://")
                .contains("<svg xmlns=\"http://www.w3.org/2000/svg\"");

        HeadlessChromium.ensureInstalled();
        var dom = HeadlessChromium.run(temp, "--dump-dom", html.toUri().toString());
        assertThat(dom.exit()).as(dom.toString()).isZero();
        var charts = Pattern.compile("<svg[^>]*class=\"laminar-chart\"").matcher(dom.out()).results().count();
        assertThat(charts).as(dom.out()).isEqualTo(3);
        assertThat(dom.out()).contains("id=\"state-bytes\"", "id=\"written-bytes\"", "id=\"retained-bytes\"",
                "<polyline class=\"series\"");
        assertThat(Pattern.compile("<circle class=\"point\"").matcher(dom.out()).results().count())
                .isEqualTo(3L * ids.size());
        for (long id : ids) {
            assertThat(dom.out()).contains("<tr class=\"checkpoint\" data-id=\"" + id + "\"><td>" + id + "</td>");
        }

        var png = Path.of("target", "checkpoint-history.png").toAbsolutePath();
        var colors = HeadlessChromium.screenshotColors(temp, png, html.toUri().toString());
        assertThat(colors.size()).as("distinct colors in " + png).isGreaterThan(20); // not a blank page
        // The series colors are on screen: the charts were drawn, not just put in the DOM.
        assertThat(colors.stream().anyMatch(c -> HeadlessChromium.near(c, 0x1f77b4))).isTrue();
        assertThat(colors.stream().anyMatch(c -> HeadlessChromium.near(c, 0x2ca02c))).isTrue();
    }

}

package io.laminar.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.store.FileSystemCheckpointStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `laminar checkpoint history --html` rendered by a real headless browser (Debian's chromium, installed
 * with apt-get when missing; the test is skipped, saying why, when that is impossible).
 */
class CheckpointHistoryIT {

    static final Path CHROMIUM = Path.of("/usr/bin/chromium");

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

    /** Installs chromium if it is missing; skips the browser checks when that is impossible. */
    static void ensureChromium() throws Exception {
        if (Files.isExecutable(CHROMIUM)) {
            return;
        }
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/apt-get")),
                "no /usr/bin/chromium and no apt-get to install it: skipping the browser check");
        var log = Files.createTempFile("apt-chromium", ".log");
        var process = new ProcessBuilder("sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                + "apt-get install -y -qq chromium").redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean done = process.waitFor(10, TimeUnit.MINUTES);
        if (!done) {
            process.destroyForcibly();
        }
        Assumptions.assumeTrue(done && process.exitValue() == 0 && Files.isExecutable(CHROMIUM),
                () -> "cannot install chromium (apt-get update && apt-get install -y chromium failed, e.g. not root or "
                        + "no mirror): skipping the browser check. " + tail(log));
    }

    static String tail(Path log) {
        try {
            var lines = Files.readAllLines(log);
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - 3), lines.size()));
        } catch (IOException e) {
            return "";
        }
    }

    /** Runs headless chromium with a fresh profile; kills it if it hangs. */
    Cli.Result chromium(String... args) throws Exception {
        var command = new ArrayList<>(List.of(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + Files.createTempDirectory(temp, "profile")));
        command.addAll(List.of(args));
        var out = temp.resolve("chromium.out");
        var err = temp.resolve("chromium.err");
        var process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            throw new AssertionError("chromium hung for 60 s and was killed: " + command);
        }
        return new Cli.Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
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

        ensureChromium();
        var dom = chromium("--dump-dom", html.toUri().toString());
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
        Files.deleteIfExists(png);
        var shot = chromium("--screenshot=" + png, "--window-size=1200,900", "--hide-scrollbars", html.toUri().toString());
        assertThat(shot.exit()).as(shot.toString()).isZero();
        assertThat(png).exists();
        var image = ImageIO.read(png.toFile());
        assertThat(image.getWidth()).isEqualTo(1200);
        assertThat(image.getHeight()).isEqualTo(900);
        var colors = new HashSet<Integer>();
        for (int y = 0; y < image.getHeight(); y += 3) {
            for (int x = 0; x < image.getWidth(); x += 3) {
                colors.add(image.getRGB(x, y));
            }
        }
        assertThat(colors.size()).as("distinct colors in " + png).isGreaterThan(20); // not a blank page
        // The series colors are on screen: the charts were drawn, not just put in the DOM.
        assertThat(colors.stream().anyMatch(c -> near(c, 0x1f77b4))).isTrue();
        assertThat(colors.stream().anyMatch(c -> near(c, 0x2ca02c))).isTrue();
    }

    static boolean near(int argb, int rgb) {
        int dr = ((argb >> 16) & 0xff) - ((rgb >> 16) & 0xff);
        int dg = ((argb >> 8) & 0xff) - ((rgb >> 8) & 0xff);
        int db = (argb & 0xff) - (rgb & 0xff);
        return Math.abs(dr) + Math.abs(dg) + Math.abs(db) < 30;
    }
}

package io.laminar.storage.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Assumptions;

/**
 * Debian's chromium, headless, for tests that look at a page in a real browser: installed with
 * apt-get when missing (the caller is skipped, saying why, when that is impossible), run with a
 * fresh profile and no network of its own, killed if it hangs. The one harness of the tests that
 * render this module's charts: the CLI's history report and the starter's checkpoint page (from
 * this module's test-jar).
 */
public final class HeadlessChromium {

    public static final Path CHROMIUM = Path.of("/usr/bin/chromium");

    /** What chromium printed and how it ended. */
    public record Result(int exit, String out, String err) {

        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "\n--- stderr\n" + err;
        }
    }

    private HeadlessChromium() {
    }

    /** Installs chromium if it is missing; skips the calling test when that is impossible. */
    public static void ensureInstalled() throws Exception {
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

    private static String tail(Path log) {
        try {
            var lines = Files.readAllLines(log);
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - 3), lines.size()));
        } catch (IOException e) {
            return "";
        }
    }

    /** Runs headless chromium with a fresh profile under {@code temp}; kills it after 60 s. */
    public static Result run(Path temp, String... args) throws Exception {
        var command = new ArrayList<>(List.of(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + Files.createTempDirectory(temp, "profile")));
        command.addAll(List.of(args));
        var out = Files.createTempFile(temp, "chromium", ".out");
        var err = Files.createTempFile(temp, "chromium", ".err");
        var process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            throw new AssertionError("chromium hung for 60 s and was killed: " + command);
        }
        return new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    /**
     * Takes a 1200x900 screenshot of {@code url} into {@code png} and returns the colours of every
     * third pixel of every third row: what a test checks to know the page was drawn, not just built.
     *
     * @throws AssertionError if chromium failed or the image is missing or not 1200x900
     */
    public static Set<Integer> screenshotColors(Path temp, Path png, String url) throws Exception {
        Files.deleteIfExists(png);
        var shot = run(temp, "--screenshot=" + png, "--window-size=1200,900", "--hide-scrollbars", url);
        if (shot.exit() != 0 || !Files.exists(png)) {
            throw new AssertionError("no screenshot " + png + " of " + url + ": " + shot);
        }
        var image = ImageIO.read(png.toFile());
        if (image == null || image.getWidth() != 1200 || image.getHeight() != 900) {
            throw new AssertionError(png + " is not a 1200x900 image");
        }
        var colors = new HashSet<Integer>();
        for (int y = 0; y < image.getHeight(); y += 3) {
            for (int x = 0; x < image.getWidth(); x += 3) {
                colors.add(image.getRGB(x, y));
            }
        }
        return colors;
    }

    /** Whether a screenshot pixel ({@code argb}) is within a small distance of colour {@code rgb}. */
    public static boolean near(int argb, int rgb) {
        int dr = ((argb >> 16) & 0xff) - ((rgb >> 16) & 0xff);
        int dg = ((argb >> 8) & 0xff) - ((rgb >> 8) & 0xff);
        int db = (argb & 0xff) - (rgb & 0xff);
        return Math.abs(dr) + Math.abs(dg) + Math.abs(db) < 30;
    }
}

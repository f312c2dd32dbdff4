package io.laminar.storage.test.quickstart;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The README shows the quick start's files as they are: each code block after a marker
 * {@code <!-- quick start: PATH -->} is the file PATH (without its package line), and the
 * dependencies block names only dependencies this module's test build has. So the quick start
 * cannot drift from what {@link QuickStartTests} builds and runs.
 */
class QuickStartReadmeTests {

    private static final Path ROOT = Path.of("..");
    private static final Pattern BLOCK = Pattern.compile(
            "<!-- quick start: (\\S+) -->\\s*\\n```[a-z]+\\n(.*?)```", Pattern.DOTALL);

    private static Map<String, String> blocks() throws IOException {
        var readme = Files.readString(ROOT.resolve("README.md"), StandardCharsets.UTF_8);
        var blocks = new LinkedHashMap<String, String>();
        var matcher = BLOCK.matcher(readme);
        while (matcher.find()) {
            blocks.put(matcher.group(1), matcher.group(2));
        }
        return blocks;
    }

    @Test
    void everyQuickStartFileIsInTheReadmeAsItIs() throws IOException {
        var blocks = blocks();
        assertThat(blocks).containsKeys("dependencies",
                "laminar-storage-test/src/test/resources/application.yml",
                "laminar-storage-test/src/test/java/io/laminar/storage/test/quickstart/Deposits.java",
                "laminar-storage-test/src/test/java/io/laminar/storage/test/quickstart/DepositsTests.java");
        blocks.forEach((path, shown) -> {
            if (path.equals("dependencies")) {
                return;
            }
            var file = readFile(ROOT.resolve(path)).replaceFirst("\\Apackage [\\w.]+;\\n\\n", "");
            assertThat(shown).as("README block of %s", path).isEqualTo(file);
        });
    }

    @Test
    void theQuickStartDependenciesAreThoseThisBuildRunsItWith() throws IOException {
        var shown = blocks().get("dependencies");
        var pom = readFile(Path.of("pom.xml"));
        var artifact = Pattern.compile("<artifactId>([^<]+)</artifactId>").matcher(shown);
        int count = 0;
        while (artifact.find()) {
            count++;
            var name = artifact.group(1);
            if (!name.equals("laminar-storage-test")) {
                assertThat(pom).as("%s among this module's dependencies", name)
                        .contains("<artifactId>" + name + "</artifactId>");
            }
        }
        assertThat(count).isEqualTo(6);
        assertThat(shown).contains("<artifactId>spring-boot-starter-webmvc</artifactId>")
                .contains("<artifactId>micrometer-registry-prometheus</artifactId>");
    }

    private static String readFile(Path path) {
        try {
            return Files.readString(path, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}

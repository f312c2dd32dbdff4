package io.laminar.storage.sample;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The file source refuses to start on a file that does not match what the data directory holds,
 * and stops (health DOWN) when the file shrinks under it.
 */
class FileSourceStartupTest {

    @TempDir
    Path dir;

    private ConfigurableApplicationContext run(Path source) {
        // Command line arguments: they take precedence over application.yml.
        return new SpringApplicationBuilder(SampleApplication.class).run(
                "--server.port=0",
                "--laminar.storage.dir=" + dir.resolve("data"),
                "--laminar.storage.cores=2",
                "--laminar.storage.wal.segment-size=4MB",
                "--laminar.sample.source.file=" + source,
                "--laminar.sample.source.poll-interval=10ms");
    }

    /** Runs the sample on {@code source} until it has read all of it, then stops it. */
    private void readAll(Path source) throws InterruptedException {
        try (var context = run(source)) {
            var status = context.getBean(FileEventSource.class);
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (status.status().offset() < source.toFile().length()) {
                assertThat(System.nanoTime()).isLessThan(deadline);
                Thread.sleep(10);
            }
        }
    }

    @Test
    void aMissingFileFailsTheStartNamingTheProperty() {
        var missing = dir.resolve("missing.jsonl");
        assertThatThrownBy(() -> run(missing).close()).rootCause()
                .hasMessageContaining("laminar.sample.source.file names " + missing.toAbsolutePath())
                .hasMessageContaining("create it (it may be empty) or unset the property");
    }

    @Test
    void anotherFileThanTheDataDirectoryWasBuiltFromFailsTheStart() throws Exception {
        var first = Files.writeString(dir.resolve("first.jsonl"), "{\"key\": \"a\", \"amount\": 1}\n");
        readAll(first);
        var second = Files.writeString(dir.resolve("second.jsonl"), "{\"key\": \"a\", \"amount\": 1}\n");

        assertThatThrownBy(() -> run(second).close()).rootCause()
                .hasMessageContaining("laminar.sample.source.file is " + second.toAbsolutePath())
                .hasMessageContaining("built from the file " + first.toAbsolutePath())
                .hasMessageContaining("use a new laminar.storage.dir");
    }

    @Test
    void aFileShorterThanWhatTheStateHoldsFailsTheStart() throws Exception {
        var source = Files.writeString(dir.resolve("events.jsonl"),
                "{\"key\": \"a\", \"amount\": 1}\n{\"key\": \"b\", \"amount\": 2}\n");
        readAll(source);
        Files.writeString(source, "{\"key\": \"a\", \"amount\": 1}\n");

        assertThatThrownBy(() -> run(source).close()).rootCause()
                .hasMessageContaining("the source file " + source.toAbsolutePath() + " has 26 bytes")
                .hasMessageContaining("through offset 52: it was truncated or replaced");
    }

    @Test
    void aFileTruncatedWhileRunningStopsTheSourceAndTurnsItsHealthDown() throws Exception {
        var source = Files.writeString(dir.resolve("events.jsonl"),
                "{\"key\": \"a\", \"amount\": 1}\n{\"key\": \"b\", \"amount\": 2}\n");
        try (var context = run(source)) {
            var health = context.getBean(FileSourceHealthIndicator.class);
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (context.getBean(FileEventSource.class).status().offset() < 52) {
                assertThat(System.nanoTime()).isLessThan(deadline);
                Thread.sleep(10);
            }
            assertThat(health.health().getStatus().getCode()).isEqualTo("UP");

            Files.writeString(source, "");
            while (health.health().getStatus().getCode().equals("UP")) {
                assertThat(System.nanoTime()).isLessThan(deadline);
                Thread.sleep(10);
            }
            assertThat(health.health().getStatus().getCode()).isEqualTo("DOWN");
            assertThat(health.health().getDetails().get("error").toString())
                    .contains("now has 0 bytes, but offset 52 was read already: it was truncated or replaced");
        }
    }
}

package io.laminar.storage.sample;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The packaged sample ({@code target/laminar-storage-sample.jar}, built by {@code package} before
 * failsafe runs) as a child process on a free port, logging to a file. Not thread-safe.
 */
final class SampleProcess implements AutoCloseable {

    private static final Duration STARTUP = Duration.ofSeconds(90);

    final Process process;
    final SampleClient client;
    final Path log;

    private SampleProcess(Process process, SampleClient client, Path log) {
        this.process = process;
        this.client = client;
        this.log = log;
    }

    /** The jar failsafe was told about, which must exist. */
    static Path jar() {
        var jar = Path.of(System.getProperty("laminar.sample.jar", "target/laminar-storage-sample.jar"));
        assertThat(jar).as("the packaged sample (run the tests with ./mvnw verify, which packages it first)")
                .isRegularFile();
        return jar;
    }

    /** Starts the jar with {@code args} on a free port and waits until it is ready to take traffic. */
    static SampleProcess start(Path log, String... args) throws IOException, InterruptedException {
        return start(log, Map.of(), args);
    }

    /** As {@link #start(Path, String...)}, with more environment variables. */
    static SampleProcess start(Path log, Map<String, String> environment, String... args)
            throws IOException, InterruptedException {
        int port = freePort();
        var command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-jar", jar().toString(),
                "--server.port=" + port));
        command.addAll(List.of(args));
        var builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        builder.environment().putAll(environment);
        var process = builder.start();
        var sample = new SampleProcess(process, new SampleClient(port), log);
        long deadline = System.nanoTime() + STARTUP.toNanos();
        while (true) {
            if (!process.isAlive()) {
                throw new AssertionError("the sample exited with " + process.exitValue() + " while starting:\n"
                        + sample.logTail());
            }
            try {
                if (sample.client.get("/actuator/health/readiness").status() == 200) {
                    return sample;
                }
            } catch (IOException notYet) {
                // the port is not open before recovery has completed
            }
            if (System.nanoTime() > deadline) {
                sample.kill();
                throw new AssertionError("the sample was not ready within " + STARTUP + ":\n" + sample.logTail());
            }
            Thread.sleep(100);
        }
    }

    /** SIGKILL: no shutdown hook, no final checkpoint, no last fsync. Returns the exit code. */
    int kill() throws InterruptedException {
        process.destroyForcibly();
        return process.waitFor();
    }

    /** SIGTERM: a graceful shutdown. Returns the exit code. */
    int stop() throws InterruptedException {
        process.destroy();
        return process.waitFor();
    }

    String logTail() {
        try {
            var lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e + ")";
        }
    }

    private static int freePort() throws IOException {
        try (var socket = new ServerSocket(0)) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        }
    }

    /** Kills the process if it still runs. */
    @Override
    public void close() {
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

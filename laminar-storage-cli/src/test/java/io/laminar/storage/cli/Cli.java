package io.laminar.storage.cli;

import io.laminar.storage.store.s3.S3ProxyServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** Runs the packaged tool as a child process, as a user would. */
final class Cli {

    record Result(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "\n--- stderr\n" + err;
        }
    }

    private Cli() {
    }

    static Path jar() {
        var jar = Path.of(System.getProperty("laminar.cli.jar", "target/laminar.jar"));
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("run `package` first: " + jar + " is missing");
        }
        return jar;
    }

    static Path launcher() {
        return Path.of(System.getProperty("laminar.cli.launcher", "target/laminar"));
    }

    static Result run(String... args) throws IOException, InterruptedException {
        return run(Map.of(), args);
    }

    static Result run(Map<String, String> env, String... args) throws IOException, InterruptedException {
        var command = new ArrayList<String>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-jar", jar().toString()));
        command.addAll(List.of(args));
        return exec(command, env);
    }

    /** Runs the tool against the S3Proxy {@code s3} ({@code --endpoint} appended) with its access key and {@code secret}. */
    static Result runS3(S3ProxyServer s3, String secret, String... args) throws IOException, InterruptedException {
        var all = Stream.concat(Stream.of(args), Stream.of("--endpoint", s3.endpoint().toString())).toArray(String[]::new);
        return run(Map.of("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", secret,
                "AWS_REGION", S3ProxyServer.REGION), all);
    }

    static Result exec(List<String> command, Map<String, String> env) throws IOException, InterruptedException {
        var dir = Files.createTempDirectory("laminar-cli-run");
        var out = dir.resolve("out");
        var err = dir.resolve("err");
        var builder = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        builder.environment().putAll(env);
        var process = builder.start();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("timed out: " + command);
        }
        var result = new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
        Files.delete(out);
        Files.delete(err);
        Files.delete(dir);
        return result;
    }
}

package io.laminar.storage.cli;

import io.laminar.storage.StorageException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.Arrays;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The {@code laminar} operator tool: the entry point of {@code laminar.jar}. Every command runs on
 * the main thread; the tool starts no thread of its own (the S3 SDK's HTTP client may, while a
 * command that uses S3 runs).
 */
@Command(name = "laminar",
        mixinStandardHelpOptions = true,
        versionProvider = LaminarCli.Version.class,
        subcommands = {WalCommand.class, CheckpointCommand.class, RecoverCommand.class, StoreCommand.class, StateCommand.class,
                CommandLine.HelpCommand.class},
        description = {
                "Inspect, verify and repair laminar-storage WALs and checkpoints.",
                "",
                "Read-only commands (everything except `wal repair --yes`) are safe against the directory of a running "
                        + "application: they never take the WAL lock, never repair and never delete."},
        footer = {
                "",
                "Examples:",
                "  laminar wal ls /var/lib/orders/wal",
                "  laminar wal verify /var/lib/orders/wal",
                "  laminar checkpoint ls /var/lib/orders/checkpoints",
                "  laminar checkpoint verify s3://my-checkpoints/orders/ --all",
                "  laminar recover --dry-run --dir /var/lib/orders/wal --store /var/lib/orders/checkpoints",
                "  laminar store copy /var/lib/orders/checkpoints s3://my-checkpoints/orders/",
                "  laminar state get /var/lib/orders/checkpoints order-4711 --dir /var/lib/orders/wal",
                "",
                "STORE is a checkpoint store directory or s3://bucket/prefix (see `laminar help checkpoint`).",
                "",
                "Exit codes:",
                "  0  clean",
                "  1  damage found",
                "  2  usage or access error (missing directory, not a laminar directory, bucket not found, ...)"})
public final class LaminarCli implements Runnable {

    /** Nothing wrong. */
    public static final int EXIT_CLEAN = 0;
    /** Damage found (corruption, a file that fails its checksum, ...). */
    public static final int EXIT_DAMAGE = 1;
    /** Usage or access error. */
    public static final int EXIT_ERROR = 2;

    @Option(names = {"--verbose"}, scope = ScopeType.INHERIT,
            description = "Show the library's log and, on errors, the stack trace.")
    boolean verbose;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the tool and returns its exit code. */
    public static int run(String... args) {
        boolean verbose = Arrays.asList(args).contains("--verbose");
        // Before any logger exists: the library's log goes to stderr only with --verbose.
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", verbose ? "info" : "off");
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        var commandLine = new CommandLine(new LaminarCli());
        commandLine.setExecutionExceptionHandler((e, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            int code = EXIT_ERROR;
            if (e instanceof CliException c) {
                code = c.exitCode();
            }
            err.println("laminar: " + message(e));
            if (verbose) {
                e.printStackTrace(err);
            }
            err.flush();
            return code;
        });
        return commandLine.execute(args);
    }

    /** One or two lines a person can act on. */
    static String message(Throwable e) {
        if (e instanceof UncheckedIOException u) {
            e = u.getCause();
        }
        if (e instanceof CliException || e instanceof StorageException) {
            return e.getMessage();
        }
        if (e instanceof NoSuchFileException n) {
            return "no such file or directory: " + n.getFile() + (n.getReason() != null ? " (" + n.getReason() + ")" : "");
        }
        if (e instanceof AccessDeniedException a) {
            return "permission denied: " + a.getFile();
        }
        if (e instanceof IOException) {
            return e.getMessage() != null ? e.getMessage() : e.toString();
        }
        return e + (e.getMessage() == null ? "" : "") + " (run with --verbose for the stack trace)";
    }

    /** The version from the jar's manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            var version = LaminarCli.class.getPackage().getImplementationVersion();
            return new String[] {"laminar " + (version != null ? version : "0.1.0-SNAPSHOT")};
        }
    }
}

package io.laminar.storage.cli;

import io.laminar.storage.StorageException;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.laminar.storage.store.s3.S3CheckpointStore;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import picocli.CommandLine.Option;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * How to reach a STORE: a checkpoint store directory, or {@code s3://bucket/prefix} with the AWS
 * SDK's default credential chain (environment, profile, ...) and region, and optionally an
 * endpoint of an S3-compatible server. Credentials are never printed.
 *
 * <p>A picocli mixin ({@code --endpoint}, {@code --region}): a command that takes STORE as its first
 * parameter mixes in {@link StoreParameter}, which holds one of these; {@code recover} and
 * {@code store copy} name their stores otherwise and mix this in directly.
 */
final class StoreOptions {

    /** What a read-only command does with its open store. */
    @FunctionalInterface
    interface StoreWork {
        /** Does the command's work on {@code store}, printing to {@code out}; returns the exit code. */
        int run(CheckpointStore store, PrintWriter out) throws IOException;
    }

    static final String HELP = "STORE: a checkpoint store directory or s3://bucket/prefix. For S3 the credentials "
            + "and region come from the AWS SDK's default chain (environment, ~/.aws profiles) and --endpoint names an "
            + "S3-compatible server; secrets are never printed.";

    @Option(names = "--endpoint", paramLabel = "URL",
            description = "S3-compatible endpoint, e.g. http://127.0.0.1:9000 (path-style access).")
    URI endpoint;

    @Option(names = "--region", paramLabel = "REGION", description = "AWS region (default: the SDK's region chain).")
    String region;

    /**
     * The one way a read-only command uses its store: opens {@code spec} read-only, runs
     * {@code work}, closes the store, flushes {@code out} and returns {@code work}'s exit code. An
     * exception (a {@link CliException} or an I/O error) passes through after the store is closed,
     * for the tool's exception handler to print.
     */
    int read(String spec, PrintWriter out, StoreWork work) throws IOException {
        int exit;
        try (var store = openReadOnly(spec)) {
            exit = work.run(store, out);
        }
        out.flush();
        return exit;
    }

    /** Opens {@code spec} for reading only. */
    CheckpointStore openReadOnly(String spec) {
        if (spec.startsWith("s3://")) {
            return openS3(spec);
        }
        var dir = Path.of(spec);
        if (!Files.exists(dir)) {
            throw new CliException("no such directory: " + dir);
        }
        if (!Files.isDirectory(dir.resolve("manifests")) && Files.isDirectory(dir.resolve("checkpoints/manifests"))) {
            dir = dir.resolve("checkpoints"); // a laminar.storage.dir
        }
        try {
            return FileSystemCheckpointStore.openReadOnly(dir);
        } catch (NoSuchFileException e) {
            throw new CliException(dir + " is not a laminar checkpoint store: it has no manifests/ directory.\n"
                    + "Point at the checkpoint directory, e.g. <laminar.storage.dir>/checkpoints.", e);
        } catch (IOException e) {
            throw new CliException("cannot read the checkpoint store " + dir + ": " + LaminarCli.message(e), e);
        }
    }

    /** Opens {@code spec} to write to it (a directory is created if needed). */
    CheckpointStore openWritable(String spec) {
        if (spec.startsWith("s3://")) {
            return openS3(spec);
        }
        var dir = Path.of(spec);
        if (!Files.isDirectory(dir.resolve("manifests"))
                && (Files.isDirectory(dir.resolve("checkpoints")) || Files.isDirectory(dir.resolve("wal")))) {
            dir = dir.resolve("checkpoints"); // a laminar.storage.dir: the application reads <dir>/checkpoints
        }
        try {
            return FileSystemCheckpointStore.open(dir);
        } catch (IOException e) {
            throw new CliException("cannot open the checkpoint store " + spec + ": " + LaminarCli.message(e), e);
        }
    }

    private CheckpointStore openS3(String spec) {
        var rest = spec.substring("s3://".length());
        int slash = rest.indexOf('/');
        var bucket = slash < 0 ? rest : rest.substring(0, slash);
        var prefix = slash < 0 ? "" : rest.substring(slash + 1);
        if (!prefix.isEmpty() && !prefix.endsWith("/")) {
            prefix += "/";
        }
        if (bucket.isEmpty()) {
            throw new CliException("'" + spec + "' names no bucket: write s3://bucket/prefix");
        }
        var builder = S3Client.builder();
        if (region != null) {
            builder.region(Region.of(region));
        } else {
            try {
                builder.region(new DefaultAwsRegionProviderChain().getRegion());
            } catch (SdkClientException e) {
                if (endpoint == null) {
                    throw new CliException("no AWS region configured: set AWS_REGION or pass --region", e);
                }
                builder.region(Region.US_EAST_1);
            }
        }
        if (endpoint != null) {
            builder.endpointOverride(endpoint).forcePathStyle(true);
        }
        S3Client client;
        try {
            client = builder.build();
        } catch (SdkClientException e) {
            throw new CliException("cannot create an S3 client: " + e.getMessage(), e);
        }
        try {
            return S3CheckpointStore.builder(client, bucket).prefix(prefix).closeClient(true).build();
        } catch (StorageException | SdkClientException e) {
            client.close();
            throw new CliException(e.getMessage(), e);
        }
    }
}

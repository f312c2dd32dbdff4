package io.laminar.storage.cli;

import io.laminar.storage.store.CheckpointConflictException;
import io.laminar.storage.store.CheckpointCorruptException;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.ManifestCodec;
import io.laminar.storage.store.StateFileRef;
import io.laminar.storage.store.VerifyingInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code laminar store}: whole checkpoint stores. */
@Command(name = "store", mixinStandardHelpOptions = true,
        description = {"Copy checkpoints between stores (a directory and S3, either way).", StoreOptions.HELP},
        subcommands = {StoreCommand.Copy.class},
        footer = {"", "Examples:", "  laminar store copy /var/lib/orders/checkpoints s3://my-checkpoints/orders/",
                "  laminar store copy s3://my-checkpoints/orders/ /restore/checkpoints 42"})
final class StoreCommand implements Runnable {

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Command(name = "copy", mixinStandardHelpOptions = true,
            description = {"Copy one checkpoint from SRC to DST: every file its manifest references (each core's chain of "
                    + "full and delta state files), then the manifest, last, so DST never lists a checkpoint whose files "
                    + "it lacks. Without ID, the newest checkpoint whose manifest reads.",
                    "Verified: each file is read through the library's VerifyingInputStream and must match the size and "
                            + "CRC32C its manifest records, and the manifest DST then holds must equal SRC's.",
                    "Resumable: files DST already holds with the same size and CRC32C are skipped, so an interrupted "
                            + "copy is simply run again. Writes only to DST (stores are write-once: a file DST holds with "
                            + "other bytes is reported, never overwritten). SRC is only read.",
                    StoreOptions.HELP},
            footer = {"", "Examples:",
                    "  laminar store copy /var/lib/orders/checkpoints s3://my-checkpoints/orders/",
                    "  laminar store copy s3://my-checkpoints/orders/ /restore/checkpoints 42 --json",
                    "  laminar store copy s3://a/orders/ /restore/checkpoints --endpoint http://127.0.0.1:9000",
                    "", "Exit codes: 0 copied (or already there), 1 a file of SRC fails its checks or DST holds other "
                    + "bytes, 2 usage or access error."})
    static final class Copy implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "SRC")
        String source;
        @Parameters(index = "1", paramLabel = "DST")
        String target;
        @Parameters(index = "2", paramLabel = "ID", arity = "0..1", description = "The checkpoint (default: the newest).")
        Long id;
        @Mixin
        StoreOptions options;
        @Mixin
        OutputOptions output;

        @Override
        public Integer call() throws IOException {
            return options.read(source, output.out(), this::copyTo);
        }

        /** Copies the checkpoint from the open SRC to DST, which it opens (and closes). */
        private int copyTo(CheckpointStore src, PrintWriter out) throws IOException {
            try (var dst = options.openWritable(target)) {
                var manifest = pick(src);
                long checkpoint = manifest.checkpointId();
                var copied = new ArrayList<StateFileRef>();
                var skipped = new ArrayList<StateFileRef>();
                long total = CheckpointCommand.size(manifest.files());
                try (var progress = new Progress("copy", total)) {
                    for (var ref : manifest.files()) {
                        if (alreadyThere(dst, ref, checkpoint)) {
                            skipped.add(ref);
                        } else {
                            copy(src, dst, ref, checkpoint, progress);
                            copied.add(ref);
                        }
                        progress.advance(skipped.contains(ref) ? ref.size() : 0);
                    }
                }
                boolean existed = read(dst, checkpoint) != null;
                try {
                    dst.publishManifest(manifest);
                } catch (CheckpointConflictException e) {
                    throw new CliException("DST " + dst + " already holds a different checkpoint " + checkpoint
                            + ": not overwritten", LaminarCli.EXIT_DAMAGE, e);
                }
                var published = read(dst, checkpoint);
                if (published == null || !Arrays.equals(ManifestCodec.encode(published), ManifestCodec.encode(manifest))) {
                    throw new CliException("the manifest of checkpoint " + checkpoint + " that " + dst
                            + " holds differs from the one of " + src, LaminarCli.EXIT_DAMAGE, null);
                }
                long copiedBytes = CheckpointCommand.size(copied);
                long skippedBytes = CheckpointCommand.size(skipped);
                if (output.json) {
                    var j = new LinkedHashMap<String, Object>();
                    j.put("checkpointId", checkpoint);
                    j.put("source", src.toString());
                    j.put("target", dst.toString());
                    j.put("copied", copied.stream().map(StateFileRef::path).toList());
                    j.put("skipped", skipped.stream().map(StateFileRef::path).toList());
                    j.put("copiedBytes", copiedBytes);
                    j.put("skippedBytes", skippedBytes);
                    j.put("manifest", existed ? "already there" : "published");
                    Output.printJson(out, j);
                } else {
                    out.printf("checkpoint %d: %s -> %s%n", checkpoint, src, dst);
                    for (var ref : copied) {
                        out.printf("  copied   %s  %d bytes%n", ref.path(), ref.size());
                    }
                    for (var ref : skipped) {
                        out.printf("  skipped  %s  %d bytes (already in DST, same size and CRC32C)%n", ref.path(),
                                ref.size());
                    }
                    out.printf("%d files copied (%s), %d already there (%s); manifest %s, verified%n", copied.size(),
                            Output.bytes(copiedBytes), skipped.size(), Output.bytes(skippedBytes),
                            existed ? "already there" : "published");
                }
            }
            return LaminarCli.EXIT_CLEAN;
        }

        private CheckpointManifest pick(CheckpointStore src) {
            if (id != null) {
                return CheckpointCommand.load(src, id).manifestOrFail("checkpoint " + id + " of " + src);
            }
            return CheckpointCommand.newestReadable(src)
                    .orElseThrow(() -> new CliException("the store " + src + " holds no readable checkpoint"));
        }

        private static CheckpointManifest read(CheckpointStore store, long id) {
            try {
                return store.readManifest(id).orElse(null);
            } catch (CheckpointCorruptException e) {
                throw new CliException("DST " + store + " holds a corrupt manifest of checkpoint " + id + ": "
                        + e.getMessage(), LaminarCli.EXIT_DAMAGE, e);
            } catch (IOException e) {
                throw new CliException("cannot read checkpoint " + id + " of " + store + ": " + LaminarCli.message(e), e);
            }
        }

        /** Whether DST holds the file with its size and CRC32C (read back through VerifyingInputStream). */
        private static boolean alreadyThere(CheckpointStore dst, StateFileRef ref, long checkpoint) throws IOException {
            var size = dst.fileSize(ref.path());
            if (size.isEmpty()) {
                return false;
            }
            if (size.get() != ref.size()) {
                throw new CliException("DST " + dst + " holds " + ref.path() + " with " + size.get()
                        + " bytes, the manifest records " + ref.size() + ": stores are write-once, so it is not "
                        + "overwritten; delete it from DST and run the copy again", LaminarCli.EXIT_DAMAGE, null);
            }
            try (var in = VerifyingInputStream.open(dst, ref, checkpoint)) {
                in.transferTo(OutputStream.nullOutputStream());
                return in.verified();
            } catch (CheckpointCorruptException e) {
                throw new CliException("DST " + dst + " holds " + ref.path() + " with other bytes (" + e.getMessage()
                        + "): delete it from DST and run the copy again", LaminarCli.EXIT_DAMAGE, e);
            }
        }

        private static void copy(CheckpointStore src, CheckpointStore dst, StateFileRef ref, long checkpoint,
                Progress progress) throws IOException {
            StateFileRef written;
            try (var in = VerifyingInputStream.open(src, ref, checkpoint);
                 var counted = new CheckpointCommand.CountingStream(in, progress)) {
                written = dst.writeFile(ref.path(), counted);
                if (!in.verified()) {
                    throw new CliException(ref.path() + " of " + src + " could not be read to its end",
                            LaminarCli.EXIT_DAMAGE, null);
                }
            } catch (CheckpointStore.ContentReadException e) {
                if (e.getCause() instanceof CheckpointCorruptException c) {
                    throw new CliException("SRC " + src + ": " + c.getMessage(), LaminarCli.EXIT_DAMAGE, c);
                }
                throw new CliException("cannot read " + ref.path() + " from " + src + ": "
                        + LaminarCli.message(e.getCause()), e);
            } catch (CheckpointCorruptException e) {
                throw new CliException("SRC " + src + ": " + e.getMessage(), LaminarCli.EXIT_DAMAGE, e);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                throw new CliException("DST " + dst + " holds " + ref.path() + " with other bytes: delete it from DST "
                        + "and run the copy again", LaminarCli.EXIT_DAMAGE, e);
            }
            if (written.size() != ref.size() || !written.crc32c().equalsIgnoreCase(ref.crc32c())) {
                throw new CliException("DST " + dst + " stored " + ref.path() + " as " + written.size() + " bytes, CRC32C "
                        + written.crc32c() + "; the manifest records " + ref.size() + " bytes, " + ref.crc32c(),
                        LaminarCli.EXIT_DAMAGE, null);
            }
        }
    }
}

package io.laminar.storage.cli;

import io.laminar.storage.checkpoint.CoreChains;
import io.laminar.storage.checkpoint.StateFileFormat;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.store.CheckpointCorruptException;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.StateFileRef;
import io.laminar.storage.store.VerifyingInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code laminar checkpoint}: the checkpoints of a store. All read-only. */
@Command(name = "checkpoint", mixinStandardHelpOptions = true,
        description = {"List, show, verify and compare the checkpoints of a store. Read-only: nothing in the store is "
                + "written or deleted, so it is safe beside a running application.", StoreOptions.HELP},
        subcommands = {CheckpointCommand.Ls.class, CheckpointCommand.Show.class, CheckpointCommand.Verify.class,
                CheckpointCommand.Diff.class, CheckpointCommand.History.class},
        footer = {"", "Examples:", "  laminar checkpoint ls /var/lib/orders/checkpoints",
                "  laminar checkpoint show /var/lib/orders/checkpoints 42",
                "  laminar checkpoint verify s3://my-checkpoints/orders/ --all",
                "  laminar checkpoint diff /var/lib/orders/checkpoints 41 42",
                "  laminar checkpoint history /var/lib/orders/checkpoints --html history.html"})
final class CheckpointCommand implements Runnable {

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** A manifest, or why it could not be read. */
    record Loaded(long id, CheckpointManifest manifest, String problem) {

        /** The manifest, or a CliException (exit 1): {@code checkpoint <id> is corrupt: <problem>}. */
        CheckpointManifest manifestOrFail() {
            return manifestOrFail("checkpoint " + id);
        }

        /** The manifest, or a CliException (exit 1): {@code <name> is corrupt: <problem>}. */
        CheckpointManifest manifestOrFail(String name) {
            if (manifest == null) {
                throw new CliException(name + " is corrupt: " + problem, LaminarCli.EXIT_DAMAGE, null);
            }
            return manifest;
        }
    }

    static List<Long> ids(CheckpointStore store) {
        try {
            return store.listCheckpoints();
        } catch (IOException e) {
            throw new CliException("cannot list the checkpoints of " + store + ": " + LaminarCli.message(e), e);
        }
    }

    static Loaded load(CheckpointStore store, long id) {
        try {
            var manifest = store.readManifest(id);
            if (manifest.isEmpty()) {
                throw new CliException("the store " + store + " has no checkpoint " + id);
            }
            return new Loaded(id, manifest.get(), null);
        } catch (CheckpointCorruptException e) {
            return new Loaded(id, null, e.getMessage());
        } catch (IOException e) {
            throw new CliException("cannot read checkpoint " + id + " of " + store + ": " + LaminarCli.message(e), e);
        }
    }

    /**
     * The newest checkpoint of the store whose manifest reads (a newer corrupt one is passed over),
     * or empty if there is none. A checkpoint that cannot be read at all ends the command.
     */
    static Optional<CheckpointManifest> newestReadable(CheckpointStore store) {
        var ids = ids(store);
        for (int i = ids.size() - 1; i >= 0; i--) {
            var loaded = load(store, ids.get(i));
            if (loaded.manifest() != null) {
                return Optional.of(loaded.manifest());
            }
        }
        return Optional.empty();
    }

    /** The sum of the files' sizes. */
    static long size(Collection<StateFileRef> files) {
        return files.stream().mapToLong(StateFileRef::size).sum();
    }

    static long retainedBytes(CheckpointManifest m) {
        return size(m.files());
    }

    static Map<String, Object> summaryJson(CheckpointManifest m) {
        var j = new LinkedHashMap<String, Object>();
        j.put("checkpointId", m.checkpointId());
        j.put("epoch", m.epoch());
        j.put("createdAt", m.createdAt().toString());
        j.put("parentCheckpointId", m.parentCheckpointId());
        j.put("files", m.files().size());
        j.put("stateBytes", m.stateBytes());
        j.put("writtenBytes", m.writtenBytes());
        j.put("retainedBytes", retainedBytes(m));
        j.put("walPositions", m.walPositions());
        return j;
    }

    // ---- ls -------------------------------------------------------------------------------------

    @Command(name = "ls", mixinStandardHelpOptions = true,
            description = {"List the checkpoints: id, epoch, time, parent, files, state, written and retained bytes.",
                    "Read-only.", StoreOptions.HELP},
            footer = {"", "Examples:", "  laminar checkpoint ls /var/lib/orders/checkpoints",
                    "  AWS_PROFILE=ops laminar checkpoint ls s3://my-checkpoints/orders/ --json"})
    static final class Ls implements Callable<Integer> {
        @Mixin
        StoreParameter store;
        @Mixin
        OutputOptions output;

        @Override
        public Integer call() throws IOException {
            return store.read((s, out) -> {
                boolean damaged = false;
                var list = new ArrayList<Map<String, Object>>();
                var ids = ids(s);
                if (!output.json) {
                    out.printf("%d checkpoint%s in %s%n", ids.size(), Output.plural(ids.size()), s);
                    if (!ids.isEmpty()) {
                        out.printf("%-8s %-8s %-32s %-8s %6s %12s %12s %12s%n", "ID", "EPOCH", "CREATED", "PARENT",
                                "FILES", "STATE", "WRITTEN", "RETAINED");
                    }
                }
                for (long id : ids) {
                    var loaded = load(s, id);
                    if (loaded.manifest() == null) {
                        damaged = true;
                        if (output.json) {
                            list.add(Map.of("checkpointId", id, "corrupt", loaded.problem()));
                        } else {
                            out.printf("%-8d CORRUPT: %s%n", id, loaded.problem());
                        }
                        continue;
                    }
                    var m = loaded.manifest();
                    if (output.json) {
                        list.add(summaryJson(m));
                    } else {
                        out.printf("%-8d %-8d %-32s %-8s %6d %12s %12s %12s%n", id, m.epoch(), m.createdAt(),
                                m.parentCheckpointId() == null ? "-" : m.parentCheckpointId(), m.files().size(),
                                Output.bytes(m.stateBytes()), Output.bytes(m.writtenBytes()),
                                Output.bytes(retainedBytes(m)));
                    }
                }
                if (output.json) {
                    Output.printJson(out, Map.of("store", s.toString(), "checkpoints", list));
                }
                return damaged ? LaminarCli.EXIT_DAMAGE : LaminarCli.EXIT_CLEAN;
            });
        }
    }

    // ---- show -----------------------------------------------------------------------------------

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = {"Show one checkpoint's manifest: WAL positions per core, source offsets, each core's chain "
                    + "of state files, every file with size and CRC32C.", "Read-only.", StoreOptions.HELP},
            footer = {"", "Example:", "  laminar checkpoint show /var/lib/orders/checkpoints 42 --json"})
    static final class Show implements Callable<Integer> {
        @Mixin
        StoreParameter store;
        @Parameters(index = "1", paramLabel = "ID")
        long id;
        @Mixin
        OutputOptions output;

        @Override
        public Integer call() throws IOException {
            return store.read((s, out) -> {
                var m = load(s, id).manifestOrFail();
                var sources = new TreeMap<String, Object>();
                m.sources().forEach((k, v) -> sources.put(k, Map.of("offsets", new TreeMap<>(v.offsets()),
                        "metadata", new TreeMap<>(v.metadata()))));
                var operators = new TreeMap<String, Object>();
                m.operators().forEach((k, v) -> operators.put(k, Map.of("stateFiles", v.stateFiles(),
                        "inlineBytes", v.inline() == null ? 0 : v.inline().length)));
                if (output.json) {
                    var j = summaryJson(m);
                    j.put("watermark", m.watermark() == Long.MIN_VALUE ? null : m.watermark());
                    j.put("sources", sources);
                    j.put("operators", operators);
                    var files = new ArrayList<Map<String, Object>>();
                    for (var f : m.files()) {
                        files.add(Map.of("path", f.path(), "size", f.size(), "crc32c", f.crc32c()));
                    }
                    j.put("files", files);
                    Output.printJson(out, j);
                } else {
                    out.printf("checkpoint %d, epoch %d, created %s, parent %s%n", m.checkpointId(), m.epoch(),
                            m.createdAt(), m.parentCheckpointId() == null ? "none (full)" : m.parentCheckpointId());
                    out.printf("state %s, written %s, retained %s in %d files, watermark %s%n",
                            Output.bytes(m.stateBytes()), Output.bytes(m.writtenBytes()), Output.bytes(retainedBytes(m)),
                            m.files().size(), m.watermark() == Long.MIN_VALUE ? "none" : m.watermark());
                    out.println("WAL positions (replay starts here):");
                    for (int core = 0; core < m.walPositions().size(); core++) {
                        out.printf("  core %d: %d%n", core, m.walPositions().get(core));
                    }
                    out.println("sources:" + (sources.isEmpty() ? " none" : ""));
                    sources.forEach((k, v) -> out.println("  " + k + ": " + v));
                    out.println("operators:");
                    new TreeMap<>(m.operators()).forEach((k, v) -> out.println("  " + k + ": " + v.stateFiles()));
                    out.println("files:");
                    for (var f : m.files()) {
                        out.printf("  %s  %d bytes  crc32c %s%n", f.path(), f.size(), f.crc32c());
                    }
                }
                return LaminarCli.EXIT_CLEAN;
            });
        }
    }

    // ---- verify ---------------------------------------------------------------------------------

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = {"Download and check every file a checkpoint references: its size and CRC32C as the manifest "
                    + "records them, and that each state file parses (header, core, every entry). The manifest's own "
                    + "CRC32C is checked first. Read-only.", StoreOptions.HELP},
            footer = {"", "Examples:", "  laminar checkpoint verify /var/lib/orders/checkpoints",
                    "  laminar checkpoint verify /var/lib/orders/checkpoints 42",
                    "  laminar checkpoint verify s3://my-checkpoints/orders/ --all --endpoint http://127.0.0.1:9000",
                    "", "Exit codes: 0 clean, 1 damage found (the file is named), 2 usage or access error."})
    static final class Verify implements Callable<Integer> {
        @Mixin
        StoreParameter store;
        // Not an exclusive @ArgGroup: picocli 4.7 never matches a positional parameter inside a
        // group after one outside it (`verify STORE 42` was "Unmatched argument"), so the two are
        // plain and call() refuses both at once, as a usage error.
        @Parameters(index = "1", arity = "0..1", paramLabel = "ID",
                description = "The checkpoint to verify (default: the newest).")
        Long id;
        @Option(names = "--all", description = "Verify every checkpoint in the store.")
        boolean all;
        @Mixin
        OutputOptions output;
        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            if (id != null && all) {
                throw new ParameterException(spec.commandLine(),
                        "Error: ID, --all are mutually exclusive (specify only one)");
            }
            return store.read((s, out) -> {
                boolean damaged = false;
                var results = new ArrayList<Map<String, Object>>();
                List<Long> ids;
                if (id != null) {
                    ids = List.of(id);
                } else {
                    var every = ids(s);
                    if (every.isEmpty()) {
                        throw new CliException("the store " + s + " holds no checkpoint");
                    }
                    ids = all ? every : List.of(every.get(every.size() - 1));
                }
                var loaded = new ArrayList<Loaded>();
                long total = 0;
                for (long id : ids) {
                    var l = load(s, id);
                    loaded.add(l);
                    if (l.manifest() != null) {
                        total += retainedBytes(l.manifest());
                    }
                }
                var verified = new HashMap<String, String>(); // path -> problem ("" if fine), checked once
                try (var progress = new Progress("verify", total)) {
                    for (var l : loaded) {
                        var r = new LinkedHashMap<String, Object>();
                        r.put("checkpointId", l.id());
                        var problems = new ArrayList<Map<String, Object>>();
                        if (l.manifest() == null) {
                            problems.add(Map.of("file", "manifest", "problem", l.problem()));
                        } else {
                            var coreOf = new HashMap<String, Integer>();
                            for (int core = 0; core < l.manifest().walPositions().size(); core++) {
                                var chain = l.manifest().operators().get(CoreChains.name(core));
                                if (chain != null) {
                                    for (var f : chain.stateFiles()) {
                                        coreOf.put(f, core);
                                    }
                                }
                            }
                            for (var ref : l.manifest().files()) {
                                var problem = verified.get(ref.path());
                                if (problem == null) {
                                    problem = check(s, ref, l.id(), coreOf.get(ref.path()), progress);
                                    verified.put(ref.path(), problem);
                                } else {
                                    progress.advance(ref.size());
                                }
                                if (!problem.isEmpty()) {
                                    problems.add(Map.of("file", ref.path(), "problem", problem));
                                }
                            }
                            r.put("files", l.manifest().files().size());
                            r.put("bytes", retainedBytes(l.manifest()));
                        }
                        r.put("ok", problems.isEmpty());
                        r.put("problems", problems);
                        damaged |= !problems.isEmpty();
                        results.add(r);
                    }
                }
                if (output.json) {
                    Output.printJson(out, Map.of("store", s.toString(), "damaged", damaged, "checkpoints", results));
                } else {
                    for (var r : results) {
                        @SuppressWarnings("unchecked")
                        var problems = (List<Map<String, Object>>) r.get("problems");
                        if (problems.isEmpty()) {
                            out.printf("checkpoint %d: OK, %d files, %s verified%n", r.get("checkpointId"), r.get("files"),
                                    Output.bytes((Long) r.get("bytes")));
                        } else {
                            out.printf("checkpoint %d: DAMAGED%n", r.get("checkpointId"));
                            for (var p : problems) {
                                out.printf("  %s: %s%n", p.get("file"), p.get("problem"));
                            }
                        }
                    }
                    out.println(damaged ? "damage found" : "all verified");
                }
                return damaged ? LaminarCli.EXIT_DAMAGE : LaminarCli.EXIT_CLEAN;
            });
        }

        /** "" if the file is fine, else what is wrong with it. Access errors end the command. */
        private static String check(CheckpointStore store, StateFileRef ref, long id, Integer core, Progress progress) {
            try {
                var size = store.fileSize(ref.path());
                if (size.isEmpty()) {
                    return "missing from the store";
                }
                if (size.get() != ref.size()) {
                    return "size is " + size.get() + " bytes, the manifest records " + ref.size();
                }
                try (var in = VerifyingInputStream.open(store, ref, id);
                     var counted = new CountingStream(in, progress)) {
                    if (core != null) {
                        StateFileFormat.read(counted, ref.path(), ref.size(), core, ChangelogSink.NONE);
                    }
                    counted.transferTo(java.io.OutputStream.nullOutputStream());
                    if (!in.verified()) {
                        return "could not be read to its end";
                    }
                }
                return "";
            } catch (CheckpointCorruptException e) {
                return e.getMessage();
            } catch (NoSuchFileException e) {
                return "missing from the store";
            } catch (IOException e) {
                if (e.getMessage() != null && e.getMessage().startsWith("state file ")) {
                    return e.getMessage(); // StateFileFormat: the bytes do not parse
                }
                throw new CliException("cannot read " + ref.path() + " from " + store + ": " + LaminarCli.message(e), e);
            }
        }
    }

    /** Counts the bytes read into the progress bar. */
    static final class CountingStream extends java.io.FilterInputStream {
        private final Progress progress;

        CountingStream(InputStream in, Progress progress) {
            super(in);
            this.progress = progress;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            if (b >= 0) {
                progress.advance(1);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n > 0) {
                progress.advance(n);
            }
            return n;
        }
    }

    // ---- diff -----------------------------------------------------------------------------------

    @Command(name = "diff", mixinStandardHelpOptions = true,
            description = {"Compare the files of two checkpoints: added (in ID2 only), shared, dropped (in ID1 only), "
                    + "with bytes.", "Read-only.", StoreOptions.HELP},
            footer = {"", "Example:", "  laminar checkpoint diff /var/lib/orders/checkpoints 41 42"})
    static final class Diff implements Callable<Integer> {
        @Mixin
        StoreParameter store;
        @Parameters(index = "1", paramLabel = "ID1")
        long id1;
        @Parameters(index = "2", paramLabel = "ID2")
        long id2;
        @Mixin
        OutputOptions output;

        @Override
        public Integer call() throws IOException {
            return store.read((s, out) -> {
                var a = load(s, id1);
                var b = load(s, id2);
                var before = new TreeMap<String, StateFileRef>();
                a.manifestOrFail().files().forEach(f -> before.put(f.path(), f));
                var after = new TreeMap<String, StateFileRef>();
                b.manifestOrFail().files().forEach(f -> after.put(f.path(), f));
                var groups = new LinkedHashMap<String, List<StateFileRef>>();
                groups.put("added", after.values().stream().filter(f -> !before.containsKey(f.path())).toList());
                groups.put("shared", after.values().stream().filter(f -> before.containsKey(f.path())).toList());
                groups.put("dropped", before.values().stream().filter(f -> !after.containsKey(f.path())).toList());
                if (output.json) {
                    var j = new LinkedHashMap<String, Object>();
                    j.put("from", id1);
                    j.put("to", id2);
                    groups.forEach((k, files) -> {
                        j.put(k, files.stream().map(f -> Map.of("path", f.path(), "size", f.size())).toList());
                        j.put(k + "Bytes", size(files));
                    });
                    Output.printJson(out, j);
                } else {
                    out.printf("checkpoint %d -> %d%n", id1, id2);
                    groups.forEach((k, files) -> {
                        out.printf("%s: %d files, %s%n", k, files.size(), Output.bytes(size(files)));
                        for (var f : files) {
                            out.printf("  %s %s  %d bytes%n", k.equals("added") ? "+" : k.equals("dropped") ? "-" : "=",
                                    f.path(), f.size());
                        }
                    });
                }
                return LaminarCli.EXIT_CLEAN;
            });
        }
    }

    // ---- history --------------------------------------------------------------------------------

    @Command(name = "history", mixinStandardHelpOptions = true,
            description = {"Write a self-contained HTML report of the checkpoints in the store: charts of the state size "
                    + "(stateBytes), the incremental bytes each checkpoint wrote (writtenBytes) and the bytes it retains "
                    + "(every file it references), and a table. The file needs no network (inline SVG and CSS, no "
                    + "script): open it in any browser, attach it to a ticket.", "Read-only.", StoreOptions.HELP},
            footer = {"", "Examples:", "  laminar checkpoint history /var/lib/orders/checkpoints --html history.html",
                    "  laminar checkpoint history s3://my-checkpoints/orders/ --html /tmp/orders-history.html"})
    static final class History implements Callable<Integer> {
        @Mixin
        StoreParameter store;
        @Option(names = "--html", paramLabel = "FILE", required = true, description = "The HTML file to write.")
        java.nio.file.Path html;

        @Override
        public Integer call() throws IOException {
            return store.read((s, out) -> {
                boolean damaged = false;
                var loaded = new ArrayList<Loaded>();
                for (long id : ids(s)) {
                    var l = load(s, id);
                    damaged |= l.manifest() == null;
                    loaded.add(l);
                }
                var page = HistoryPage.render(s.toString(), loaded);
                try {
                    var parent = html.toAbsolutePath().getParent();
                    if (parent != null) {
                        java.nio.file.Files.createDirectories(parent);
                    }
                    java.nio.file.Files.writeString(html, page, java.nio.charset.StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new CliException("cannot write " + html + ": " + LaminarCli.message(e), e);
                }
                out.printf("wrote %s: %d checkpoints%s%n", html, loaded.size(), damaged ? " (some CORRUPT)" : "");
                return damaged ? LaminarCli.EXIT_DAMAGE : LaminarCli.EXIT_CLEAN;
            });
        }
    }
}

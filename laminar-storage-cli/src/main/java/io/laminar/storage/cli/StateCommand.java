package io.laminar.storage.cli;

import io.laminar.storage.StorageException;
import io.laminar.storage.checkpoint.RecoveredState;
import io.laminar.storage.checkpoint.RecoveryManager;
import io.laminar.storage.percore.PerCoreWalView;
import io.laminar.storage.state.StateEntry;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.StateFileRef;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code laminar state}: keys as a restart would see them. The state is the library's own recovery
 * ({@link RecoveryManager#dryRun}): over a read-only view of the WAL with {@code --dir}, or over an
 * empty one without (then recovery adopts the checkpoint, so the state is exactly the checkpoint's).
 */
@Command(name = "state", mixinStandardHelpOptions = true,
        description = {"Read keys of the state a restart would recover: the newest usable checkpoint (or --checkpoint "
                + "ID) and, with --dir, the WAL after it. Offline debugging; read-only (no WAL lock, no repair, nothing "
                + "written).", StoreOptions.HELP, PlacementOptions.HELP},
        subcommands = {StateCommand.Get.class, StateCommand.Scan.class},
        footer = {"", "Examples:", "  laminar state get /var/lib/orders/checkpoints order-4711 --dir /var/lib/orders/wal",
                "  laminar state scan /var/lib/orders/checkpoints --prefix order- --limit 20"})
final class StateCommand implements Runnable {

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Where the state comes from: shared by get and scan. */
    static final class Source {
        @Option(names = "--dir", paramLabel = "DIR",
                description = "Also replay this WAL directory after the checkpoint, as a restart would (read-only).")
        Path dir;
        @Option(names = "--checkpoint", paramLabel = "ID",
                description = "Start from this checkpoint instead of the newest usable one.")
        Long checkpoint;
        @Option(names = "--hex", description = "KEY and --prefix are hex (e.g. 0a1b), not UTF-8 text.")
        boolean hex;
        @Mixin
        PlacementOptions placement;

        byte[] bytes(String text) {
            if (!hex) {
                return text.getBytes(StandardCharsets.UTF_8);
            }
            try {
                return HexFormat.of().parseHex(text.startsWith("0x") ? text.substring(2) : text);
            } catch (IllegalArgumentException e) {
                throw new CliException("'" + text + "' is not hex: " + e.getMessage());
            }
        }

        /** The recovered state, or a CliException (exit 1) saying why recovery would fail. */
        RecoveredState recover(CheckpointStore store) throws IOException {
            var source = checkpoint == null ? ListedStore.now(store) : ListedStore.only(store, checkpoint);
            try {
                PerCoreWalView wal = dir != null ? WalDirectory.view(dir, () -> RecoverCommand.coresOfNewest(source))
                        : PerCoreWalView.empty(RecoverCommand.coresOfNewest(source));
                var recovered = RecoveryManager.dryRun(wal, source, placement.placement()).recover();
                var report = recovered.report();
                if (checkpoint != null && !checkpoint.equals(report.checkpointId())) {
                    throw new CliException("checkpoint " + checkpoint + " is not usable: " + (report.skipped().isEmpty()
                            ? "recovery would not restore it" : report.skipped().get(0).reason()),
                            LaminarCli.EXIT_DAMAGE, null);
                }
                if (report.checkpointId() == null && dir == null) {
                    throw new CliException("the store " + store + " holds no usable checkpoint", LaminarCli.EXIT_DAMAGE,
                            null);
                }
                return recovered;
            } catch (StorageException e) {
                throw new CliException("recovery would fail: " + e.getMessage(), LaminarCli.EXIT_DAMAGE, e);
            }
        }

        String describe(RecoveredState recovered) {
            var report = recovered.report();
            return (report.checkpointId() == null ? "no checkpoint" : "checkpoint " + report.checkpointId())
                    + (dir == null ? "" : " plus " + report.recordsReplayed() + " WAL records from " + dir);
        }

        void putSource(Map<String, Object> json, RecoveredState recovered) {
            json.put("checkpointId", recovered.report().checkpointId());
            json.put("walRecordsReplayed", dir == null ? null : recovered.report().recordsReplayed());
        }
    }

    static void putBytes(Map<String, Object> json, String name, byte[] bytes) {
        var text = Output.utf8OrNull(bytes);
        if (text != null) {
            json.put(name, text);
        } else {
            json.put(name + "Hex", Output.hex(bytes));
        }
    }

    @Command(name = "get", mixinStandardHelpOptions = true,
            description = {"The value of KEY (and the core that holds it) as a restart would recover it. Key and value "
                    + "are shown as UTF-8 text when printable, else as hex.", StoreOptions.HELP},
            footer = {"", "Examples:", "  laminar state get /var/lib/orders/checkpoints order-4711",
                    "  laminar state get /var/lib/orders/checkpoints order-4711 --dir /var/lib/orders/wal --json",
                    "  laminar state get s3://my-checkpoints/orders/ 0a1b2c --hex --checkpoint 42",
                    "", "Exit codes: 0 found or not (see the output), 1 recovery would fail, 2 usage or access error."})
    static final class Get implements Callable<Integer> {
        @Mixin
        StoreParameter store;
        @Parameters(index = "1", paramLabel = "KEY")
        String key;
        @Mixin
        Source source;
        @Mixin
        OutputOptions output;

        @Override
        public Integer call() throws IOException {
            var k = source.bytes(key);
            return store.read((s, out) -> {
                var recovered = source.recover(s);
                byte[] value = null;
                int core = -1;
                for (int c = 0; c < recovered.coreStates().size() && value == null; c++) {
                    value = recovered.coreStates().get(c).get(k);
                    core = c;
                }
                if (output.json) {
                    var j = new LinkedHashMap<String, Object>();
                    putBytes(j, "key", k);
                    j.put("found", value != null);
                    j.put("core", value == null ? null : core);
                    if (value != null) {
                        putBytes(j, "value", value);
                    }
                    source.putSource(j, recovered);
                    Output.printJson(out, j);
                } else if (value == null) {
                    out.printf("%s: not found (%s)%n", Output.display(k), source.describe(recovered));
                } else {
                    out.printf("%s = %s  (core %d; %s)%n", Output.display(k), Output.display(value), core,
                            source.describe(recovered));
                }
                return LaminarCli.EXIT_CLEAN;
            });
        }
    }

    @Command(name = "scan", mixinStandardHelpOptions = true,
            description = {"Keys and values in key order (unsigned bytes), across all cores, as a restart would recover "
                    + "them.", StoreOptions.HELP},
            footer = {"", "Examples:", "  laminar state scan /var/lib/orders/checkpoints --prefix order- --limit 20",
                    "  laminar state scan /var/lib/orders/checkpoints --dir /var/lib/orders/wal --json"})
    static final class Scan implements Callable<Integer> {
        @Mixin
        StoreParameter store;
        @Option(names = "--prefix", paramLabel = "P", description = "Only keys that start with P.")
        String prefix;
        @Option(names = "--limit", paramLabel = "N", defaultValue = "100",
                description = "At most N entries (default: ${DEFAULT-VALUE}; 0: all).")
        int limit;
        @Mixin
        Source source;
        @Mixin
        OutputOptions output;

        @Override
        public Integer call() throws IOException {
            var p = prefix == null ? new byte[0] : source.bytes(prefix);
            return store.read((s, out) -> {
                var recovered = source.recover(s);
                record Hit(StateEntry entry, int core) {
                }
                var hits = new ArrayList<Hit>();
                for (int c = 0; c < recovered.coreStates().size(); c++) {
                    for (var e : recovered.coreStates().get(c)) {
                        if (e.key().length >= p.length && Arrays.equals(e.key(), 0, p.length, p, 0, p.length)) {
                            hits.add(new Hit(e, c));
                        }
                    }
                }
                hits.sort((a, b) -> Arrays.compareUnsigned(a.entry().key(), b.entry().key()));
                boolean truncated = limit > 0 && hits.size() > limit;
                var shown = truncated ? hits.subList(0, limit) : hits;
                if (output.json) {
                    var entries = new ArrayList<Map<String, Object>>();
                    for (var h : shown) {
                        var j = new LinkedHashMap<String, Object>();
                        putBytes(j, "key", h.entry().key());
                        putBytes(j, "value", h.entry().value());
                        j.put("core", h.core());
                        entries.add(j);
                    }
                    var j = new LinkedHashMap<String, Object>();
                    source.putSource(j, recovered);
                    j.put("entries", entries);
                    j.put("matching", hits.size());
                    j.put("truncated", truncated);
                    Output.printJson(out, j);
                } else {
                    out.printf("%d key%s%s (%s)%n", hits.size(), Output.plural(hits.size()),
                            prefix == null ? "" : " with prefix " + Output.display(p), source.describe(recovered));
                    for (var h : shown) {
                        out.printf("%s = %s  (core %d)%n", Output.display(h.entry().key()),
                                Output.display(h.entry().value()), h.core());
                    }
                    if (truncated) {
                        out.printf("... %d more (raise --limit)%n", hits.size() - limit);
                    }
                }
                return LaminarCli.EXIT_CLEAN;
            });
        }
    }

    /** A store as recovery sees it, with a listing fixed when it is made (all of it, or one checkpoint). Read-only. */
    static final class ListedStore implements CheckpointStore {
        private final CheckpointStore store;
        private final List<Long> ids;

        private ListedStore(CheckpointStore store, List<Long> ids) {
            this.store = store;
            this.ids = List.copyOf(ids);
        }

        /**
         * The store with the checkpoints it lists now. A command lists the store before it inspects
         * the WAL: a checkpoint published later could have barriers past what the inspection saw.
         */
        static ListedStore now(CheckpointStore store) throws IOException {
            return new ListedStore(store, store.listCheckpoints());
        }

        /** The store as if checkpoint {@code id} were its only one. */
        static ListedStore only(CheckpointStore store, long id) throws IOException {
            if (!store.listCheckpoints().contains(id)) {
                throw new CliException("the store " + store + " has no checkpoint " + id);
            }
            return new ListedStore(store, List.of(id));
        }

        @Override
        public List<Long> listCheckpoints() {
            return ids;
        }

        @Override
        public Optional<CheckpointManifest> readManifest(long checkpointId) throws IOException {
            return store.readManifest(checkpointId);
        }

        @Override
        public InputStream openFile(String path) throws IOException {
            return store.openFile(path);
        }

        @Override
        public Optional<Long> fileSize(String path) throws IOException {
            return store.fileSize(path);
        }

        @Override
        public List<String> listFiles() throws IOException {
            return store.listFiles();
        }

        @Override
        public StateFileRef writeFile(String path, ContentWriter content) {
            throw new UnsupportedOperationException("read-only");
        }

        @Override
        public void deleteFile(String path) {
            throw new UnsupportedOperationException("read-only");
        }

        @Override
        public void publishManifest(CheckpointManifest manifest) {
            throw new UnsupportedOperationException("read-only");
        }

        @Override
        public void deleteManifest(long checkpointId) {
            throw new UnsupportedOperationException("read-only");
        }

        @Override
        public long claimOwnership() {
            throw new UnsupportedOperationException("read-only");
        }

        @Override
        public java.util.Map<Long, Long> ownerFences() throws IOException {
            return store.ownerFences();
        }

        @Override
        public long newestOwnerEpoch() throws IOException {
            return store.newestOwnerEpoch();
        }

        @Override
        public long ownerEpoch() {
            return -1;
        }

        @Override
        public String toString() {
            return store.toString();
        }
    }
}

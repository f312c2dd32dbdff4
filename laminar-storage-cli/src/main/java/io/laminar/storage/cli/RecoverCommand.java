package io.laminar.storage.cli;

import io.laminar.storage.StorageException;
import io.laminar.storage.checkpoint.RecoveredState;
import io.laminar.storage.checkpoint.RecoveryManager;
import io.laminar.storage.percore.PerCoreWalView;
import io.laminar.storage.store.CheckpointStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code laminar recover --dry-run}: the library's own recovery ({@link RecoveryManager#dryRun}) over
 * a read-only view of the WAL ({@link PerCoreWalView#inspect}) and a read-only store. Changes nothing.
 */
@Command(name = "recover", mixinStandardHelpOptions = true,
        description = {"Show what recovery would do now, without doing it (--dry-run): the checkpoint it would "
                + "restore, the checkpoints it would skip and why, the WAL records it would replay per core, and whether "
                + "it would adopt the checkpoint (a WAL with no history of its own, e.g. a new machine's).",
                "It runs the library's RecoveryManager itself in a dry-run mode, so it decides exactly as the next "
                        + "start would. It changes nothing: it never takes the WAL lock, never repairs, never writes "
                        + "to the WAL or the store, so it is safe beside a running application.",
                StoreOptions.HELP, PlacementOptions.HELP},
        footer = {"", "Examples:",
                "  laminar recover --dry-run --dir /var/lib/orders/wal --store /var/lib/orders/checkpoints",
                "  laminar recover --dry-run --dir /var/lib/orders --store s3://my-checkpoints/orders/ --json",
                "", "Exit codes: 0 recovery would succeed and skip nothing, 1 it would skip a checkpoint or fail "
                + "(the reason is printed), 2 usage or access error."})
final class RecoverCommand implements Callable<Integer> {

    @Option(names = "--dry-run", required = true,
            description = "Only show what recovery would do (required: the application itself recovers at start).")
    boolean dryRun;
    @Option(names = "--dir", required = true, paramLabel = "DIR",
            description = "The WAL directory (<laminar.storage.dir>/wal; the data directory works too).")
    Path dir;
    @Option(names = "--store", required = true, paramLabel = "STORE", description = "The checkpoint store.")
    String store;
    @Mixin
    StoreOptions options;
    @Mixin
    PlacementOptions placement;
    @Mixin
    OutputOptions output;

    @Override
    public Integer call() throws IOException {
        return options.read(store, output.out(), (s, out) -> {
            RecoveredState recovered;
            try {
                var listed = StateCommand.ListedStore.now(s); // before the WAL is inspected
                var wal = WalDirectory.view(dir, () -> coresOfNewest(listed));
                recovered = RecoveryManager.dryRun(wal, listed, placement.placement()).recover();
            } catch (StorageException e) {
                if (output.json) {
                    Output.printJson(out, Map.of("wouldFail", true, "error", e.getMessage()));
                } else {
                    out.println("recovery would fail: " + e.getMessage());
                }
                return LaminarCli.EXIT_DAMAGE;
            }
            var report = recovered.report();
            var keys = new ArrayList<Long>();
            recovered.coreStates().forEach(state -> keys.add(state.size()));
            if (output.json) {
                var j = new LinkedHashMap<String, Object>();
                j.put("wouldFail", false);
                j.put("checkpointId", report.checkpointId());
                j.put("epoch", recovered.epoch());
                j.put("adopt", report.adoptedCheckpoint());
                var skipped = new ArrayList<Map<String, Object>>();
                report.skipped().forEach(k -> skipped.add(Map.of("checkpointId", k.checkpointId(), "reason", k.reason())));
                j.put("skipped", skipped);
                j.put("walPositions", recovered.checkpoint() == null ? null : recovered.checkpoint().walPositions());
                j.put("recordsReplayed", report.recordsReplayed());
                j.put("recordsReplayedPerCore", report.recordsReplayedPerCore());
                j.put("bytesReplayed", report.bytesReplayed());
                j.put("keysPerCore", keys);
                Output.printJson(out, j);
            } else {
                out.println("Dry run: nothing was changed.");
                if (report.checkpointId() == null) {
                    out.println("would restore no checkpoint: the state would be rebuilt from the WAL alone");
                } else {
                    out.printf("would restore checkpoint %d (epoch %d)%s%n", report.checkpointId(), recovered.epoch(),
                            report.adoptedCheckpoint() ? " and ADOPT it: the WAL has no history of its own, so it would "
                                    + "continue from the checkpoint's positions, replay nothing, and sources would "
                                    + "resume from the checkpoint's offsets" : "");
                }
                for (var k : report.skipped()) {
                    out.printf("would skip checkpoint %d: %s%n", k.checkpointId(), k.reason());
                }
                out.printf("would replay %d WAL records (%s)%n", report.recordsReplayed(),
                        Output.bytes(report.bytesReplayed()));
                for (int core = 0; core < report.recordsReplayedPerCore().size(); core++) {
                    out.printf("  core %d: %d records replayed%s, %d keys after recovery%n", core,
                            report.recordsReplayedPerCore().get(core),
                            recovered.checkpoint() == null ? ""
                                    : " from position " + recovered.checkpoint().walPositions().get(core),
                            keys.get(core));
                }
            }
            return report.skipped().isEmpty() ? LaminarCli.EXIT_CLEAN : LaminarCli.EXIT_DAMAGE;
        });
    }

    /** For a WAL directory with no log yet: as many cores as the newest readable checkpoint has. */
    static int coresOfNewest(CheckpointStore store) {
        return CheckpointCommand.newestReadable(store).map(m -> m.walPositions().size())
                .orElseThrow(() -> new CliException("the WAL directory holds no log and the store " + store
                        + " no readable checkpoint: there is nothing to recover"));
    }
}

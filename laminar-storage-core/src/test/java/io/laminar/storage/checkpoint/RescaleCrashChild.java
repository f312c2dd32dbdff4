package io.laminar.storage.checkpoint;

import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.file.Path;

/**
 * The child process of {@link RescaleCrashTest}: opens a per-core WAL directory with another number
 * of cores, which rescales it, and exits 0. Prints {@code ready} first, so the parent can kill it
 * (SIGKILL) while it rescales; with a step name as fourth argument it halts itself there
 * ({@link Runtime#halt}: no shutdown hook, no flush, as SIGKILL).
 *
 * <p>Arguments: WAL directory, checkpoint directory, cores, [step].
 */
public final class RescaleCrashChild {

    static final int HALTED = 77;
    static final int KEY_GROUPS = 32;

    private RescaleCrashChild() {
    }

    static PerCoreWalOptions options(int cores) {
        return PerCoreWalOptions.builder().cores(cores).keyGroups(KEY_GROUPS).maxEntrySize(4096)
                .wal(w -> w.segmentSize(1 << 20).writeBufferSize(1 << 20)).build();
    }

    public static void main(String[] args) throws Exception {
        var walDir = Path.of(args[0]);
        var storeDir = Path.of(args[1]);
        int cores = Integer.parseInt(args[2]);
        var haltAt = args.length > 3 ? Rescaler.Step.valueOf(args[3]) : null;
        try (var store = FileSystemCheckpointStore.open(storeDir)) {
            System.out.println("ready");
            System.out.flush();
            var opened = Rescaler.open(walDir, options(cores), store, StatePlacement.BY_STORE_KEY, step -> {
                if (step == haltAt) {
                    Runtime.getRuntime().halt(HALTED);
                }
            });
            opened.wal().close();
        }
        System.out.println("done");
        System.exit(0);
    }
}

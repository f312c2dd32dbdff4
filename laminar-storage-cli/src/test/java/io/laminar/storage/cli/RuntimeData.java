package io.laminar.storage.cli;

import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Produces WAL directories and checkpoint stores with the real runtime. */
final class RuntimeData {

    static final int CORES = 2;

    private RuntimeData() {
    }

    static PerCoreWalManager openWal(Path walDir) {
        return PerCoreWalManager.open(walDir, PerCoreWalOptions.builder().cores(CORES).maxEntrySize(16 * 1024)
                .wal(w -> w.segmentSize(256 * 1024)).build());
    }

    /**
     * Runs a runtime over {@code dir/wal} and {@code store}: puts {@code key-<i>} = {@code value-<i>-<round>}
     * for every round, a checkpoint after each of the first {@code checkpoints} rounds, then closes
     * without a final checkpoint (so the WAL holds records after the last checkpoint).
     */
    static void run(Path walDir, CheckpointStore store, int rounds, int checkpoints, int keys) throws Exception {
        try (var wal = openWal(walDir)) {
            var runtime = LaminarRuntime.builder(wal, store).finalCheckpointOnClose(false).build();
            runtime.start();
            try {
                for (int round = 0; round < rounds; round++) {
                    for (int i = 0; i < keys; i++) {
                        var key = ("key-" + i).getBytes(StandardCharsets.UTF_8);
                        var value = ("value-" + i + "-" + round).getBytes(StandardCharsets.UTF_8);
                        runtime.submitDurable(runtime.coreOf(key), c -> {
                            c.store().put(key, value);
                            return null;
                        }).get(10, TimeUnit.SECONDS);
                    }
                    if (round < checkpoints) {
                        runtime.triggerCheckpoint().get(30, TimeUnit.SECONDS);
                    }
                }
            } finally {
                runtime.close();
            }
        }
    }

    /** Copies the tree {@code from} to {@code to} (which must not exist yet) and returns {@code to}. */
    static Path copyTree(Path from, Path to) throws IOException {
        try (var files = Files.walk(from)) {
            for (var file : files.toList()) {
                var target = to.resolve(from.relativize(file).toString());
                if (Files.isDirectory(file)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(file, target);
                }
            }
        }
        return to;
    }

    static void run(Path dir, int rounds, int checkpoints, int keys) throws Exception {
        try (var store = FileSystemCheckpointStore.open(dir.resolve("checkpoints"))) {
            run(dir.resolve("wal"), store, rounds, checkpoints, keys);
        }
    }
}

package io.laminar.storage.crash;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.KeyGroups;
import io.laminar.storage.checkpoint.RecoveryManager;
import io.laminar.storage.checkpoint.Rescaler;
import io.laminar.storage.checkpoint.StatePlacement;
import io.laminar.storage.io.FileIO;
import io.laminar.storage.io.PowerLossFileIO;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/**
 * A rescale under power cuts: a runtime on {@value #FROM} cores writes keys (a checkpoint among
 * them) and closes; then the directory is opened with {@value #TO} cores, which rescales it. Every
 * crash image is opened with {@value #CHECK} cores (finishing or undoing an interrupted rescale, then
 * rescaling again) and recovered as a runtime's start does. Once the first life closed (note {@code Written}),
 * each image must hold exactly the model, every key on the core that owns it: a cut anywhere in the
 * rescale leaves the old layout or the new one, never a mix and never a loss. Cuts in the first life
 * are not checked here (they are {@link RuntimePowerLossWorkload}'s, and each check costs a rescale).
 */
final class RescalePowerLossWorkload implements PowerLossExplorer.Workload {

    static final int FROM = 3;
    static final int TO = 2;
    static final int CHECK = 4;
    private static final int KEY_GROUPS = 16;
    private static final int OPERATIONS = 120;

    record Written() {
    }

    record Rescaled() {
    }

    @Override
    public String name() {
        return "rescale";
    }

    static PerCoreWalOptions walOptions(int cores, FileIO io) {
        return PerCoreWalOptions.builder().cores(cores).keyGroups(KEY_GROUPS).maxEntrySize(1024)
                .wal(w -> w.segmentSize(64 * 1024).writeBufferSize(128 * 1024).fileIO(io)).build();
    }

    /** Operation {@code i}: a key and its new value, or null for a deletion. */
    private static Map.Entry<String, String> operation(long seed, int i) {
        var random = new Random(seed * 1_000_003L + i);
        var key = "k" + random.nextInt(40);
        return Map.entry(key, random.nextInt(6) == 0 ? "" : key + "=" + random.nextLong());
    }

    @Override
    public void run(PowerLossFileIO io, Path root, long seed) throws Exception {
        try (var store = FileSystemCheckpointStore.open(root.resolve("checkpoints"), io)) {
            var opened = Rescaler.open(root.resolve("wal"), walOptions(FROM, io), store, StatePlacement.BY_STORE_KEY);
            try (var wal = opened.wal()) {
                var runtime = LaminarRuntime.builder(wal, store).build();
                try {
                    runtime.start();
                    var pending = new ArrayList<CompletableFuture<?>>();
                    for (int i = 0; i < OPERATIONS; i++) {
                        var op = operation(seed, i);
                        var key = op.getKey().getBytes(StandardCharsets.UTF_8);
                        var value = op.getValue().getBytes(StandardCharsets.UTF_8);
                        pending.add(runtime.submitDurable(runtime.coreOf(key), c -> {
                            if (value.length == 0) {
                                c.store().delete(key);
                            } else {
                                c.store().put(key, value);
                            }
                            return null;
                        }));
                        if (i == OPERATIONS / 2) {
                            CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).join();
                            runtime.triggerCheckpoint().join();
                        }
                    }
                    CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).join();
                } finally {
                    runtime.close();
                }
            }
        }
        io.mark(new Written());
        try (var store = FileSystemCheckpointStore.open(root.resolve("checkpoints"), io)) {
            var opened = Rescaler.open(root.resolve("wal"), walOptions(TO, io), store, StatePlacement.BY_STORE_KEY);
            assertThat(opened.rescale()).as("rescaled from %d to %d cores", FROM, TO).isPresent();
            opened.wal().close();
        }
        io.mark(new Rescaled());
    }

    @Override
    public PowerLossExplorer.Checker checker(long seed) {
        var model = new TreeMap<String, String>();
        for (int i = 0; i < OPERATIONS; i++) {
            var op = operation(seed, i);
            if (op.getValue().isEmpty()) {
                model.remove(op.getKey());
            } else {
                model.put(op.getKey(), op.getValue());
            }
        }
        return new PowerLossExplorer.Checker() {
            boolean written;

            @Override
            public void onMark(Object note) {
                if (note instanceof Written) {
                    written = true;
                }
            }

            @Override
            public void check(Path root) throws Exception {
                if (!written) {
                    return; // a cut in the first life: RuntimePowerLossWorkload's business, and costly here
                }
                var held = new TreeMap<String, String>();
                try (var store = FileSystemCheckpointStore.open(root.resolve("checkpoints"), NoSyncFileIO.INSTANCE)) {
                    var opened = Rescaler.open(root.resolve("wal"), walOptions(CHECK, NoSyncFileIO.INSTANCE), store,
                            StatePlacement.BY_STORE_KEY);
                    try (var wal = opened.wal()) {
                        // What a runtime's start recovers, without starting its threads.
                        var recovered = new RecoveryManager(wal, store).recover();
                        for (int core = 0; core < CHECK; core++) {
                            for (var entry : recovered.coreStates().get(core)) {
                                var key = new String(entry.key(), StandardCharsets.UTF_8);
                                assertThat(KeyGroups.coreOf(entry.key(), KEY_GROUPS, CHECK))
                                        .as("the core holding %s", key).isEqualTo(core);
                                held.put(key, new String(entry.value(), StandardCharsets.UTF_8));
                            }
                        }
                    }
                }
                assertThat(held).as("after the first life closed: exactly the model").isEqualTo(model);
            }
        };
    }

}

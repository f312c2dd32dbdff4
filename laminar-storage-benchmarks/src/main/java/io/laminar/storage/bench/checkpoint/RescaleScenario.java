package io.laminar.storage.bench.checkpoint;

import io.laminar.storage.KeyGroups;
import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.checkpoint.RecoveryManager;
import io.laminar.storage.checkpoint.Rescaler;
import io.laminar.storage.checkpoint.StatePlacement;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code rescale}: the state and WAL of {@code restore} (written with {@value CheckpointFixture#CORES}
 * cores), copied three times; then, timed, in the same run: the plain restore with
 * {@value CheckpointFixture#CORES} cores (as {@code restore}), and a rescaling restore of a copy with
 * 1 and with 4 cores ({@link Rescaler#open}, which recovers the old layout (reads every old state file
 * once and the old WAL tail), regroups the entries into the new cores' stores by key group, writes a
 * checkpoint that references the old state files by key-group range plus one DELTA per new core of
 * what the WAL tail changed, and switches the WAL layout; a runtime then starts from the regrouped
 * state it hands over, without reading that checkpoint back). State files are per core and in key
 * order, so the whole old state is read.
 *
 * <p>The fixture puts the keys of core {@code c} under {@code key(c, i)}; the placement here gives
 * such a key a key group in core {@code c}'s range among {@value CheckpointFixture#CORES} cores
 * (spread by the key's hash), so the old layout is consistent and a rescale splits or merges ranges
 * as it would for keys routed by {@code coreOf}.
 */
public final class RescaleScenario implements Scenario {

    public static final String NAME = "rescale";

    private static final StatePlacement FIXTURE_PLACEMENT = (key, keyGroups) -> {
        var range = KeyGroups.rangeOf(key[0], keyGroups, CheckpointFixture.CORES);
        return range.first() + Math.floorMod(Arrays.hashCode(key), range.size());
    };

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        var s = CheckpointSettings.forRun(context.settings().quick());
        var dir = context.newDirectory(NAME, s.quietDiskWaitMillis());
        try {
            long entriesPerCore;
            long stateBytes;
            long puts = s.walBytes() / CheckpointFixture.CORES / (CheckpointFixture.KEY_BYTES + CheckpointFixture.VALUE_BYTES);
            var original = dir.resolve("written");
            try (var fixture = new CheckpointFixture(original, s.stateBytes(), 0)) {
                entriesPerCore = fixture.entriesPerCore;
                stateBytes = fixture.checkpoint().manifest().stateBytes();
                fixture.overwriteRandomKeys(puts, 7);
            }
            var rows = new ArrayList<Result>();
            double plainSeconds = Double.NaN;
            for (int cores : new int[] {CheckpointFixture.CORES, 1, 4}) {
                var copy = dir.resolve("copy-" + cores);
                copyTree(original, copy);
                System.gc();
                BenchContext.awaitQuietDisk(s.quietDiskWaitMillis());
                var options = PerCoreWalOptions.builder().cores(cores).build();
                long start = System.nanoTime();
                io.laminar.storage.checkpoint.RecoveredState recovered;
                io.laminar.storage.checkpoint.RescaleReport rescale = null;
                try (var store = FileSystemCheckpointStore.open(copy.resolve("checkpoints"))) {
                    if (cores == CheckpointFixture.CORES) {
                        try (var wal = PerCoreWalManager.open(copy.resolve("wal"), options)) {
                            recovered = new RecoveryManager(wal, store).recover();
                        }
                    } else {
                        // What a start does: the rescale hands the moved state to the runtime
                        // (LaminarRuntime.Builder.recovered), which does not read it back.
                        var opened = Rescaler.open(copy.resolve("wal"), options, store, FIXTURE_PLACEMENT);
                        opened.wal().close();
                        recovered = opened.recovered().orElseThrow();
                        rescale = recovered.report().rescale();
                    }
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                long entries = recovered.coreStates().stream().mapToLong(state -> state.size()).sum();
                boolean complete = entries == entriesPerCore * CheckpointFixture.CORES;
                if (cores == CheckpointFixture.CORES) {
                    plainSeconds = seconds;
                }
                long read = rescale == null ? stateBytes + recovered.report().bytesReplayed() : rescale.bytesRead();
                var row = new Result(NAME, cores == CheckpointFixture.CORES ? "plain" : "to-" + cores, cores,
                        CheckpointFixture.VALUE_BYTES)
                        .bytesPerSecond(read, seconds)
                        .extra("seconds", Result.round(seconds, 3))
                        .extra("stateBytes", stateBytes)
                        .extra("vsPlain", Result.round(seconds / plainSeconds, 2))
                        .extra("entries", entries)
                        .extra("complete", complete);
                if (rescale != null) {
                    row.extra("keyGroupsMoved", rescale.keyGroupsMoved())
                            .extra("rescaleMillis", rescale.duration().toMillis())
                            .extra("walBytesReplayed", rescale.walBytesRead())
                            .extra("rescaleBytesWritten", recovered.checkpoint().writtenBytes());
                } else {
                    row.extra("walBytesReplayed", recovered.report().bytesReplayed());
                }
                recovered = null;
                rows.add(row);
                BenchContext.deleteTree(copy);
            }
            return rows;
        } finally {
            BenchContext.deleteTree(dir);
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (var paths = Files.walk(from)) {
            for (var path : paths.toList()) {
                var target = to.resolve(from.relativize(path).toString());
                if (Files.isDirectory(path)) {
                    Files.createDirectories(target);
                } else if (!path.getFileName().toString().endsWith(".lock")) {
                    Files.copy(path, target);
                }
            }
        }
    }
}

package io.laminar.storage.bench.checkpoint;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.checkpoint.RecoveryManager;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.util.List;

/**
 * {@code restore}: a FULL checkpoint of the state, then {@code walBytes} of key + value bytes of
 * overwrites of random existing keys from the core threads (made durable in the WAL), then
 * everything is closed and dropped. Timed: what a new process does, a new
 * {@link PerCoreWalManager#open} and {@link FileSystemCheckpointStore#open} over the same directories
 * and {@link RecoveryManager#recover()} (verify every state file's CRC32C, load the chains, replay
 * the WAL from the checkpoint's barriers).
 *
 * <p>The files were just written, so they are read from the page cache, not the disk: the suite
 * does not drop the OS cache (that needs root and would disturb other work on the machine). This is
 * the CPU side of recovery; a cold read adds the disk's read time.
 */
public final class RestoreScenario implements Scenario {

    public static final String NAME = "restore";

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
            try (var fixture = new CheckpointFixture(dir, s.stateBytes(), 0)) {
                entriesPerCore = fixture.entriesPerCore;
                stateBytes = fixture.checkpoint().manifest().stateBytes();
                fixture.overwriteRandomKeys(puts, 7);
            }
            // A new process would not hold the old state: let it go before measuring.
            System.gc();
            BenchContext.awaitQuietDisk(s.quietDiskWaitMillis());

            long start = System.nanoTime();
            long opened;
            io.laminar.storage.checkpoint.RecoveredState recovered;
            try (var wal = PerCoreWalManager.open(dir.resolve("wal"),
                    PerCoreWalOptions.builder().cores(CheckpointFixture.CORES).build())) {
                var store = FileSystemCheckpointStore.open(dir.resolve("checkpoints"));
                opened = System.nanoTime();
                recovered = new RecoveryManager(wal, store).recover();
            }
            long end = System.nanoTime();
            double seconds = (end - start) / 1e9;
            var report = recovered.report();
            long entries = 0;
            boolean complete = report.checkpointId() != null;
            for (var state : recovered.coreStates()) {
                entries += state.size();
                complete &= state.size() == entriesPerCore;
            }
            long read = stateBytes + report.bytesReplayed();
            var row = new Result(NAME, "laminar", CheckpointFixture.CORES, CheckpointFixture.VALUE_BYTES)
                    .recordsPerSecond(report.recordsReplayed(), seconds)
                    .bytesPerSecond(read, seconds)
                    .extra("seconds", Result.round(seconds, 3))
                    .extra("stateBytes", stateBytes)
                    .extra("walBytesReplayed", report.bytesReplayed())
                    .extra("recordsReplayed", report.recordsReplayed())
                    .extra("openMillis", Result.round((opened - start) / 1e6, 1))
                    .extra("recoverMillis", report.duration().toMillis())
                    .extra("entries", entries)
                    .extra("complete", complete)
                    .extra("checkpointsSkipped", report.skipped().size());
            recovered = null;
            return List.of(row);
        } finally {
            BenchContext.deleteTree(dir);
        }
    }
}

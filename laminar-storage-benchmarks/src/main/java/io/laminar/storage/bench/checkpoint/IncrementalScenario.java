package io.laminar.storage.bench.checkpoint;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import java.util.List;

/**
 * {@code incremental-1pct}: a first (FULL) checkpoint of the state, then 1 % of each core's keys
 * (a random sample, each key once) overwritten with new 1 KiB values from the core threads, then a
 * second checkpoint, which writes a DELTA per core (library defaults: {@code maxDeltas} 10,
 * {@code maxDeltaFraction} 0.5). The row is the second checkpoint: {@code bytesWritten} against
 * {@code fullBytes}, what the first one wrote.
 */
public final class IncrementalScenario implements Scenario {

    public static final String NAME = "incremental-1pct";
    static final double FRACTION = 0.01;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        var s = CheckpointSettings.forRun(context.settings().quick());
        var dir = context.newDirectory(NAME, s.quietDiskWaitMillis());
        try (var fixture = new CheckpointFixture(dir, s.stateBytes(), 10)) {
            var full = fixture.checkpoint();
            long changed = fixture.changeFraction(FRACTION, 42);
            BenchContext.awaitQuietDisk(s.quietDiskWaitMillis());
            var delta = fixture.checkpoint();
            long fullBytes = full.manifest().writtenBytes();
            long written = delta.manifest().writtenBytes();
            boolean isDelta = delta.manifest().parentCheckpointId() != null;
            return List.of(new Result(NAME, "laminar", CheckpointFixture.CORES, CheckpointFixture.VALUE_BYTES)
                    .recordsPerSecond(changed, delta.seconds())
                    .bytesPerSecond(written, delta.seconds())
                    .extra("seconds", Result.round(delta.seconds(), 3))
                    .extra("bytesWritten", written)
                    .extra("stateBytes", delta.manifest().stateBytes())
                    .extra("fullBytes", fullBytes)
                    .extra("fullSeconds", Result.round(full.seconds(), 3))
                    .extra("writtenFraction", Result.round((double) written / fullBytes, 5))
                    .extra("keysChanged", changed)
                    .extra("entries", fixture.entriesPerCore * CheckpointFixture.CORES)
                    .extra("delta", isDelta)
                    .extra("stateFilesSeconds", Result.round(delta.filesSeconds(), 3))
                    .extra("files", delta.manifest().files().size()));
        } finally {
            BenchContext.deleteTree(dir);
        }
    }
}

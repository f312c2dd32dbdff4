package io.laminar.storage.bench.checkpoint;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * {@code full}: a FULL checkpoint ({@code maxDeltas(0)}) of the whole state of {@value CheckpointFixture#CORES}
 * cores, timed from {@code triggerCheckpoint()} until its future completes (cut, state files,
 * manifest, retention of the previous round's checkpoint, WAL truncation), system {@code laminar};
 * beside it, system {@code raw}: the same number of bytes, in one file per core of the same sizes,
 * written with a {@link FileChannel} (1 MiB writes), {@code force(true)}, renamed to the final
 * name and the directory forced, on the same disk. After one unmeasured warm-up checkpoint, rounds
 * alternate the two; the median is kept.
 */
public final class FullScenario implements Scenario {

    public static final String NAME = "full";
    private static final int RAW_CHUNK = 1 << 20;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        var s = CheckpointSettings.forRun(context.settings().quick());
        var dir = context.newDirectory(NAME, s.quietDiskWaitMillis());
        var laminar = new ArrayList<Result>();
        var raw = new ArrayList<Result>();
        try (var fixture = new CheckpointFixture(dir.resolve("laminar"), s.stateBytes(), 0)) {
            long fileBytes = CheckpointFixture.fullFileBytes(fixture.entriesPerCore);
            var rawDir = Files.createDirectories(dir.resolve("raw"));
            // Unmeasured: the process's first checkpoint also pays for class loading and the JIT.
            double cold = fixture.checkpoint().seconds();
            for (int round = 0; round < s.fullRounds(); round++) {
                for (int k = 0; k < 2; k++) {
                    BenchContext.awaitQuietDisk(s.quietDiskWaitMillis());
                    if ((k + round) % 2 == 0) {
                        laminar.add(laminar(fixture, s).extra("coldSeconds", Result.round(cold, 3)));
                    } else {
                        raw.add(raw(rawDir, round, fileBytes, s));
                    }
                }
            }
        } finally {
            BenchContext.deleteTree(dir);
        }
        var l = Result.median(laminar, x -> ((Number) x.extra("seconds")).doubleValue(), "runsSeconds");
        var r = Result.median(raw, x -> ((Number) x.extra("seconds")).doubleValue(), "runsSeconds");
        double ratio = ((Number) r.extra("seconds")).doubleValue() / ((Number) l.extra("seconds")).doubleValue();
        l.extra("vsRaw", Result.round(ratio, 3));
        return List.of(l, r);
    }

    private static Result laminar(CheckpointFixture fixture, CheckpointSettings s) {
        var t = fixture.checkpoint();
        long written = t.manifest().writtenBytes();
        return new Result(NAME, "laminar", CheckpointFixture.CORES, CheckpointFixture.VALUE_BYTES)
                .recordsPerSecond(fixture.entriesPerCore * CheckpointFixture.CORES, t.seconds())
                .bytesPerSecond(written, t.seconds())
                .extra("seconds", Result.round(t.seconds(), 3))
                .extra("bytesWritten", written)
                .extra("stateBytes", t.manifest().stateBytes())
                .extra("entries", fixture.entriesPerCore * CheckpointFixture.CORES)
                .extra("keyBytes", CheckpointFixture.KEY_BYTES)
                .extra("cutSeconds", Result.round(t.cutSeconds(), 3))
                .extra("stateFilesSeconds", Result.round(t.filesSeconds(), 3))
                .extra("publishedSeconds", Result.round(t.publishSeconds(), 3))
                .extra("files", t.manifest().files().size());
    }

    /** One file per core of {@code fileBytes}: write, force(true), rename, force the directory. */
    private static Result raw(Path dir, int round, long fileBytes, CheckpointSettings s) throws IOException {
        var buffer = ByteBuffer.allocateDirect(RAW_CHUNK);
        var bytes = new byte[RAW_CHUNK];
        CheckpointFixture.fill(new SplittableRandom(round), bytes);
        buffer.put(bytes).flip();
        var finals = new ArrayList<Path>();
        long start = System.nanoTime();
        for (int core = 0; core < CheckpointFixture.CORES; core++) {
            var temp = dir.resolve(String.format(".core-%d-%d.tmp", core, round));
            try (var channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                for (long left = fileBytes; left > 0; ) {
                    int n = (int) Math.min(left, RAW_CHUNK);
                    buffer.clear().limit(n);
                    while (buffer.hasRemaining()) {
                        channel.write(buffer);
                    }
                    left -= n;
                }
                channel.force(true);
            }
            var target = dir.resolve(String.format("core-%d-%d.lsf", core, round));
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
            try (var d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true);
            }
            finals.add(target);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        for (var f : finals) {
            Files.deleteIfExists(f);
        }
        long written = fileBytes * CheckpointFixture.CORES;
        return new Result(NAME, "raw", CheckpointFixture.CORES, CheckpointFixture.VALUE_BYTES)
                .bytesPerSecond(written, seconds)
                .extra("seconds", Result.round(seconds, 3))
                .extra("bytesWritten", written)
                .extra("stateBytes", written);
    }
}

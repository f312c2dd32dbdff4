package io.laminar.storage.bench.s3;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.bench.checkpoint.CheckpointFixture;
import io.laminar.storage.bench.checkpoint.MapKey;
import io.laminar.storage.checkpoint.RecoveryManager;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.StateFileRef;
import io.laminar.storage.store.s3.S3CheckpointStore;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * {@code restore}: one FULL checkpoint of the state is uploaded into an {@link S3CheckpointStore};
 * then, timed, what a new machine with an empty data directory does: open a new
 * {@link PerCoreWalManager}, and {@link RecoveryManager#recover()} with the S3 store (check every
 * state file's size, load the chains while verifying their CRC32C, and let the new WAL adopt the checkpoint): system
 * {@code laminar}. Beside it, system {@code raw}: plain GETs of the same objects, read to the end,
 * one after the other. And system {@code raw-inserts}: the floor of building the state in memory
 * from those GETs, the same GETs with as many inserts into a pre-sized {@link HashMap} as the
 * checkpoint has entries (each a new key array and a new value array copied out of the bytes that
 * arrived, as the {@code checkpoint} suite's {@code raw} restore does: no format, no checksum, no
 * order, no index, no WAL). Rounds rotate the three, each laminar round into a new directory; the
 * median is kept. Recovery reads each state file once (parsed as its CRC32C is checked, into a
 * state used only once every file verified), so it transfers the same bytes that {@code raw} does.
 */
public final class RestoreScenario implements Scenario {

    public static final String NAME = "restore";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        var s = S3Settings.forRun(context.settings().quick());
        var dir = context.newDirectory(NAME);
        var laminar = new ArrayList<Result>();
        var raw = new ArrayList<Result>();
        var rawInserts = new ArrayList<Result>();
        try (var server = new S3Server(dir);
             var store = S3CheckpointStore.builder(server.client, S3Server.BUCKET).prefix("laminar").build()) {
            CheckpointManifest manifest;
            long entriesPerCore;
            try (var fixture = new CheckpointFixture(dir.resolve("machine-a"), s.stateBytes(), 0, store)) {
                manifest = fixture.checkpoint().manifest();
                entriesPerCore = fixture.entriesPerCore;
            }
            var keys = server.client.listObjectsV2Paginator(b -> b.bucket(S3Server.BUCKET).prefix("laminar/state/"))
                    .contents().stream().map(S3Object::key).toList();
            long bytes = manifest.files().stream().mapToLong(StateFileRef::size).sum();
            for (int round = 0; round < s.rounds(); round++) {
                for (int k = 0; k < 3; k++) {
                    // A new machine would not hold the old state: let it go before measuring.
                    System.gc();
                    BenchContext.awaitQuietDisk();
                    int which = (k + round) % 3;
                    long cpu = S3Server.processCpuNanos();
                    long serverCpu = S3Server.serverCpuNanos();
                    Result row;
                    if (which == 0) {
                        row = laminar(dir.resolve("machine-" + round + "/wal"), store, manifest, bytes, entriesPerCore);
                        laminar.add(row);
                    } else if (which == 1) {
                        row = raw(server.client, keys, bytes);
                        raw.add(row);
                    } else {
                        row = rawInserts(server.client, keys, bytes, entriesPerCore * CheckpointFixture.CORES);
                        rawInserts.add(row);
                    }
                    // Client, server and the state building share the process: its CPU time tells the work.
                    row.extra("cpuSeconds", Result.round((S3Server.processCpuNanos() - cpu) / 1e9, 2));
                    row.extra("serverCpuSeconds", Result.round((S3Server.serverCpuNanos() - serverCpu) / 1e9, 2));
                }
            }
        } finally {
            BenchContext.deleteTree(dir);
        }
        var l = Result.median(laminar, x -> ((Number) x.extra("seconds")).doubleValue(), "runsSeconds");
        var r = Result.median(raw, x -> ((Number) x.extra("seconds")).doubleValue(), "runsSeconds");
        var ri = Result.median(rawInserts, x -> ((Number) x.extra("seconds")).doubleValue(), "runsSeconds");
        double ratio = ((Number) r.extra("seconds")).doubleValue() / ((Number) l.extra("seconds")).doubleValue();
        l.extra("vsRaw", Result.round(ratio, 3));
        l.extra("vsRawInserts", Result.round(((Number) ri.extra("seconds")).doubleValue()
                / ((Number) l.extra("seconds")).doubleValue(), 3));
        ri.extra("vsRaw", Result.round(((Number) r.extra("seconds")).doubleValue()
                / ((Number) ri.extra("seconds")).doubleValue(), 3));
        return List.of(l, r, ri);
    }

    private static Result laminar(Path walDir, S3CheckpointStore store, CheckpointManifest manifest, long bytes,
                                  long entriesPerCore) throws Exception {
        long start = System.nanoTime();
        io.laminar.storage.checkpoint.RecoveredState recovered;
        try (var wal = PerCoreWalManager.open(walDir, PerCoreWalOptions.builder().cores(CheckpointFixture.CORES).build())) {
            recovered = new RecoveryManager(wal, store).recover();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        var report = recovered.report();
        boolean complete = Long.valueOf(manifest.checkpointId()).equals(report.checkpointId());
        long entries = 0;
        for (var state : recovered.coreStates()) {
            entries += state.size();
            complete &= state.size() == entriesPerCore;
        }
        return new Result(NAME, "laminar", CheckpointFixture.CORES, CheckpointFixture.VALUE_BYTES)
                .bytesPerSecond(bytes, seconds)
                .extra("seconds", Result.round(seconds, 3))
                .extra("bytes", bytes)
                .extra("stateBytes", manifest.stateBytes())
                .extra("recoverMillis", report.duration().toMillis())
                .extra("entries", entries)
                .extra("complete", complete)
                .extra("checkpointsSkipped", report.skipped().size());
    }

    private static Result raw(S3Client client, List<String> keys, long bytes) throws Exception {
        var buffer = new byte[1 << 20];
        long read = 0;
        long start = System.nanoTime();
        for (var key : keys) {
            try (InputStream in = client.getObject(b -> b.bucket(S3Server.BUCKET).key(key))) {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    read += n;
                }
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (read != bytes) {
            throw new IllegalStateException("raw GETs read " + read + " bytes, the checkpoint's files have " + bytes);
        }
        return new Result(NAME, "raw", CheckpointFixture.CORES, CheckpointFixture.VALUE_BYTES)
                .bytesPerSecond(read, seconds)
                .extra("seconds", Result.round(seconds, 3))
                .extra("bytes", read)
                .extra("files", keys.size());
    }

    /**
     * The GETs of {@link #raw}, with {@code entries} inserts into a pre-sized map spread evenly over
     * the bytes as they arrive: each a new 16-byte key and a new value array of the suite's value
     * size copied out of the bytes read.
     */
    private static Result rawInserts(S3Client client, List<String> keys, long bytes, long entries) throws Exception {
        var buffer = new byte[1 << 20];
        int valueBytes = CheckpointFixture.VALUE_BYTES;
        long read = 0;
        long done = 0;
        long start = System.nanoTime();
        var map = new HashMap<MapKey, byte[]>((int) Math.min(Integer.MAX_VALUE - 8, entries * 4 / 3 + 16));
        for (var key : keys) {
            try (InputStream in = client.getObject(b -> b.bucket(S3Server.BUCKET).key(key))) {
                for (int n; (n = in.readNBytes(buffer, 0, buffer.length)) > 0; ) {
                    read += n;
                    long due = read == bytes ? entries : (long) ((double) entries * read / bytes);
                    int span = Math.max(1, n - valueBytes);
                    for (; done < due; done++) {
                        var k = java.nio.ByteBuffer.allocate(16).putLong(done).putLong(~done).array();
                        int at = (int) ((done * 1031) % span);
                        var value = new byte[valueBytes];
                        System.arraycopy(buffer, at, value, 0, Math.min(valueBytes, n - at));
                        map.put(new MapKey(k), value);
                    }
                }
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (read != bytes || map.size() != entries) {
            throw new IllegalStateException("raw GETs with inserts read " + read + " bytes into " + map.size()
                    + " entries, the checkpoint's files have " + bytes + " bytes and " + entries + " entries");
        }
        return new Result(NAME, "raw-inserts", CheckpointFixture.CORES, CheckpointFixture.VALUE_BYTES)
                .bytesPerSecond(read, seconds)
                .extra("seconds", Result.round(seconds, 3))
                .extra("bytes", read)
                .extra("entries", map.size());
    }

}

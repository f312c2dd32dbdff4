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
 * order, no index, no WAL). Rounds rotate the systems, each laminar round into a new directory; the
 * median is kept. Recovery reads each state file once (parsed as its CRC32C is checked, into a
 * state used only once every file verified), so it transfers the same bytes that {@code raw} does.
 * System {@code laminar-one-get} is {@code laminar} with a store that reads each state file with one
 * GET ({@code rangesAhead(0)}) rather than in parallel ranges (the store's default).
 *
 * <p>{@code restore-limited}: the same, through a {@link ThrottledLink} that lets each connection
 * carry {@value #LIMITED_MB_PER_SECOND} MB/s from the server, as one connection to S3 does (AWS
 * quotes about 100 MB/s per request): what the ranged reads are for. Systems {@code laminar},
 * {@code laminar-one-get} and {@code raw}.
 */
public final class RestoreScenario implements Scenario {

    public static final String NAME = "restore";
    public static final String LIMITED_NAME = "restore-limited";
    public static final int LIMITED_MB_PER_SECOND = 100;
    /** Overrides the {@code laminar} system's store's {@code downloadRangeSize} (bytes). */
    static final String RANGE_SIZE_PROPERTY = "laminar.bench.s3.downloadRangeSize";
    /** Overrides the {@code laminar} system's store's {@code rangesAhead}. */
    static final String RANGES_AHEAD_PROPERTY = "laminar.bench.s3.rangesAhead";

    private final String name;
    /** Per connection, from the server; 0: no limit. */
    private final long connectionBytesPerSecond;

    private RestoreScenario(String name, long connectionBytesPerSecond) {
        this.name = name;
        this.connectionBytesPerSecond = connectionBytesPerSecond;
    }

    /** {@code restore}: straight to the server. */
    public static RestoreScenario direct() {
        return new RestoreScenario(NAME, 0);
    }

    /** {@code restore-limited}: each connection limited to {@value #LIMITED_MB_PER_SECOND} MB/s. */
    public static RestoreScenario limitedConnections() {
        return new RestoreScenario(LIMITED_NAME, LIMITED_MB_PER_SECOND * 1_000_000L);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        var s = S3Settings.forRun(context.settings().quick());
        var dir = context.newDirectory(name);
        var systems = connectionBytesPerSecond > 0 ? List.of("laminar", "laminar-one-get", "raw")
                : List.of("laminar", "laminar-one-get", "raw", "raw-inserts");
        var rows = new HashMap<String, List<Result>>();
        try (var server = new S3Server(dir);
             var link = connectionBytesPerSecond > 0 ? new ThrottledLink(server.endpoint(), connectionBytesPerSecond)
                     : null;
             var client = link != null ? S3Server.clientOf(link.endpoint()) : S3Server.clientOf(server.endpoint());
             var store = S3CheckpointStore.builder(client, S3Server.BUCKET).prefix("laminar")
                     .downloadRangeSize(Long.getLong(RANGE_SIZE_PROPERTY, S3CheckpointStore.DEFAULT_DOWNLOAD_RANGE_SIZE))
                     .rangesAhead(Integer.getInteger(RANGES_AHEAD_PROPERTY, S3CheckpointStore.DEFAULT_RANGES_AHEAD))
                     .build();
             var oneGetStore = S3CheckpointStore.builder(client, S3Server.BUCKET).prefix("laminar").rangesAhead(0)
                     .build()) {
            CheckpointManifest manifest;
            long entriesPerCore;
            // Uploaded straight to the server: the link limits only what the scenario measures.
            try (var uploading = S3CheckpointStore.builder(server.client, S3Server.BUCKET).prefix("laminar").build();
                 var fixture = new CheckpointFixture(dir.resolve("machine-a"), s.stateBytes(), 0, uploading)) {
                manifest = fixture.checkpoint().manifest();
                entriesPerCore = fixture.entriesPerCore;
            }
            var keys = server.client.listObjectsV2Paginator(b -> b.bucket(S3Server.BUCKET).prefix("laminar/state/"))
                    .contents().stream().map(S3Object::key).toList();
            long bytes = manifest.files().stream().mapToLong(StateFileRef::size).sum();
            for (int round = 0; round < s.rounds(); round++) {
                for (int k = 0; k < systems.size(); k++) {
                    // A new machine would not hold the old state: let it go before measuring.
                    System.gc();
                    BenchContext.awaitQuietDisk();
                    var system = systems.get((k + round) % systems.size());
                    long cpu = S3Server.processCpuNanos();
                    long serverCpu = S3Server.serverCpuNanos();
                    var row = switch (system) {
                        case "laminar" -> laminar(system, dir.resolve("machine-" + round + "/wal"), store, manifest,
                                bytes, entriesPerCore);
                        case "laminar-one-get" -> laminar(system, dir.resolve("machine-" + round + "-one-get/wal"),
                                oneGetStore, manifest, bytes, entriesPerCore);
                        case "raw" -> raw(client, keys, bytes);
                        default -> rawInserts(client, keys, bytes, entriesPerCore * CheckpointFixture.CORES);
                    };
                    rows.computeIfAbsent(system, x -> new ArrayList<>()).add(row);
                    // Client, server and the state building share the process: its CPU time tells the work.
                    row.extra("cpuSeconds", Result.round((S3Server.processCpuNanos() - cpu) / 1e9, 2));
                    row.extra("serverCpuSeconds", Result.round((S3Server.serverCpuNanos() - serverCpu) / 1e9, 2));
                }
            }
        } finally {
            BenchContext.deleteTree(dir);
        }
        var medians = new ArrayList<Result>();
        for (var system : systems) {
            medians.add(Result.median(rows.get(system), RestoreScenario::seconds, "runsSeconds"));
        }
        var raw = medians.get(2);
        for (var row : medians) {
            if (row != raw) {
                row.extra("vsRaw", Result.round(seconds(raw) / seconds(row), 3));
            }
            if (connectionBytesPerSecond > 0) {
                row.extra("connectionMBps", LIMITED_MB_PER_SECOND);
            }
        }
        medians.get(0).extra("vsOneGet", Result.round(seconds(medians.get(1)) / seconds(medians.get(0)), 3));
        if (medians.size() > 3) {
            for (var row : medians.subList(0, 2)) {
                row.extra("vsRawInserts", Result.round(seconds(medians.get(3)) / seconds(row), 3));
            }
        }
        return List.copyOf(medians);
    }

    private static double seconds(Result row) {
        return ((Number) row.extra("seconds")).doubleValue();
    }

    private Result laminar(String system, Path walDir, S3CheckpointStore store, CheckpointManifest manifest,
                           long bytes, long entriesPerCore) throws Exception {
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
        return new Result(name, system, CheckpointFixture.CORES, CheckpointFixture.VALUE_BYTES)
                .bytesPerSecond(bytes, seconds)
                .extra("seconds", Result.round(seconds, 3))
                .extra("bytes", bytes)
                .extra("stateBytes", manifest.stateBytes())
                .extra("recoverMillis", report.duration().toMillis())
                .extra("entries", entries)
                .extra("complete", complete)
                .extra("checkpointsSkipped", report.skipped().size());
    }

    private Result raw(S3Client client, List<String> keys, long bytes) throws Exception {
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
        return new Result(name, "raw", CheckpointFixture.CORES, CheckpointFixture.VALUE_BYTES)
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
    private Result rawInserts(S3Client client, List<String> keys, long bytes, long entries) throws Exception {
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
        return new Result(name, "raw-inserts", CheckpointFixture.CORES, CheckpointFixture.VALUE_BYTES)
                .bytesPerSecond(read, seconds)
                .extra("seconds", Result.round(seconds, 3))
                .extra("bytes", read)
                .extra("entries", map.size());
    }

}

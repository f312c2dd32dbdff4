package io.laminar.storage.bench.checkpoint;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.checkpoint.RecoveryManager;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.state.StateSnapshot;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.stream.Stream;

/**
 * {@code restore}: a FULL checkpoint of the state, then {@code walBytes} of key + value bytes of
 * overwrites of random existing keys from the core threads (made durable in the WAL), then
 * everything is closed and dropped. Timed: what a new process does, a new
 * {@link PerCoreWalManager#open} and {@link FileSystemCheckpointStore#open} over the same directories
 * and {@link RecoveryManager#recover()} (verify every state file's CRC32C, load the chains, replay
 * the WAL from the checkpoint's barriers): system {@code laminar}.
 *
 * <p>Beside it, system {@code raw}: the floor for the same work, a sequential read of the same bytes
 * (the state files, and as many bytes of each core's WAL segments as recovery replayed) with a
 * {@code FileChannel} in 1 MiB reads, and as many inserts into a pre-sized {@link HashMap} (keyed by
 * the key's bytes with a well-mixed hash) as
 * recovery applied entries (the checkpoint's entries, then one per replayed record, which overwrite),
 * each a new key and value array copied out of the bytes read: no format, no checksum, no ordering.
 *
 * <p>Both are run twice: with the suite's 1 KiB values, and with 64 B values (a quarter of the state,
 * so about four times fewer bytes but four times more entries per byte). After each, with the result
 * still held, a full GC and the heap in use give {@code heapBytesPerStateByte}: the heap the state
 * takes (for {@code laminar}, the recovered cores' state; for {@code raw}, the map) over its raw key
 * + value bytes.
 *
 * <p>The files were just written, so they are read from the page cache, not the disk: the suite
 * does not drop the OS cache (that needs root and would disturb other work on the machine). This is
 * the CPU side of recovery; a cold read adds the disk's read time.
 */
public final class RestoreScenario implements Scenario {

    public static final String NAME = "restore";
    static final int SMALL_VALUE_BYTES = 64;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        var s = CheckpointSettings.forRun(context.settings().quick());
        var rows = new ArrayList<Result>();
        rows.addAll(measure(context, s, CheckpointFixture.VALUE_BYTES, s.stateBytes(), s.walBytes()));
        rows.addAll(measure(context, s, SMALL_VALUE_BYTES, s.stateBytes() / 4, s.walBytes() / 4));
        return rows;
    }

    private static List<Result> measure(BenchContext context, CheckpointSettings s, int valueBytes, long stateSize,
                                        long walSize) throws Exception {
        var dir = context.newDirectory(NAME + "-" + valueBytes, s.quietDiskWaitMillis());
        try {
            var written = prepare(dir, stateSize, walSize, valueBytes);
            long entriesPerCore = written.entriesPerCore();
            long stateBytes = written.stateBytes();
            var stateFiles = written.stateFiles();
            // A new process would not hold the old state: let it go before measuring.
            long heapBefore = usedHeapAfterGc();
            BenchContext.awaitQuietDisk(s.quietDiskWaitMillis());

            long gcBefore = gcMillis();
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
            long gc = gcMillis() - gcBefore;
            double seconds = (end - start) / 1e9;
            var report = recovered.report();
            long entries = 0;
            boolean complete = report.checkpointId() != null;
            for (var state : recovered.coreStates()) {
                entries += state.size();
                complete &= state.size() == entriesPerCore;
            }
            // What an application keeps of a recovery: the cores' states.
            List<StateSnapshot> kept = recovered.coreStates();
            recovered = null;
            long keyValueBytes = entries * (CheckpointFixture.KEY_BYTES + valueBytes);
            long heap = usedHeapAfterGc() - heapBefore;
            long read = stateBytes + report.bytesReplayed();
            var row = new Result(NAME, "laminar", CheckpointFixture.CORES, valueBytes)
                    .recordsPerSecond(report.recordsReplayed(), seconds)
                    .bytesPerSecond(read, seconds)
                    .extra("seconds", Result.round(seconds, 3))
                    .extra("stateBytes", stateBytes)
                    .extra("walBytesReplayed", report.bytesReplayed())
                    .extra("recordsReplayed", report.recordsReplayed())
                    .extra("openMillis", Result.round((opened - start) / 1e6, 1))
                    .extra("recoverMillis", report.duration().toMillis())
                    .extra("gcMillis", gc)
                    .extra("entries", entries)
                    .extra("keyValueBytes", keyValueBytes)
                    .extra("heapBytes", heap)
                    .extra("heapBytesPerStateByte", Result.round((double) heap / keyValueBytes, 3))
                    .extra("complete", complete)
                    .extra("checkpointsSkipped", report.skipped().size());
            if (kept.size() != CheckpointFixture.CORES) {
                throw new IllegalStateException("recovered " + kept.size() + " cores");
            }
            kept = null;
            long inserts = entries + report.recordsReplayed();

            heapBefore = usedHeapAfterGc();
            BenchContext.awaitQuietDisk(s.quietDiskWaitMillis());
            var walFiles = walSegments(dir.resolve("wal"), report.bytesReplayed() / CheckpointFixture.CORES);
            gcBefore = gcMillis();
            long rawStart = System.nanoTime();
            var map = rawRestore(stateFiles, walFiles, entries, inserts, valueBytes);
            double rawSeconds = (System.nanoTime() - rawStart) / 1e9;
            long rawGc = gcMillis() - gcBefore;
            long rawHeap = usedHeapAfterGc() - heapBefore;
            var rawRow = new Result(NAME, "raw", CheckpointFixture.CORES, valueBytes)
                    .bytesPerSecond(read, rawSeconds)
                    .extra("seconds", Result.round(rawSeconds, 3))
                    .extra("stateBytes", stateBytes)
                    .extra("walBytesReplayed", report.bytesReplayed())
                    .extra("entries", (long) map.size())
                    .extra("inserts", inserts)
                    .extra("gcMillis", rawGc)
                    .extra("keyValueBytes", keyValueBytes)
                    .extra("heapBytes", rawHeap)
                    .extra("heapBytesPerStateByte", Result.round((double) rawHeap / keyValueBytes, 3));
            map = null;
            row.extra("vsRaw", Result.round(rawSeconds / seconds, 3));
            return List.of(row, rawRow);
        } finally {
            BenchContext.deleteTree(dir);
        }
    }


    /** What {@link #prepare} left on disk. */
    private record Prepared(long entriesPerCore, long stateBytes, List<Path> stateFiles) {
    }

    /**
     * The checkpoint and the WAL after it, written by a fixture that is closed and unreachable once
     * this returns (a method of its own, so that no frame of the measuring one still holds it).
     */
    private static Prepared prepare(Path dir, long stateSize, long walSize, int valueBytes) throws IOException {
        long puts = walSize / CheckpointFixture.CORES / (CheckpointFixture.KEY_BYTES + valueBytes);
        var stateFiles = new ArrayList<Path>();
        try (var fixture = new CheckpointFixture(dir, stateSize, 0, null, valueBytes)) {
            var manifest = fixture.checkpoint().manifest();
            for (var ref : manifest.files()) {
                stateFiles.add(((FileSystemCheckpointStore) fixture.store).stateFile(ref.path()));
            }
            fixture.overwriteRandomKeys(puts, 7);
            return new Prepared(fixture.entriesPerCore, manifest.stateBytes(), stateFiles);
        }
    }

    /** The time every collector of this JVM spent collecting so far (pauses, and concurrent work where counted). */
    private static long gcMillis() {
        long total = 0;
        for (var gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            total += Math.max(0, gc.getCollectionTime());
        }
        return total;
    }

    /** The heap in use after full collections (System.gc is a full GC on G1 and Parallel). */
    private static long usedHeapAfterGc() {
        var memory = ManagementFactory.getMemoryMXBean();
        System.gc();
        System.gc();
        return memory.getHeapMemoryUsage().getUsed();
    }

    /** Each core's WAL segment files in order, with how many of their bytes to read: {@code perCore} a core. */
    private static List<Slice> walSegments(Path walDir, long perCore) throws IOException {
        var slices = new ArrayList<Slice>();
        for (int core = 0; core < CheckpointFixture.CORES; core++) {
            var prefix = String.format("core-%04d-", core);
            List<Path> segments;
            try (Stream<Path> files = Files.list(walDir)) {
                segments = files.filter(p -> p.getFileName().toString().startsWith(prefix)
                        && p.getFileName().toString().endsWith(".wal")).sorted().toList();
            }
            long left = perCore;
            for (var segment : segments) {
                long n = Math.min(left, Files.size(segment));
                if (n > 0) {
                    slices.add(new Slice(segment, n));
                }
                left -= n;
            }
        }
        return slices;
    }

    private record Slice(Path file, long bytes) {
    }

    /**
     * The floor: reads the state files and the WAL slices sequentially in 1 MiB reads and makes
     * {@code inserts} map inserts as the bytes go by, spread evenly over them; the first
     * {@code entries} insert new keys, the rest overwrite (as the replay does).
     */
    private static HashMap<MapKey, byte[]> rawRestore(List<Path> stateFiles, List<Slice> wal, long entries,
                                                         long inserts, int valueBytes) throws IOException {
        var slices = new ArrayList<Slice>();
        for (var f : stateFiles) {
            slices.add(new Slice(f, Files.size(f)));
        }
        slices.addAll(wal);
        long total = slices.stream().mapToLong(Slice::bytes).sum();
        var map = new HashMap<MapKey, byte[]>((int) Math.min(Integer.MAX_VALUE - 8, entries * 4 / 3 + 16));
        var buffer = ByteBuffer.allocate(1 << 20);
        long readSoFar = 0;
        long done = 0;
        for (var slice : slices) {
            try (var channel = FileChannel.open(slice.file(), StandardOpenOption.READ)) {
                long left = slice.bytes();
                while (left > 0) {
                    buffer.clear().limit((int) Math.min(buffer.capacity(), left));
                    int n = channel.read(buffer);
                    if (n < 0) {
                        throw new IOException(slice.file() + " ended early");
                    }
                    left -= n;
                    readSoFar += n;
                    long due = readSoFar == total ? inserts : (long) ((double) inserts * readSoFar / total);
                    var bytes = buffer.array();
                    int span = Math.max(1, n - valueBytes);
                    for (; done < due; done++) {
                        var key = new byte[CheckpointFixture.KEY_BYTES];
                        CheckpointFixture.key(0, done < entries ? done : (done * 31) % entries, key);
                        int at = (int) ((done * 1031) % span);
                        var value = new byte[valueBytes];
                        System.arraycopy(bytes, at, value, 0, Math.min(valueBytes, n - at));
                        map.put(new MapKey(key), value);
                    }
                }
            }
        }
        if (map.size() != entries) {
            throw new IllegalStateException("raw restore holds " + map.size() + " entries, expected " + entries);
        }
        return map;
    }
}

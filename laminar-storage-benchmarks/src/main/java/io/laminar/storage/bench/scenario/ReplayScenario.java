package io.laminar.storage.bench.scenario;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.Payloads;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalOptions;
import io.laminar.storage.wal.WalRecord;
import io.laminar.storage.wal.WriteAheadLog;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * {@code replay}: a cold open of an existing log (1 GiB by default, 1 KiB records) — a new
 * {@link WriteAheadLog#open}, which recovers (scans and checks) every segment, then a reader over
 * every record, checking each record's sequence number. The raw comparison reads the same segment
 * files with a {@link FileChannel} into a 1 MiB buffer.
 *
 * <p>"Cold" means a new log instance, not an empty page cache: the files were just written and the
 * suite does not drop the OS cache (that needs root and would disturb other work on the machine),
 * so both systems read from memory and the comparison measures CPU cost per byte.
 * laminar's MB/s counts framed log bytes (headers included), raw's the file bytes it read.
 */
public final class ReplayScenario implements Scenario {

    public static final String NAME = "replay";
    static final int RECORD_BYTES = 1024;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        var dir = context.newDirectory(NAME);
        try {
            var backends = context.backends();
            long records = writeLog(dir, context.settings().replayBytes(), backends.get(0));
            // One untimed pass of each, so the measured runs do not include JIT compilation.
            raw(dir);
            laminar(dir, records, backends.get(0));
            var laminarRuns = new ArrayList<List<Result>>();
            for (int b = 0; b < backends.size(); b++) {
                laminarRuns.add(new ArrayList<>());
            }
            var rawRuns = new ArrayList<Result>();
            for (int i = 0; i < context.settings().replayRepeats(); i++) {
                rawRuns.add(raw(dir));
                for (int b = 0; b < backends.size(); b++) {
                    laminarRuns.get(b).add(laminar(dir, records, backends.get(b)));
                }
            }
            var rows = new ArrayList<Result>();
            for (var runs : laminarRuns) {
                rows.add(Result.median(runs, Result::mbPerSec, "runsMbPerSec"));
            }
            rows.add(Result.median(rawRuns, Result::mbPerSec, "runsMbPerSec"));
            return rows;
        } finally {
            BenchContext.deleteTree(dir);
        }
    }

    /** Writes records until the log holds {@code bytes}; each payload starts with its sequence number. */
    private static long writeLog(Path dir, long bytes, WalIoBackend backend) {
        var payload = Payloads.random(RECORD_BYTES, 7);
        var buffer = ByteBuffer.wrap(payload);
        long records = 0;
        var options = WalOptions.builder().syncPolicy(SyncPolicy.none()).ioBackend(backend).build();
        try (var wal = WriteAheadLog.open(dir, options)) {
            long start = wal.endPosition();
            while (wal.endPosition() - start < bytes) {
                buffer.putLong(0, records++);
                wal.append(buffer);
            }
        }
        return records;
    }

    private static Result laminar(Path dir, long expectedRecords, WalIoBackend backend) {
        long started = System.nanoTime();
        var options = WalOptions.builder().syncPolicy(SyncPolicy.none()).ioBackend(backend).build();
        try (var wal = WriteAheadLog.open(dir, options)) {
            long opened = System.nanoTime();
            long records = 0;
            try (var reader = wal.reader()) {
                for (WalRecord record; (record = reader.next()) != null; records++) {
                    var payload = record.payload();
                    if (payload.remaining() != RECORD_BYTES || payload.getLong(payload.position()) != records) {
                        throw new IllegalStateException("replay read a wrong record at position " + record.position()
                                + ": expected sequence " + records + " and " + RECORD_BYTES + " bytes");
                    }
                }
            }
            long finished = System.nanoTime();
            if (records != expectedRecords) {
                throw new IllegalStateException("replay read " + records + " records, but " + expectedRecords
                        + " were written");
            }
            double seconds = (finished - started) / 1e9;
            long logBytes = wal.endPosition() - wal.startPosition();
            return DurableSingleScenario.laminarRow(NAME, backend, 1, RECORD_BYTES).recordsPerSecond(records, seconds)
                    .bytesPerSecond(logBytes, seconds)
                    .extra("logBytes", logBytes)
                    .extra("openMillis", Result.round((opened - started) / 1e6, 1))
                    .extra("readMillis", Result.round((finished - opened) / 1e6, 1))
                    .extra("segments", wal.recoveryReport().segments());
        }
    }

    private static Result raw(Path dir) throws IOException {
        List<Path> files;
        try (Stream<Path> list = Files.list(dir)) {
            files = list.filter(p -> p.getFileName().toString().endsWith(".wal")).sorted(Comparator.naturalOrder())
                    .toList();
        }
        var buffer = ByteBuffer.allocateDirect(1 << 20);
        long bytes = 0;
        long started = System.nanoTime();
        for (var file : files) {
            try (var channel = FileChannel.open(file, StandardOpenOption.READ)) {
                for (int n; (n = channel.read(buffer.clear())) >= 0; ) {
                    bytes += n;
                }
            }
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        return new Result(NAME, "raw", 1, RECORD_BYTES).bytesPerSecond(bytes, seconds).extra("fileBytes", bytes);
    }
}

package io.laminar.storage.bench.jmh;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.Payloads;
import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalOptions;
import io.laminar.storage.wal.WriteAheadLog;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The append path without sync: {@code WriteAheadLog.append} of a 64 B record under
 * {@link SyncPolicy#none()} (reserve, frame, CRC32C, commit; a background thread writes the file).
 * Run with {@code -prof gc}: {@code gc.alloc.rate.norm} is the allocation per append.
 *
 * <p>JMH appends as fast as it can, so the write buffer fills and the average is bounded by how
 * fast the log gets its bytes to disk (segment rotations fdatasync and pre-write 64 MiB each).
 * The {@code SampleTime} mode shows the distribution: its p50 is the in-memory append, its tail
 * the waits for buffer space. {@code FramingBenchmark.putFrame} is the append's CPU work alone.
 *
 * <p>Files go to {@code -Dlaminar.bench.dir} (default java.io.tmpdir); segments already written
 * are deleted after every iteration so a long run does not fill the disk.
 */
@State(Scope.Thread)
@BenchmarkMode({Mode.AverageTime, Mode.SampleTime})
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class AppendBenchmark {

    @Param({"64"})
    int recordBytes;

    private Path directory;
    private WriteAheadLog wal;
    private ByteBuffer payload;

    @Setup(Level.Trial)
    public void open() throws IOException {
        var base = Path.of(System.getProperty("laminar.bench.dir", System.getProperty("java.io.tmpdir")));
        directory = Files.createTempDirectory(Files.createDirectories(base), "laminar-jmh-");
        wal = WriteAheadLog.open(directory, WalOptions.builder().syncPolicy(SyncPolicy.none()).build());
        payload = ByteBuffer.wrap(Payloads.random(recordBytes, 64));
    }

    @Benchmark
    public long append() {
        return wal.append(payload);
    }

    @TearDown(Level.Iteration)
    public void dropWrittenSegments() {
        wal.truncateBefore(wal.writtenPosition());
    }

    @TearDown(Level.Trial)
    public void close() {
        wal.close();
        BenchContext.deleteTree(directory);
    }
}

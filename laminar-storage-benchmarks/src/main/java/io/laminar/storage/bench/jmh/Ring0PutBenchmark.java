package io.laminar.storage.bench.jmh;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.percore.Ring0Fixture;
import java.io.IOException;
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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The Ring 0 put: {@code ChangelogAwareStateStore.put} of a 16 B key (from a fixed space of 16384
 * keys, all present, so every put overwrites) and a 64 B value on the core thread, with the
 * changelog drainer appending every change to a one-core {@code PerCoreWalManager} under group
 * commit (see {@link Ring0Fixture}). Run with {@code -prof gc}: {@code gc.alloc.rate.norm} is what
 * the whole JVM (core thread, drainer, syncer) allocates per put; the {@code percore} suite's
 * {@code ring0-alloc} scenario runs exactly that.
 *
 * <p>JMH puts as fast as it can, so once the drainer falls behind the core thread waits for queue
 * room (backpressure) and the average is the pipeline's throughput; the {@code SampleTime} mode
 * shows the distribution. Files go to {@code -Dlaminar.bench.dir} (default java.io.tmpdir); segments
 * behind the durable position are deleted after every iteration.
 */
@State(Scope.Thread)
@BenchmarkMode({Mode.AverageTime, Mode.SampleTime})
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class Ring0PutBenchmark {

    private Path directory;
    private Ring0Fixture fixture;
    private Ring0Fixture.Putter putter;

    @Setup(Level.Trial)
    public void open() throws IOException {
        var base = Path.of(System.getProperty("laminar.bench.dir", System.getProperty("java.io.tmpdir")));
        directory = Files.createTempDirectory(Files.createDirectories(base), "laminar-jmh-");
        fixture = Ring0Fixture.open(directory, 1);
        putter = fixture.putter(0);
        putter.fill();
    }

    @Benchmark
    public void put() {
        putter.put();
    }

    @TearDown(Level.Iteration)
    public void dropDurableSegments() {
        fixture.truncateDurable();
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        fixture.awaitDurable(0, putter.puts(), 60);
        fixture.close();
        BenchContext.deleteTree(directory);
    }
}

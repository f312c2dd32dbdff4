package io.laminar.storage.bench.jmh;

import io.laminar.storage.bench.Payloads;
import io.laminar.storage.wal.WalFraming;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * CRC32C framing, in memory, on the WAL's own code ({@link WalFraming} runs it outside a log)
 * rather than a copy of it.
 * <ul>
 *   <li>{@code putFrame}: what an append does after reserving space: write the header, copy the
 *       payload, CRC32C the frame, publish the length ({@link WalFraming#put}).</li>
 *   <li>{@code verifyFrame}: what a reader and recovery do per record ({@link WalFraming#verify}).</li>
 *   <li>{@code crc32cOnly}: one {@code CRC32C.update} over the same frame bytes, the floor for
 *       both.</li>
 * </ul>
 * Run with {@code -prof gc} to see allocation per frame.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class FramingBenchmark {

    @Param({"64", "1024"})
    int payloadBytes;

    private WalFraming ring;
    private ByteBuffer payload;
    private ByteBuffer frame;
    private int frameLength;
    private final CRC32C crc = new CRC32C();

    @Setup
    public void setup() {
        ring = new WalFraming(1 << 20);
        payload = ByteBuffer.wrap(Payloads.random(payloadBytes, 1));
        // A valid frame at position 0 for the read side, framed by the write side's code.
        frame = WalFraming.frame(payload);
        frameLength = frame.getInt(0); // the frame's length field: header and payload, no padding
        if (!WalFraming.verify(crc, frame)) {
            throw new IllegalStateException("the test frame does not verify");
        }
    }

    @Benchmark
    public void putFrame() {
        // No consumer drains this ring: putFrame only indexes it, so positions just keep going round.
        ring.put(payload);
    }

    @Benchmark
    public boolean verifyFrame() {
        return WalFraming.verify(crc, frame);
    }

    @Benchmark
    public int crc32cOnly() {
        crc.reset();
        crc.update(frame.limit(frameLength).position(0));
        return (int) crc.getValue();
    }
}

package io.laminar.storage.wal;

import io.laminar.storage.bench.Payloads;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
 * CRC32C framing, in memory, on the WAL's own (package-private) code: that is why this benchmark
 * lives in the WAL's package rather than a copy of the framing living here.
 * <ul>
 *   <li>{@code putFrame}: what an append does after reserving space: write the header, copy the
 *       payload, CRC32C the frame, publish the length ({@link FrameRing#putFrame}).</li>
 *   <li>{@code verifyFrame}: what a reader and recovery do per record ({@link WalFormat#frameCrc}).</li>
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

    private FrameRing ring;
    private ByteBuffer ringView;
    private ByteBuffer payload;
    private ByteBuffer frame;
    private int frameLength;
    private int paddedLength;
    private long position;
    private final CRC32C crc = new CRC32C();

    @Setup
    public void setup() {
        ring = new FrameRing(1 << 20, 0);
        ringView = ring.newView();
        payload = ByteBuffer.wrap(Payloads.random(payloadBytes, 1));
        frameLength = WalFormat.FRAME_HEADER_LENGTH + payloadBytes;
        paddedLength = (int) WalFormat.paddedFrameLength(payloadBytes);
        // A valid frame at position 0 for the read side, framed by the write side's code.
        var source = new FrameRing(1 << 16, 0);
        source.putFrame(0, payload, 0, crc, source.newView());
        frame = ByteBuffer.allocateDirect(paddedLength).order(ByteOrder.LITTLE_ENDIAN);
        var sourceView = source.newView();
        frame.put(sourceView.limit(paddedLength).position(0)).clear();
        if (WalFormat.frameCrc(crc, frame, 0, frameLength) != frame.getInt(WalFormat.OFFSET_CRC)) {
            throw new IllegalStateException("the test frame does not verify");
        }
    }

    @Benchmark
    public void putFrame() {
        // No consumer drains this ring: putFrame only indexes it, so positions can just keep going round.
        ring.putFrame(position, payload, 0, crc, ringView);
        position += paddedLength;
    }

    @Benchmark
    public int verifyFrame() {
        return WalFormat.frameCrc(crc, frame, 0, frameLength);
    }

    @Benchmark
    public int crc32cOnly() {
        crc.reset();
        crc.update(frame.limit(frameLength).position(0));
        return (int) crc.getValue();
    }
}

package io.laminar.storage.wal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WalFramingTest {

    @TempDir
    Path dir;

    private static ByteBuffer payload(int length) {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (i * 31 + 7);
        }
        return ByteBuffer.wrap(bytes);
    }

    @Test
    void aFrameIsTheOneTheLogWrites() throws Exception {
        var payload = "the first record".getBytes(StandardCharsets.UTF_8);
        var frame = WalFraming.frame(ByteBuffer.wrap(payload));
        assertThat(frame.capacity()).isEqualTo(WalFraming.frameLength(payload.length))
                .isEqualTo(WalTestFiles.paddedFrameLength(payload.length));
        try (var wal = WriteAheadLog.open(dir, WalTestBackend.options().build())) {
            assertThat(wal.append(payload)).isZero();
            wal.sync().get(10, TimeUnit.SECONDS);
        }
        var segment = WalTestFiles.segments(dir).get(0);
        var onDisk = WalTestFiles.read(segment, WalTestFiles.fileOffset(segment, 0), frame.capacity());
        var framed = new byte[frame.capacity()];
        frame.duplicate().get(framed);
        assertThat(framed).isEqualTo(onDisk);
    }

    @Test
    void aFrameVerifiesAndADamagedOneDoesNot() {
        var crc = new CRC32C();
        var frame = WalFraming.frame(payload(100));
        assertThat(WalFraming.verify(crc, frame)).isTrue();
        frame.put(40, (byte) (frame.get(40) ^ 1));
        assertThat(WalFraming.verify(crc, frame)).isFalse();
        assertThat(WalFraming.verify(crc, ByteBuffer.allocateDirect(64))).isFalse();
    }

    @Test
    void framesGoRoundTheRingWithoutConsumingThePayload() {
        var framing = new WalFraming(1024);
        var payload = payload(100);
        for (int i = 0; i < 100; i++) {
            framing.put(payload);
        }
        assertThat(payload.remaining()).isEqualTo(100);
        assertThatThrownBy(() -> framing.put(payload(2000))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new WalFraming(1000)).isInstanceOf(IllegalArgumentException.class);
    }
}

package io.laminar.storage.store.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** {@link Crc32c#combine} against the JDK's CRC32C over the whole bytes, at random split points. */
class Crc32cTest {

    private static int crc(byte[] bytes, int from, int to) {
        var crc = new CRC32C();
        crc.update(bytes, from, to - from);
        return (int) crc.getValue();
    }

    @Test
    void theCombinationOfThePartsChecksumsIsTheChecksumOfTheWhole() {
        long seed = System.nanoTime();
        var random = new Random(seed);
        for (int round = 0; round < 200; round++) {
            var bytes = new byte[random.nextInt(200_000)];
            random.nextBytes(bytes);
            int parts = 1 + random.nextInt(6);
            int combined = 0;
            int from = 0;
            for (int p = 0; p < parts; p++) {
                int to = p == parts - 1 ? bytes.length : from + random.nextInt(bytes.length - from + 1);
                combined = Crc32c.combine(combined, crc(bytes, from, to), to - from);
                from = to;
            }
            assertThat(combined).as("seed %d, round %d, %d bytes in %d parts", seed, round, bytes.length, parts)
                    .isEqualTo(crc(bytes, 0, bytes.length));
        }
    }

    @Test
    void partsOfSixteenMebibytesCombineAsTheUploadsDo() {
        var bytes = new byte[3 * (16 << 20) + 12345];
        new Random(7).nextBytes(bytes);
        int combined = 0;
        for (int from = 0; from < bytes.length; from += 16 << 20) {
            int to = Math.min(bytes.length, from + (16 << 20));
            combined = Crc32c.combine(combined, crc(bytes, from, to), to - from);
        }
        assertThat(combined).isEqualTo(crc(bytes, 0, bytes.length));
        assertThat(Crc32c.combine(0x12345678, crc(bytes, 0, 0), 0)).as("an empty second part").isEqualTo(0x12345678);
        assertThatThrownBy(() -> Crc32c.combine(0, 0, -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("secondLength must not be negative, but was -1");
    }
}

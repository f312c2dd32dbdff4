package io.laminar.storage.wal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/**
 * The search for non-zero words behind a segment's last record ({@code WalRecovery.nextNonZeroWord}),
 * which lets recovery skip the zeros of a pre-written segment: it must find every non-zero word,
 * wherever it lies against its 64 KiB comparison steps, and nothing in a partial word at the end.
 */
class WalTailScanTest {

    private static final int SIZE = 3 * 64 * 1024 + 40;

    @Test
    void findsEveryNonZeroWordWhereverItLies() {
        for (var buffer : new ByteBuffer[] {ByteBuffer.allocate(SIZE), ByteBuffer.allocateDirect(SIZE)}) {
            assertThat(WalRecovery.nextNonZeroWord(buffer, 64, SIZE)).isEqualTo(-1);
            // One byte set anywhere in a word makes the word's offset the answer, across step boundaries.
            for (int at : new int[] {64, 71, 65_535, 65_536, 65_543, 131_071, 196_608, SIZE - 9, SIZE - 1 - 8}) {
                buffer.put(at, (byte) 1);
                int word = at & -8;
                assertThat(WalRecovery.nextNonZeroWord(buffer, 64, SIZE)).as("byte %d", at).isEqualTo(word);
                assertThat(WalRecovery.nextNonZeroWord(buffer, word, SIZE)).isEqualTo(word);
                assertThat(WalRecovery.nextNonZeroWord(buffer, word + 8, SIZE)).isEqualTo(-1);
                buffer.put(at, (byte) 0);
            }
            // A limit inside a word: that word is not looked at (the caller checks the tail byte by byte).
            buffer.put(SIZE - 1, (byte) 1);
            assertThat(WalRecovery.nextNonZeroWord(buffer, 64, SIZE - 4)).isEqualTo(-1);
            assertThat(WalRecovery.nextNonZeroWord(buffer, 64, SIZE)).isEqualTo(SIZE - 8);
            buffer.put(SIZE - 1, (byte) 0);
            // Several: each call finds the next.
            buffer.put(800, (byte) 5);
            buffer.put(100_000, (byte) 5);
            int first = WalRecovery.nextNonZeroWord(buffer, 64, SIZE);
            assertThat(first).isEqualTo(800);
            assertThat(WalRecovery.nextNonZeroWord(buffer, first + 8, SIZE)).isEqualTo(100_000);
        }
    }
}

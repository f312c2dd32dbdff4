package io.laminar.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class KeyGroupsTest {

    @Test
    void theHashIsFixed() {
        // pinned values: the hash is part of the on-disk format and must never change silently
        assertThat(KeyGroups.keyGroupOf("account-1".getBytes(StandardCharsets.UTF_8), 256)).isEqualTo(
                Math.floorMod(mix(Arrays.hashCode("account-1".getBytes(StandardCharsets.UTF_8))), 256));
        assertThat(KeyGroups.keyGroupOf(new byte[0], 256)).isEqualTo(Math.floorMod(mix(1), 256));
        assertThat(KeyGroups.keyGroupOf("a".getBytes(StandardCharsets.UTF_8), 256)).isEqualTo(119);
        assertThat(KeyGroups.keyGroupOf("account-1".getBytes(StandardCharsets.UTF_8), 128)).isEqualTo(
                KeyGroups.keyGroupOf("account-1".getBytes(StandardCharsets.UTF_8), 256) % 128);
    }

    @Test
    void everyKeyGroupBelongsToTheCoreWhoseRangeHoldsIt() {
        for (int keyGroups : new int[] {1, 2, 3, 7, 128, 256, 1000}) {
            for (int cores = 1; cores <= Math.min(keyGroups, 17); cores++) {
                int next = 0;
                for (int core = 0; core < cores; core++) {
                    KeyGroups.Range range = KeyGroups.rangeOf(core, keyGroups, cores);
                    assertThat(range.first()).as("ranges are contiguous").isEqualTo(next);
                    assertThat(range.size()).isBetween(keyGroups / cores, keyGroups / cores + 1);
                    for (int g = range.first(); g < range.end(); g++) {
                        assertThat(KeyGroups.coreOfKeyGroup(g, keyGroups, cores)).isEqualTo(core);
                    }
                    next = range.end();
                }
                assertThat(next).isEqualTo(keyGroups);
            }
        }
    }

    @Test
    void keysSpreadEvenlyOverKeyGroups() {
        int[] counts = new int[256];
        for (int i = 0; i < 256_000; i++) {
            counts[KeyGroups.keyGroupOf(("key-" + i).getBytes(StandardCharsets.UTF_8), 256)]++;
        }
        assertThat(Arrays.stream(counts).min().orElseThrow()).isGreaterThan(800);
        assertThat(Arrays.stream(counts).max().orElseThrow()).isLessThan(1200);
    }

    @Test
    void badArgumentsAreRefusedWithTheValue() {
        assertThatThrownBy(() -> KeyGroups.checkKeyGroups(0)).hasMessage(
                "keyGroups must be between 1 and 32768, but was 0");
        assertThatThrownBy(() -> KeyGroups.coreOf(new byte[1], 4, 5)).hasMessage(
                "cores must be between 1 and the number of key groups (4), but was 5");
        assertThatThrownBy(() -> KeyGroups.rangeOf(3, 8, 3)).hasMessage("core must be between 0 and 2, but was 3");
    }

    private static int mix(int h) {
        h ^= h >>> 16;
        h *= 0x85ebca6b;
        h ^= h >>> 13;
        h *= 0xc2b2ae35;
        h ^= h >>> 16;
        return h;
    }
}

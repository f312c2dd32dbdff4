package io.laminar.storage.crash;

import io.laminar.storage.state.ChangelogSink;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.function.Predicate;

/**
 * The operations the crash tests' children run and their parents replay into a model: operation
 * {@code index} (1-based) of a core is a function of (seed, core, index) and of the state before it
 * (a delete only names a present key), so every operation produces exactly one change record and
 * the expected state of any durable prefix can be rebuilt.
 *
 * @param keys     how many distinct keys
 * @param maxValue values are 0 to {@code maxValue - 1} random bytes
 */
public record CrashWorkload(int keys, int maxValue) {

    /** Applies operation {@code index} of {@code core} to {@code target}. */
    public void operation(long seed, int core, long index, Predicate<byte[]> present, ChangelogSink target) {
        var random = new Random(seed * 1_000_003L + core * 7_919L + index);
        var key = ("k" + random.nextInt(keys)).getBytes(StandardCharsets.UTF_8);
        int dice = random.nextInt(1000);
        if (dice < 2) {
            target.onClear();
        } else if (dice < 250 && present.test(key)) {
            target.onDelete(key);
        } else {
            var value = new byte[random.nextInt(maxValue)];
            random.nextBytes(value);
            target.onPut(key, value);
        }
    }
}

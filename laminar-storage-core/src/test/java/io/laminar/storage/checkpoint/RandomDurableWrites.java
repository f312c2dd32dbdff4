package io.laminar.storage.checkpoint;

import io.laminar.storage.runtime.LaminarRuntime;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiConsumer;

/** Random durable puts and deletes of {@code key-N} keys, each on the core that owns its key, mirrored in a model. */
final class RandomDurableWrites {

    private RandomDurableWrites() {
    }

    /**
     * Makes {@code operations} durable changes among {@code keys} keys (one in {@code deleteOneIn} a
     * delete) and waits for all of them; {@code model} sees each change first, with a null value for
     * a delete.
     */
    static void write(LaminarRuntime runtime, Random random, int operations, int keys, int deleteOneIn,
            BiConsumer<String, String> model) {
        var futures = new ArrayList<CompletableFuture<?>>();
        for (int i = 0; i < operations; i++) {
            var key = "key-" + random.nextInt(keys);
            var bytes = key.getBytes(StandardCharsets.UTF_8);
            if (random.nextInt(deleteOneIn) == 0) {
                model.accept(key, null);
                futures.add(runtime.submitDurable(runtime.coreOf(bytes), c -> c.store().delete(bytes)));
            } else {
                var value = key + "=" + random.nextLong();
                model.accept(key, value);
                futures.add(runtime.submitDurable(runtime.coreOf(bytes), c -> {
                    c.store().put(bytes, value.getBytes(StandardCharsets.UTF_8));
                    return null;
                }));
            }
        }
        CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).join();
    }
}

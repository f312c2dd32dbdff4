package io.laminar.storage.replication.kafka;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A shard owner in a child JVM, for the failover tests: takes the shard over (arguments: WAL
 * directory, store directory, bootstrap servers, shard, first value), prints {@code READY}, then
 * writes {@code k<n % 16> = n} for n = first, first + 1, ... one durable task at a time, printing
 * {@code ACK <key> <n>} once each is acknowledged and {@code FAIL <n> <exception>} when one fails,
 * with a checkpoint every 300 ms. It runs until it is killed.
 */
public final class ShardOwnerChild {

    static final int KEYS = 16;

    private ShardOwnerChild() {
    }

    public static void main(String[] args) throws Exception {
        var options = Shards.options(null, args[3]).bootstrapServers(args[2]).ackTimeout(Duration.ofSeconds(10))
                .build();
        var owner = Shards.start(Path.of(args[0]), Path.of(args[1]), options,
                b -> b.checkpoints(c -> c.interval(Duration.ofMillis(300))));
        System.out.println("READY");
        System.out.flush();
        for (long n = Long.parseLong(args[4]); ; n++) {
            var key = "k" + (n % KEYS);
            try {
                owner.put(key, Long.toString(n)).get(60, TimeUnit.SECONDS);
                System.out.println("ACK " + key + " " + n);
            } catch (Exception e) {
                var cause = e.getCause() != null ? e.getCause() : e;
                System.out.println("FAIL " + n + " " + cause.getClass().getName() + " "
                        + String.valueOf(cause.getMessage()).replace('\n', ' '));
                Thread.sleep(100);
            }
            System.out.flush();
        }
    }
}

package io.laminar.storage.sample;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The failover demo of the README ("Failover on one machine"), as a test: S3Proxy and one KRaft
 * broker in the test JVM ({@link FailoverDemo}), instance A of the packaged sample with the
 * {@code replicated} profile as a child process, batches acknowledged before and after a checkpoint
 * and more batches under way when A is killed with SIGKILL; then A's data directory is deleted (the
 * machine is lost) and instance B starts on a new directory and port. B must hold every acknowledged
 * batch exactly once: each one sent again answers {@code applied: false}, and once the unacknowledged
 * ones are sent again too, every balance and the summary equal a model in which each batch counts
 * once. The changes after A's checkpoint can only have come from Kafka.
 */
class SampleFailoverIT {

    private static final int KEYS = 30;

    @TempDir
    Path dir;

    private FailoverDemo servers;
    private final List<String> batches = new ArrayList<>(); // batch n's body
    private final Map<String, long[]> model = new TreeMap<>(); // key: balance, events
    private final Set<Integer> acknowledged = ConcurrentHashMap.newKeySet();

    @BeforeEach
    void startServers() throws Exception {
        FailoverDemo.quietLogs();
        servers = FailoverDemo.start();
    }

    @AfterEach
    void stopServers() throws Exception {
        if (servers != null) {
            servers.close();
        }
    }

    private SampleProcess start(String name, Path data) throws Exception {
        return SampleProcess.start(dir.resolve(name + ".log"), servers.environment(),
                "--spring.profiles.active=replicated", "--laminar.storage.dir=" + data,
                // The same cores on both owners: a takeover does not rescale (README, "Not covered").
                "--laminar.storage.cores=2", "--laminar.storage.wal.segment-size=4MB",
                // Checkpoints only when the test asks: the changes after it must come from Kafka.
                "--laminar.storage.checkpoint.interval=1h",
                "--management.endpoint.checkpoints.access=unrestricted");
    }

    /** Batch n: 1 to 6 events over the shared keys, counted in the model once. */
    private synchronized String batch(int n, Random random) {
        int events = 1 + random.nextInt(6);
        var keysAndAmounts = new Object[2 * events];
        for (int i = 0; i < events; i++) {
            var key = "k-" + random.nextInt(KEYS);
            long amount = random.nextInt(1001) - 300;
            keysAndAmounts[2 * i] = key;
            keysAndAmounts[2 * i + 1] = amount;
            model.compute(key, (k, v) -> v == null ? new long[] {amount, 1} : new long[] {v[0] + amount, v[1] + 1});
        }
        var body = SampleClient.batch("failover-" + n, keysAndAmounts);
        batches.add(body);
        return body;
    }

    /** Posts batches one after another until {@code count} more are acknowledged. */
    private void postAcknowledged(SampleClient client, int count, Random random) throws Exception {
        for (int i = 0; i < count; i++) {
            int n = batches.size();
            var answer = client.post("/api/events", batch(n, random));
            assertThat(answer.status()).as("batch %d: %s", n, answer.text()).isEqualTo(200);
            assertThat(answer.body().get("applied").asBoolean()).as("batch %d applied", n).isTrue();
            acknowledged.add(n);
        }
    }

    @Test
    @Timeout(150)
    void aNewOwnerOnAnEmptyDirectoryHoldsEveryAcknowledgedBatchExactlyOnceAfterKillMinus9() throws Exception {
        long seed = System.nanoTime();
        System.out.println("SampleFailoverIT seed " + seed);
        var random = new Random(seed);
        var dataA = dir.resolve("a");

        try (var a = start("a", dataA)) {
            postAcknowledged(a.client, 30, random);
            var checkpoint = a.client.post("/actuator/checkpoints", "");
            assertThat(checkpoint.status()).as("POST /actuator/checkpoints: %s", checkpoint.text()).isEqualTo(200);
            postAcknowledged(a.client, 30, random);

            // More batches under way when A dies: each may or may not count, never twice.
            var sending = new AtomicBoolean(true);
            var failures = new ArrayList<Throwable>();
            var load = new Thread(() -> {
                while (sending.get()) {
                    int n;
                    String body;
                    synchronized (this) {
                        n = batches.size();
                        body = batch(n, random);
                    }
                    try {
                        if (a.client.post("/api/events", body).status() == 200) {
                            acknowledged.add(n);
                        }
                    } catch (IOException killed) {
                        return;
                    } catch (Throwable e) {
                        failures.add(e);
                        return;
                    }
                }
            }, "failover-load");
            load.start();
            Thread.sleep(500 + random.nextInt(1000));
            assertThat(a.kill()).as("exit code after SIGKILL (128 + 9)").isEqualTo(137);
            sending.set(false);
            load.join();
            assertThat(failures).isEmpty();
        }
        deleteRecursively(dataA);
        assertThat(dataA).doesNotExist();
        System.out.println("SampleFailoverIT: " + batches.size() + " batches sent, " + acknowledged.size()
                + " acknowledged before A was killed");

        try (var b = start("b", dir.resolve("b"))) {
            var client = b.client;
            var recovery = client.get("/actuator/checkpoints").body().at("/recovery");
            System.out.println("SampleFailoverIT: B's recovery " + recovery);
            assertThat(recovery.at("/checkpointId").isNumber()).as("B restored A's checkpoint from the bucket: %s",
                    recovery).isTrue();
            assertThat(recovery.at("/recordsFromReplication").asLong())
                    .as("changes restored from Kafka (the 30 batches after the checkpoint at least): %s", recovery)
                    .isPositive();
            long applied = client.get("/api/summary").body().get("batches").asLong();
            assertThat(applied).as("batches B holds").isBetween((long) acknowledged.size(), (long) batches.size());

            // Every acknowledged batch is there: sent again, it is not applied again. The others are
            // sent again too, so that the model (each batch once) holds for every balance.
            for (int n = 0; n < batches.size(); n++) {
                var answer = client.post("/api/events", batches.get(n));
                assertThat(answer.status()).as("batch %d sent to B: %s", n, answer.text()).isEqualTo(200);
                if (acknowledged.contains(n)) {
                    assertThat(answer.body().get("applied").asBoolean())
                            .as("batch %d, acknowledged by A, sent again to B", n).isFalse();
                }
            }
            long events = 0;
            long sum = 0;
            for (var entry : model.entrySet()) {
                var balance = client.get("/api/balances/" + entry.getKey()).body();
                assertThat(balance.get("balance").asLong()).as("balance of %s", entry.getKey())
                        .isEqualTo(entry.getValue()[0]);
                assertThat(balance.get("events").asLong()).as("events of %s", entry.getKey())
                        .isEqualTo(entry.getValue()[1]);
                events += entry.getValue()[1];
                sum += entry.getValue()[0];
            }
            var summary = client.get("/api/summary").body();
            assertThat(summary.get("keys").asLong()).isEqualTo(model.size());
            assertThat(summary.get("events").asLong()).isEqualTo(events);
            assertThat(summary.get("sum").asLong()).isEqualTo(sum);
            assertThat(summary.get("batches").asLong()).isEqualTo(batches.size());
            assertThat(b.stop()).as("exit code after SIGTERM").isIn(0, 143);
        }
    }

    private static void deleteRecursively(Path root) throws Exception {
        try (Stream<Path> paths = Files.walk(root)) {
            for (var path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }
}

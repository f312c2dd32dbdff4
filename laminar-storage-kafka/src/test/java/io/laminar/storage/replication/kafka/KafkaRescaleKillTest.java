package io.laminar.storage.replication.kafka;

import static io.laminar.storage.replication.kafka.Shards.bytes;
import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.checkpoint.Rescaler;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A rescaling start of a replicated shard killed with SIGKILL at random moments (a child JVM,
 * {@link RescalingStartChild}), then started again with yet another number of cores: the state is
 * the old layout's or the new one's, never a mix, and equals the model exactly. Against the three
 * brokers of {@link SharedKafkaCluster}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(300)
class KafkaRescaleKillTest {

    private static final Logger log = LoggerFactory.getLogger(KafkaRescaleKillTest.class);
    private static final int SIGKILL_EXIT = 128 + 9;

    private KafkaCluster cluster;

    @TempDir
    Path dir;

    @BeforeAll
    void startBrokers() throws Exception {
        cluster = SharedKafkaCluster.get();
    }

    private Shards.Owner start(Path walDir, Path store, KafkaReplicatorOptions options, int cores) throws IOException {
        var closing = new ArrayList<AutoCloseable>();
        var wal = Rescaler.openReplicated(walDir, PerCoreWalOptions.builder().cores(cores).maxEntrySize(64 * 1024)
                .wal(w -> w.segmentSize(1 << 20)).build());
        closing.add(wal);
        var s = FileSystemCheckpointStore.open(store);
        closing.add(s);
        var replicator = new KafkaChangeReplicator(options);
        closing.add(replicator);
        var runtime = LaminarRuntime.builder(wal, s).replicator(replicator).build();
        closing.add(runtime);
        var owner = new Shards.Owner(runtime, replicator, s, closing);
        try {
            runtime.start();
        } catch (RuntimeException e) {
            owner.close();
            throw e;
        }
        return owner;
    }

    /**
     * Starts a child that opens {@code walDir} with {@code cores} cores and starts; kills it
     * {@code delay} ms after its log says the rescale began (after the fencing and the claim), or once
     * it started if it never logs that. Returns how far it got.
     */
    private String startAndKill(Path walDir, Path store, String shard, int cores, long delay, String logName)
            throws Exception {
        var java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        var command = List.of(java, "-Xmx256m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                RescalingStartChild.class.getName(), walDir.toString(), store.toString(), cluster.bootstrapServers(),
                shard, Integer.toString(cores));
        var logFile = dir.resolve(logName);
        var process = new ProcessBuilder(command).redirectError(logFile.toFile()).start();
        var lines = new CopyOnWriteArrayList<String>();
        var reader = new Thread(() -> {
            try (var in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    lines.add(line);
                }
            } catch (IOException e) {
                // the child died
            }
        });
        reader.setDaemon(true);
        reader.start();
        long deadline = System.currentTimeMillis() + 90_000;
        // The child logs (to its stderr) "rescaling the replicated shard" or "taking the replicated shard"
        // once it owns the shard and begins to rescale.
        while (!Files.readString(logFile).contains("ing the replicated shard")
                && lines.stream().noneMatch(l -> l.startsWith("STARTED"))) {
            assertThat(process.isAlive()).as("the child is starting; see %s", logName).isTrue();
            assertThat(System.currentTimeMillis()).as("the child began its rescale in time").isLessThan(deadline);
            Thread.sleep(2);
        }
        Thread.sleep(delay);
        assertThat(process.toHandle().destroyForcibly()).isTrue();
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as("exit status of the killed child (128 + SIGKILL)").isEqualTo(SIGKILL_EXIT);
        reader.join(5_000);
        var childLog = Files.readString(logFile);
        return lines.stream().filter(l -> l.startsWith("STARTED")).findFirst()
                .orElse(childLog.contains("rescaled the replicated shard") ? "killed after the rescale's publish"
                        : "killed during the rescale");
    }

    private static void assertExact(Shards.Owner owner, TreeMap<String, String> expected) {
        var runtime = owner.runtime();
        for (int core = 0; core < runtime.cores(); core++) {
            int expectedCore = core;
            runtime.submit(core, c -> {
                c.store().forEach((k, v) -> assertThat(runtime.coreOf(k)).isEqualTo(expectedCore));
                return null;
            }).join();
        }
        assertThat(owner.contents()).isEqualTo(expected);
    }

    @Test
    void rescalingStartsKilledAtRandomMomentsLeaveTheOldOrTheNewLayoutAndTheNextStartIsExact() throws Exception {
        long seed = System.nanoTime();
        var random = new Random(seed);
        log.info("seed {}", seed);
        var shard = "rescale-killed";
        var options = Shards.options(cluster, shard).build();
        var store = dir.resolve("checkpoints");
        var expected = new TreeMap<String, String>();
        var own = dir.resolve("own");
        try (var a = start(own, store, options, 2)) {
            for (int i = 0; i < 200; i++) {
                a.put("key-" + i, "v" + i).get(10, TimeUnit.SECONDS);
                expected.put("key-" + i, "v" + i);
            }
            a.runtime().triggerCheckpoint().get(30, TimeUnit.SECONDS);
            for (int i = 0; i < 100; i++) {
                a.put("key-" + (i * 3), "w" + i).get(10, TimeUnit.SECONDS);
                expected.put("key-" + (i * 3), "w" + i);
            }
            a.runtime().submitDurable(1, c -> {
                c.store().clear();
                return null;
            }).get(10, TimeUnit.SECONDS);
            expected.keySet().removeIf(k -> a.runtime().coreOf(bytes(k)) == 1);
            a.put("after-clear", "1").get(10, TimeUnit.SECONDS);
            expected.put("after-clear", "1");
        }
        // Restarts on the shard's own directory, each killed somewhere in its rescaling start, each
        // followed by a start with yet another number of cores that must see exactly the model.
        int[][] rounds = {{3, 1}, {2, 4}, {1, 2}, {4, 3}};
        for (int round = 0; round < rounds.length; round++) {
            long delay = random.nextInt(1200);
            var outcome = startAndKill(own, store, shard, rounds[round][0], delay, "own-" + round + ".log");
            log.info("own directory, round {}: {} cores killed {} ms into the rescale: {}", round, rounds[round][0],
                    delay, outcome);
            try (var again = start(own, store, options, rounds[round][1])) {
                assertThat(again.runtime().recoveryReport().orElseThrow().rescale()).isNotNull();
                assertExact(again, expected);
                again.put("own-" + round, "1").get(10, TimeUnit.SECONDS);
                expected.put("own-" + round, "1");
            }
        }
        // The machine is lost: takeovers on new disks, each killed somewhere in its rescaling start.
        for (int round = 0; round < 3; round++) {
            long delay = random.nextInt(1200);
            var walDir = dir.resolve("takeover-" + round);
            var outcome = startAndKill(walDir, store, shard, round % 2 == 0 ? 1 : 2, delay, "takeover-" + round + ".log");
            log.info("takeover, round {}: killed {} ms into the rescale: {}", round, delay, outcome);
            try (var survivor = start(walDir, store, options, round % 2 == 0 ? 4 : 3)) {
                assertExact(survivor, expected);
                survivor.put("takeover-" + round, "1").get(10, TimeUnit.SECONDS);
                expected.put("takeover-" + round, "1");
            }
        }
    }
}

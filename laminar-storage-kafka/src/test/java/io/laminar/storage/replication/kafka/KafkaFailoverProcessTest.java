package io.laminar.storage.replication.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
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
 * Owners in child JVMs ({@link ShardOwnerChild}) killed with SIGKILL at random moments or paused
 * with SIGSTOP while another takes the shard over, against three real brokers in this JVM.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(300)
class KafkaFailoverProcessTest {

    private static final Logger log = LoggerFactory.getLogger(KafkaFailoverProcessTest.class);
    private static final int SIGKILL_EXIT = 128 + 9;

    private KafkaCluster cluster;

    @TempDir
    Path dir;

    @BeforeAll
    void startBrokers() throws Exception {
        cluster = SharedKafkaCluster.get();
    }


    /** A child owner and what it printed. */
    private static final class Child {
        final Process process;
        final List<String> lines = new CopyOnWriteArrayList<>();
        final Thread reader;

        Child(Process process) {
            this.process = process;
            this.reader = new Thread(() -> {
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
        }

        void awaitLine(String prefix, long timeoutMillis) throws InterruptedException {
            long deadline = System.currentTimeMillis() + timeoutMillis;
            while (lines.stream().noneMatch(l -> l.startsWith(prefix))) {
                assertThat(System.currentTimeMillis()).as("the child printed a line starting with '%s' in time; "
                        + "its last lines: %s", prefix, tail()).isLessThan(deadline);
                assertThat(process.isAlive()).as("the child is alive; its last lines: %s", tail()).isTrue();
                Thread.sleep(20);
            }
        }

        List<String> linesSince(int index) {
            var all = List.copyOf(lines);
            return all.subList(index, all.size());
        }

        long acks() {
            return lines.stream().filter(l -> l.startsWith("ACK ")).count();
        }

        List<String> tail() {
            var all = List.copyOf(lines);
            return all.subList(Math.max(0, all.size() - 5), all.size());
        }
    }

    private Child startChild(Path walDir, Path store, String shard, long firstValue, String logName) throws IOException {
        var java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        var command = List.of(java, "-Xmx256m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                ShardOwnerChild.class.getName(), walDir.toString(), store.toString(), cluster.bootstrapServers(), shard,
                Long.toString(firstValue));
        var process = new ProcessBuilder(command).redirectError(dir.resolve(logName).toFile()).start();
        return new Child(process);
    }

    private static void signal(Process process, String signal) throws Exception {
        var kill = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(kill.exitValue()).as("kill -%s", signal).isZero();
    }

    /**
     * SIGSTOPs the child at a moment it does not hold the file-system store's owner lock (an fcntl
     * lock it takes around each publish and delete): a new owner's claim waits for that lock, so a
     * child paused inside it would hold the takeover up until it resumed, which this test does only
     * after the takeover.
     */
    private static void pauseOutsideTheOwnerLock(Process process, Path store) throws Exception {
        var lockFile = store.resolve("owner").resolve(".lock");
        for (int attempt = 1; ; attempt++) {
            signal(process, "STOP");
            try (var channel = FileChannel.open(lockFile, StandardOpenOption.WRITE); var lock = channel.tryLock()) {
                if (lock != null) {
                    return;
                }
            }
            assertThat(attempt).as("attempts to pause the child outside the owner lock %s", lockFile).isLessThan(100);
            signal(process, "CONT");
            Thread.sleep(10);
        }
    }

    private static void kill9(Child child) throws Exception {
        assertThat(child.process.toHandle().destroyForcibly()).isTrue();
        assertThat(child.process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(child.process.exitValue()).as("exit status of the killed child (128 + SIGKILL)").isEqualTo(SIGKILL_EXIT);
        child.reader.join(5_000);
    }

    @Test
    void ownersKilledAtRandomMomentsLoseNoAcknowledgedChange() throws Exception {
        long seed = System.nanoTime();
        var random = new Random(seed);
        log.info("seed {}", seed);
        var shard = "killed";
        var store = dir.resolve("checkpoints");
        var lastAcked = new HashMap<String, Long>();
        var inFlight = new HashSet<Long>(); // per round, the one write that may or may not have landed
        int rounds = 3;
        for (int round = 0; round < rounds; round++) {
            long first = (round + 1) * 1_000_000L;
            var walDir = dir.resolve("owner-" + round); // every owner is a new machine with an empty disk
            var child = startChild(walDir, store, shard, first, "owner-" + round + ".log");
            child.awaitLine("READY", 90_000);
            long killAfter = 200 + random.nextInt(1500);
            Thread.sleep(killAfter);
            kill9(child);
            long last = first - 1;
            for (var line : child.lines) {
                if (line.startsWith("ACK ")) {
                    var parts = line.split(" ");
                    lastAcked.put(parts[1], Long.parseLong(parts[2]));
                    last = Long.parseLong(parts[2]);
                }
            }
            inFlight.add(last + 1);
            log.info("round {}: killed {} ms after READY, {} changes acknowledged", round, killAfter, child.acks());
            Shards.deleteRecursively(walDir);
        }
        assertThat(lastAcked).as("the owners acknowledged changes before they were killed").isNotEmpty();

        try (var b = Shards.start(dir.resolve("survivor"), store, Shards.options(cluster, shard).build())) {
            var contents = b.contents();
            for (int k = 0; k < ShardOwnerChild.KEYS; k++) {
                var key = "k" + k;
                Set<String> allowed = new HashSet<>();
                var acked = lastAcked.get(key);
                if (acked != null) {
                    allowed.add(Long.toString(acked));
                } else {
                    allowed.add(null);
                }
                for (long n : inFlight) {
                    if (n % ShardOwnerChild.KEYS == k && (acked == null || n > acked)) {
                        allowed.add(Long.toString(n));
                    }
                }
                assertThat(allowed).as("key %s: its last acknowledged value or a later in-flight one (seed %d)", key,
                        seed).contains(contents.get(key));
            }
        }
    }

    @Test
    void aPausedOwnerThatWakesUpAfterATakeoverIsFencedAndChangesNothing() throws Exception {
        var shard = "zombie";
        var store = dir.resolve("checkpoints");
        var a = startChild(dir.resolve("a"), store, shard, 1_000, "a.log");
        try {
            a.awaitLine("READY", 90_000);
            while (a.acks() < 10) {
                Thread.sleep(20);
            }
            pauseOutsideTheOwnerLock(a.process, store);
            Thread.sleep(500); // the reader takes what the child printed before it stopped out of the pipe
            Map<String, Long> ackedBeforePause = new HashMap<>();
            long lastBeforePause = 0;
            for (var line : a.lines) {
                if (line.startsWith("ACK ")) {
                    var parts = line.split(" ");
                    ackedBeforePause.put(parts[1], Long.parseLong(parts[2]));
                    lastBeforePause = Long.parseLong(parts[2]);
                }
            }
            int linesBeforeResume;
            List<String> newOwnersFiles;
            List<Long> newOwnersCheckpoints;
            var options = Shards.options(cluster, shard).build();
            try (var b = Shards.start(dir.resolve("b"), store, options)) {
                b.put("from-b", "1").get(30, TimeUnit.SECONDS);
                b.runtime().triggerCheckpoint().get(30, TimeUnit.SECONDS);
                newOwnersFiles = b.store().listFiles();
                newOwnersCheckpoints = b.store().listCheckpoints();

                linesBeforeResume = a.lines.size();
                signal(a.process, "CONT");
                // A's next durable task fails, fenced; it keeps trying (and its checkpoints keep running).
                long deadline = System.currentTimeMillis() + 60_000;
                while (a.linesSince(linesBeforeResume).stream()
                        .noneMatch(l -> l.startsWith("FAIL ") && l.contains("FencedException"))) {
                    assertThat(System.currentTimeMillis()).as("A reports it is fenced; its output: %s", a.tail())
                            .isLessThan(deadline);
                    Thread.sleep(20);
                }
                Thread.sleep(1_500); // several of A's checkpoint intervals
                var afterResume = a.linesSince(linesBeforeResume);
                // At most the write it was in when paused, which committed before the takeover, is
                // reported after it woke up; nothing later.
                long inFlight = lastBeforePause + 1;
                assertThat(afterResume).as("what A acknowledged after it woke up")
                        .filteredOn(l -> l.startsWith("ACK ")).hasSizeLessThanOrEqualTo(1)
                        .allMatch(l -> Long.parseLong(l.split(" ")[2]) == inFlight);
                // Every file and checkpoint of B survived A's retention and orphan cleanup.
                assertThat(b.store().listFiles()).containsAll(newOwnersFiles);
                assertThat(b.store().listCheckpoints()).containsAll(newOwnersCheckpoints);
            }
            // Nothing A did after it was fenced is visible to the next owner.
            try (var c = Shards.start(dir.resolve("c"), store, options)) {
                var contents = c.contents();
                assertThat(contents).containsEntry("from-b", "1");
                for (int k = 0; k < ShardOwnerChild.KEYS; k++) {
                    var value = contents.get("k" + k);
                    if (value == null) {
                        assertThat(ackedBeforePause).as("k%d was never acknowledged", k).doesNotContainKey("k" + k);
                        continue;
                    }
                    assertThat(Long.parseLong(value)).as("k%d holds no write A made after the pause", k)
                            .isLessThanOrEqualTo(lastBeforePause + 1)
                            .isGreaterThanOrEqualTo(ackedBeforePause.getOrDefault("k" + k, 0L));
                }
            }
        } finally {
            a.process.destroyForcibly();
            a.process.waitFor(30, TimeUnit.SECONDS);
        }
    }
}

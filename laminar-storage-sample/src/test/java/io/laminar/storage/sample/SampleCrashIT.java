package io.laminar.storage.sample;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged sample killed with SIGKILL while clients post batches and the file source reads a
 * growing file, restarted on the same data directory, several times: every batch that got no 200
 * is sent again, every acknowledged one too (it must answer {@code applied: false}), and at the end
 * each balance and the summary must equal a model in which every batch and every file line counts
 * exactly once. Each restart has another number of cores ({@link #CORES}: ingest with 4, then 2, 3
 * and 6), so each one rescales the directory killed in the middle of its work: the batch ids must be
 * recognised, and the file lines skipped, after their keys moved to other cores.
 */
class SampleCrashIT {

    private static final int KILLS = Integer.getInteger("laminar.sample.crash.kills", 3);
    private static final int CLIENTS = 4;
    private static final int KEYS = 40;
    /** The cores of each round, in turn: every restart after a kill rescales. */
    private static final int[] CORES = {4, 2, 3, 6};

    @TempDir
    Path dir;

    /** What the state must hold: per key, its balance and event count. */
    private final Map<String, long[]> model = new ConcurrentHashMap<>();
    private final List<String> batches = new ArrayList<>(); // batch n's body
    private final Set<Integer> acknowledged = ConcurrentHashMap.newKeySet();
    private final List<String> unexpected = new CopyOnWriteArrayList<>();
    private long fileLines;

    private void count(String key, long amount) {
        model.compute(key, (k, v) -> v == null ? new long[] {amount, 1} : new long[] {v[0] + amount, v[1] + 1});
    }

    /**
     * Batch n: mostly 1 to 12 events over the shared keys, often repeating a key; one in ten has
     * 100 to 400 events over many keys, so that each core's part makes many changes a kill can
     * cut. Added to the model once.
     */
    private String batch(int n, long seed) {
        var random = new Random(seed * 1_000_003 + n);
        boolean wide = random.nextInt(10) == 0;
        int events = wide ? 100 + random.nextInt(301) : 1 + random.nextInt(12);
        var keysAndAmounts = new Object[2 * events];
        for (int i = 0; i < events; i++) {
            var key = wide ? "w-" + random.nextInt(500) : "k-" + random.nextInt(i > 0 && random.nextBoolean() ? 3 : KEYS);
            long amount = random.nextInt(2001) - 500;
            keysAndAmounts[2 * i] = key;
            keysAndAmounts[2 * i + 1] = amount;
            count(key, amount);
        }
        return SampleClient.batch("batch-" + n, keysAndAmounts);
    }

    private String[] args(Path source, int round) {
        return new String[] {
            "--laminar.storage.dir=" + dir.resolve("data"),
            "--laminar.storage.cores=" + CORES[round % CORES.length],
            "--laminar.storage.wal.segment-size=4MB",
            "--laminar.storage.checkpoint.interval=400ms",
            "--laminar.sample.source.file=" + source,
            "--laminar.sample.source.chunk-lines=40",
            "--laminar.sample.source.poll-interval=10ms",
        };
    }

    @Test
    @Timeout(180)
    void everyBatchAndEveryFileLineCountsExactlyOnceAcrossSigkills() throws Exception {
        long seed = System.nanoTime();
        System.out.println("SampleCrashIT seed " + seed + ", " + KILLS + " kills");
        var random = new Random(seed);
        var source = Files.createFile(dir.resolve("events.jsonl"));
        var resumedFrom = new ArrayList<Long>();

        for (int round = 0; round <= KILLS; round++) {
            try (var sample = SampleProcess.start(dir.resolve("sample-" + round + ".log"), args(source, round))) {
                var client = sample.client;
                var status = client.get("/api/source").body();
                resumedFrom.add(status.get("resumedFrom").asLong());
                assertResumedOnALineBoundary(source, status.get("resumedFrom").asLong());
                assertResumedFromTheRecoveredManifest(client, source, status.get("resumedFrom").asLong());
                if (round > 0) {
                    var rescale = client.get("/actuator/checkpoints").body().at("/recovery/rescale");
                    assertThat(rescale.at("/oldCores").asInt()).as("restart %d rescaled from", round)
                            .isEqualTo(CORES[(round - 1) % CORES.length]);
                    assertThat(rescale.at("/newCores").asInt()).as("restart %d rescaled to", round)
                            .isEqualTo(CORES[round % CORES.length]);
                }

                // Every batch sent so far: the unacknowledged ones may be applied or not, the
                // acknowledged ones must be applied already.
                var summary = client.get("/api/summary").body();
                assertThat(summary.get("batches").asLong()).as("batches after restart %d", round)
                        .isBetween((long) acknowledged.size(), (long) batches.size());
                resend(client);

                if (round == KILLS) {
                    awaitFileRead(client, source);
                    System.out.println("SampleCrashIT: file source after the last restart: " + client.get("/api/source").text());
                    assertExactlyOnce(client);
                    assertActuatorAnswers(client);
                    assertThat(unexpected).as("answers other than 200").isEmpty();
                    assertThat(sample.stop()).as("exit code after SIGTERM").isIn(0, 143);
                    break;
                }
                var load = new Load(client, seed);
                var writer = new FileWriterThread(source, seed + round);
                load.start();
                writer.start();
                Thread.sleep(1200 + random.nextInt(1500));
                int exit = sample.kill();
                assertThat(exit).as("exit code of the sample after destroyForcibly (SIGKILL = 128 + 9)").isEqualTo(137);
                load.stop();
                writer.stopWriting();
                assertThat(load.sent.get()).as("batches sent in round %d", round).isPositive();
            }
        }
        assertThat(unexpected).isEmpty();
        System.out.println("SampleCrashIT: " + batches.size() + " batches, " + fileLines
                + " file lines; the file source resumed from " + resumedFrom + "; recovery finished "
                + logLines("that a crash interrupted") + " interrupted batch parts");
        assertThat(resumedFrom.subList(1, resumedFrom.size())).as("a restart resumes from a checkpoint's offset")
                .anyMatch(offset -> offset > 0);
        assertThat(logLines("key groups moved")).as("every restart after a kill rescaled").isEqualTo(KILLS);
    }

    /** Sends every batch again: an unacknowledged one must now be acknowledged, an acknowledged one not applied. */
    private void resend(SampleClient client) throws Exception {
        var all = new ArrayList<Integer>();
        for (int n = 0; n < batches.size(); n++) {
            all.add(n);
        }
        Collections.shuffle(all);
        var next = new AtomicInteger();
        var failures = new CopyOnWriteArrayList<Throwable>();
        var threads = new ArrayList<Thread>();
        for (int t = 0; t < CLIENTS; t++) {
            threads.add(started(() -> {
                try {
                    for (int i; (i = next.getAndIncrement()) < all.size(); ) {
                        int n = all.get(i);
                        boolean wasAcknowledged = acknowledged.contains(n);
                        var answer = client.post("/api/events", batches.get(n));
                        assertThat(answer.status()).as("resending batch-%d: %s", n, answer.text()).isEqualTo(200);
                        if (wasAcknowledged) {
                            assertThat(answer.body().get("applied").asBoolean())
                                    .as("acknowledged batch-%d sent again", n).isFalse();
                        }
                        acknowledged.add(n);
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        for (var thread : threads) {
            thread.join();
        }
        if (!failures.isEmpty()) {
            throw new AssertionError(failures.get(0));
        }
    }

    /** How many lines of the sample's logs contain {@code text}. */
    private long logLines(String text) throws IOException {
        long count = 0;
        for (int round = 0; round <= KILLS; round++) {
            var log = dir.resolve("sample-" + round + ".log");
            if (Files.exists(log)) {
                try (var lines = Files.lines(log)) {
                    count += lines.filter(line -> line.contains(text)).count();
                }
            }
        }
        return count;
    }

    private static Thread started(Runnable work) {
        var thread = new Thread(work);
        thread.start();
        return thread;
    }

    private void awaitFileRead(SampleClient client, Path source) throws Exception {
        long size = Files.size(source);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (client.get("/api/source").body().get("offset").asLong() < size) {
            assertThat(System.nanoTime()).as("the file source reads the whole file").isLessThan(deadline);
            Thread.sleep(50);
        }
        assertThat(client.get("/api/source").body().get("error").isNull()).isTrue();
    }

    private void assertExactlyOnce(SampleClient client) throws Exception {
        var expected = new TreeMap<String, String>();
        var actual = new TreeMap<String, String>();
        long events = 0;
        long sum = 0;
        for (var entry : new HashMap<>(model).entrySet()) {
            expected.put(entry.getKey(), entry.getValue()[0] + "/" + entry.getValue()[1]);
            events += entry.getValue()[1];
            sum += entry.getValue()[0];
            var answer = client.get("/api/balances/" + entry.getKey());
            actual.put(entry.getKey(), answer.status() != 200 ? "HTTP " + answer.status()
                    : answer.body().get("balance").asLong() + "/" + answer.body().get("events").asLong());
        }
        assertThat(actual).as("balance/events per key").isEqualTo(expected);
        var summary = client.get("/api/summary").body();
        assertThat(summary.get("keys").asLong()).isEqualTo(model.size());
        assertThat(summary.get("events").asLong()).isEqualTo(events);
        assertThat(summary.get("sum").asLong()).isEqualTo(sum);
        assertThat(summary.get("batches").asLong()).isEqualTo(batches.size());
    }

    /**
     * The file source resumes at the offset that the manifest of the checkpoint recovery restored
     * holds for it (0 if recovery found no checkpoint, or one before the source's first chunk).
     */
    private static void assertResumedFromTheRecoveredManifest(SampleClient client, Path source, long resumedFrom)
            throws Exception {
        var recovered = client.get("/actuator/checkpoints").body().at("/recovery/checkpointId");
        if (recovered.isMissingNode() || recovered.isNull()) {
            assertThat(resumedFrom).as("resumed without a checkpoint").isZero();
            return;
        }
        var manifest = client.get("/actuator/checkpoints/" + recovered.asLong());
        assertThat(manifest.status()).as("the recovered checkpoint %s", recovered).isEqualTo(200);
        var offset = manifest.body().at("/sources/file-source/offsets").get(source.toString());
        assertThat(offset == null ? 0 : Long.parseLong(offset.asString()))
                .as("the file offset in the manifest of recovered checkpoint %s", recovered).isEqualTo(resumedFrom);
    }

    private static void assertActuatorAnswers(SampleClient client) throws Exception {
        var health = client.get("/actuator/health").body();
        assertThat(health.get("status").asString()).isEqualTo("UP");
        assertThat(health.at("/components/laminarStorage/status").asString()).isEqualTo("UP");
        assertThat(health.at("/components/fileSource/status").asString()).isEqualTo("UP");
        assertThat(client.get("/actuator/checkpoints").body().at("/recovery/checkpointId").isNumber())
                .as("the last restart recovered from a checkpoint").isTrue();
        assertThat(client.get("/actuator/metrics/laminar.storage.wal.bytes").status()).isEqualTo(200);
        assertThat(client.get("/actuator/prometheus").text()).contains("laminar_storage_recovery_replayed_records");
    }

    private static void assertResumedOnALineBoundary(Path source, long offset) throws IOException {
        assertThat(offset).isBetween(0L, Files.size(source));
        if (offset > 0) {
            try (var channel = FileChannel.open(source)) {
                var before = ByteBuffer.allocate(1);
                channel.read(before, offset - 1);
                assertThat(before.get(0)).as("the byte before the resume offset %d", offset).isEqualTo((byte) '\n');
            }
        }
    }

    /** Client threads posting new batches until stopped (or the sample is gone). */
    private final class Load {
        private final SampleClient client;
        private final long seed;
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final List<Thread> threads = new ArrayList<>();
        final AtomicInteger sent = new AtomicInteger();

        Load(SampleClient client, long seed) {
            this.client = client;
            this.seed = seed;
        }

        void start() {
            for (int t = 0; t < CLIENTS; t++) {
                threads.add(started(this::run));
            }
        }

        private void run() {
            while (running.get()) {
                int n;
                String body;
                synchronized (batches) {
                    n = batches.size();
                    body = batch(n, seed);
                    batches.add(body);
                }
                sent.incrementAndGet();
                try {
                    var answer = client.post("/api/events", body);
                    if (answer.status() == 200 && answer.body().get("applied").asBoolean()) {
                        acknowledged.add(n);
                    } else {
                        unexpected.add("batch-" + n + ": " + answer.status() + " " + answer.text());
                    }
                } catch (IOException | InterruptedException killed) {
                    return; // unacknowledged: the next round sends it again
                }
            }
        }

        void stop() throws InterruptedException {
            running.set(false);
            for (var thread : threads) {
                thread.join();
            }
        }
    }

    /** Appends lines to the source file while the sample runs: mostly events, sometimes a bad line. */
    private final class FileWriterThread extends Thread {
        private final Path file;
        private final Random random;
        private volatile boolean writing = true;

        FileWriterThread(Path file, long seed) {
            this.file = file;
            this.random = new Random(seed);
        }

        @Override
        public void run() {
            try (var channel = FileChannel.open(file, StandardOpenOption.APPEND)) {
                while (writing) {
                    var lines = new StringBuilder();
                    for (int i = 0; i < 25; i++) {
                        if (random.nextInt(300) == 0) {
                            lines.append("{\"key\": \"k-1\", \"amount\": \"not a number\"}\n");
                            continue;
                        }
                        var key = random.nextBoolean() ? "k-" + random.nextInt(KEYS) : "f-" + random.nextInt(20);
                        long amount = random.nextInt(100);
                        lines.append("{\"key\":\"").append(key).append("\",\"amount\":").append(amount).append("}\n");
                        count(key, amount);
                        fileLines++;
                    }
                    var bytes = ByteBuffer.wrap(lines.toString().getBytes(StandardCharsets.UTF_8));
                    while (bytes.hasRemaining()) {
                        channel.write(bytes);
                    }
                    Thread.sleep(10);
                }
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }

        void stopWriting() throws InterruptedException {
            writing = false;
            join();
        }
    }
}

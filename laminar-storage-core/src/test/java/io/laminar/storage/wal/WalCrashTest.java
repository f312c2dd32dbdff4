package io.laminar.storage.wal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kills a process that is appending to the log with SIGKILL, round after round, and checks after
 * each kill that reopening the log finds every record the process had been told was durable,
 * byte for byte at its acknowledged position, in a log without holes or garbage.
 *
 * <p>Each round starts a {@link WalCrashChild} JVM on the same log, with settings drawn from a
 * seeded random: 2 to 4 writer threads (appendDurable with a window of futures, batches of appends
 * followed by sync(), or plain appends under EveryAppend), 64 to 256 KiB segments so that segments
 * rotate during the run, several write-buffer sizes and sync policies. It kills the child at a
 * random moment, mostly after it started writing and sometimes while it starts or recovers. The
 * number of rounds is {@code -Dlaminar.crash.rounds} (20 by default, 300 with {@code -Pcrash-soak});
 * {@code -Dlaminar.crash.seed} replays a run.
 *
 * <p>SIGKILL ends the process, not the machine: what it wrote stays in the page cache and reaches
 * the files. The test therefore checks the log's own bookkeeping across abrupt ends (recovery, torn
 * frames cut by a kill during a write, rotation and the spare segment, positions across restarts),
 * not what a power loss would drop.
 */
class WalCrashTest {

    private static final Logger log = LoggerFactory.getLogger(WalCrashTest.class);

    /** Exit status of a JVM killed by SIGKILL: 128 + 9. */
    private static final int KILLED_BY_SIGKILL = 137;
    private static final long[] SEGMENT_SIZES = {64 * 1024, 128 * 1024, 256 * 1024};
    private static final int[] WRITE_BUFFER_SIZES = {32 * 1024, 256 * 1024, 1 << 20};
    private static final String[] POLICIES = {"group", "group-linger", "none", "interval"};
    private static final Duration CHILD_TIMEOUT = Duration.ofSeconds(60);

    /** Kept when the test fails: the log, and each child's stderr as child-&lt;round&gt;.log. */
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    @Test
    @Timeout(value = 2, unit = TimeUnit.HOURS) // rounds have their own, much shorter timeouts
    void recoverAfterSigkillKeepsEveryAcknowledgedRecord() throws Exception {
        int rounds = Integer.getInteger("laminar.crash.rounds", 20);
        long seed = Long.getLong("laminar.crash.seed", System.nanoTime());
        log.info("WAL crash test: {} rounds, seed {} (replay with -Dlaminar.crash.seed={})", rounds, seed, seed);
        var random = new Random(seed);
        var logDir = tmp.resolve("log");
        var state = new LogState();
        long started = System.nanoTime();
        int roundsWithAcks = 0;
        long totalAcks = 0;
        int tornTails = 0;
        for (int round = 0; round < rounds; round++) {
            var plan = Plan.draw(random, round);
            var context = "seed " + seed + ", round " + round + " (" + plan + "), log in " + logDir;
            var stderr = tmp.resolve("child-" + round + ".log");
            try {
                var child = runAndKill(logDir, plan, stderr);
                var outcome = state.verify(logDir, plan, child);
                totalAcks += child.acks.size();
                roundsWithAcks += child.acks.isEmpty() ? 0 : 1;
                tornTails += outcome.tornTailBytes > 0 ? 1 : 0;
                log.info("round {}: {}, killed {} ms after {}, {} records acknowledged, reopened {}", round, plan,
                        plan.killAfterMillis, plan.waitForReady ? "READY" : "start", child.acks.size(), outcome);
            } catch (AssertionError | Exception e) {
                throw new AssertionError(context + ": " + e.getMessage() + "\nThe child's stderr:\n" + tail(stderr), e);
            }
        }
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
        log.info("WAL crash test: {} rounds in {} s, {} with acknowledged records, {} acknowledged in all, "
                + "{} torn tails cut, log end at position {}", rounds, seconds, roundsWithAcks, totalAcks, tornTails,
                state.end);
        // A kill before anything was written proves nothing: most rounds must have acknowledged records.
        assertThat(roundsWithAcks).as("rounds whose child acknowledged records (seed %d)", seed)
                .isGreaterThanOrEqualTo((int) Math.ceil(rounds * 0.6));
        assertThat(state.end).as("log end: past one segment, so segments rotated")
                .isGreaterThan(SEGMENT_SIZES[SEGMENT_SIZES.length - 1]);
    }

    // ---- one round ----------------------------------------------------------------------------

    /** What to run in one round and when to kill it. */
    record Plan(int round, int writers, long segmentSize, int writeBufferSize, String policy, boolean waitForReady,
                long killAfterMillis) {

        static Plan draw(Random random, int round) {
            var policy = round % 4 == 3 ? "every" : POLICIES[random.nextInt(POLICIES.length)];
            boolean waitForReady = random.nextInt(10) != 0; // one round in ten is killed while it starts or recovers
            long killAfter = waitForReady ? 10 + random.nextInt(400) : random.nextInt(800);
            return new Plan(round, 2 + random.nextInt(3), SEGMENT_SIZES[random.nextInt(SEGMENT_SIZES.length)],
                    WRITE_BUFFER_SIZES[random.nextInt(WRITE_BUFFER_SIZES.length)], policy, waitForReady, killAfter);
        }

        @Override
        public String toString() {
            return writers + " writers, " + (segmentSize >> 10) + " KiB segments, " + (writeBufferSize >> 10)
                    + " KiB buffer, policy " + policy;
        }
    }

    /** What the child printed before it was killed. */
    record ChildRun(List<Ack> acks, long openStart, long openEnd, long openTorn, boolean opened) {
    }

    record Ack(int round, int writer, int seq, long position) {
    }

    private static ChildRun runAndKill(Path logDir, Plan plan, Path stderr) throws Exception {
        var java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        var command = List.of(java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=info", WalTestBackend.childJvmArgument(),
                "-cp", System.getProperty("java.class.path"), WalCrashChild.class.getName(),
                logDir.toString(), Integer.toString(plan.round), Integer.toString(plan.writers),
                Long.toString(plan.segmentSize), Integer.toString(plan.writeBufferSize), plan.policy);
        var process = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
        var lines = new CopyOnWriteArrayList<String>();
        var ready = new CountDownLatch(1);
        var reader = new Thread(() -> readLines(process.getInputStream(), lines, ready), "crash-child-stdout");
        reader.start();
        try {
            if (plan.waitForReady) {
                long deadline = System.nanoTime() + CHILD_TIMEOUT.toNanos();
                while (!ready.await(50, TimeUnit.MILLISECONDS) && process.isAlive() && System.nanoTime() < deadline) {
                    // wait for READY, unless the child died or hangs
                }
                assertThat(ready.getCount()).as("the child printed READY within %s; its output: %s", CHILD_TIMEOUT,
                        lines).isZero();
            }
            Thread.sleep(plan.killAfterMillis);
            assertThat(process.isAlive()).as("the child is still running before the kill").isTrue();
            // SIGKILL (checked by the exit status below). Through the ProcessHandle: Process.destroyForcibly() also
            // closes our end of the child's stdout, which would throw away the lines not read yet.
            assertThat(process.toHandle().destroyForcibly()).as("kill requested").isTrue();
            assertThat(process.waitFor(CHILD_TIMEOUT.toSeconds(), TimeUnit.SECONDS)).as("the child died").isTrue();
            assertThat(process.exitValue()).as("exit status of the killed child (128 + SIGKILL)")
                    .isEqualTo(KILLED_BY_SIGKILL);
            reader.join(CHILD_TIMEOUT.toMillis());
            assertThat(reader.isAlive()).as("the child's stdout was read to its end").isFalse();
        } finally {
            if (process.isAlive()) {
                process.destroyForcibly();
                process.waitFor(CHILD_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            }
        }
        var acks = new ArrayList<Ack>();
        long openStart = -1;
        long openEnd = -1;
        long openTorn = -1;
        boolean opened = false;
        for (var line : lines) {
            var f = line.split(" ");
            switch (f[0]) {
                case "A" -> acks.add(new Ack(Integer.parseInt(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3]),
                        Long.parseLong(f[4])));
                case "OPEN" -> {
                    opened = true;
                    openStart = Long.parseLong(f[1]);
                    openEnd = Long.parseLong(f[2]);
                    openTorn = Long.parseLong(f[3]);
                }
                case "READY" -> {
                }
                default -> throw new AssertionError("the child reported: " + line);
            }
        }
        return new ChildRun(acks, openStart, openEnd, openTorn, opened);
    }

    /** Collects the complete lines: a line the kill cut short has no newline and is dropped. */
    private static void readLines(InputStream in, List<String> lines, CountDownLatch ready) {
        var buffer = new byte[64 * 1024];
        var line = new StringBuilder();
        try (in) {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                for (int i = 0; i < n; i++) {
                    char c = (char) (buffer[i] & 0xff);
                    if (c != '\n') {
                        line.append(c);
                        continue;
                    }
                    var complete = line.toString();
                    line.setLength(0);
                    lines.add(complete);
                    if (complete.equals("READY")) {
                        ready.countDown();
                    }
                }
            }
        } catch (IOException e) {
            lines.add("ERROR reading the child's stdout: " + e);
        }
    }

    private static String tail(Path file) {
        try {
            var text = Files.readString(file, StandardCharsets.UTF_8);
            return text.length() <= 4000 ? text : "..." + text.substring(text.length() - 4000);
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e + ")";
        }
    }

    // ---- what the log must hold ---------------------------------------------------------------

    /** What the reopen found, for the round's log line. */
    record Outcome(long startPosition, long endPosition, long records, int segments, long tornTailBytes) {
        @Override
        public String toString() {
            return records + " records in " + segments + " segments, positions " + startPosition + " to "
                    + endPosition + ", torn tail " + tornTailBytes + " bytes";
        }
    }

    /** One round as the test remembers it. */
    static final class RoundLog {
        final Plan plan;
        /** The log's end when the round's child started: every position it got is at least this. */
        final long start;
        /** Acknowledged positions by writer and seq. */
        final Map<Integer, TreeMap<Integer, Long>> acked = new HashMap<>();
        /** The highest seq of each writer found by the reopen after this round, once verified. */
        final Map<Integer, Integer> foundMaxSeq = new HashMap<>();

        RoundLog(Plan plan, long start) {
            this.plan = plan;
            this.start = start;
        }

        int maxAcked(int writer) {
            var seqs = acked.get(writer);
            return seqs == null ? -1 : seqs.lastKey();
        }
    }

    /** Everything acknowledged so far, and what the log looked like after the last reopen. */
    static final class LogState {
        final TreeMap<Integer, RoundLog> rounds = new TreeMap<>();
        long start;
        long end;

        Outcome verify(Path logDir, Plan plan, ChildRun child) throws IOException {
            var round = new RoundLog(plan, end);
            rounds.put(plan.round, round);
            if (child.opened) {
                assertThat(child.openStart).as("start position the child opened").isEqualTo(start);
                assertThat(child.openEnd).as("end position the child opened (after the last check)").isEqualTo(end);
                assertThat(child.openTorn).as("torn tail the child found after the test's own reopen").isZero();
            }
            for (var ack : child.acks) {
                assertThat(ack.round).isEqualTo(plan.round);
                assertThat(ack.writer).isBetween(0, plan.writers - 1);
                assertThat(ack.position).as("acknowledged position of %s: positions keep growing across rounds",
                        ack).isGreaterThanOrEqualTo(round.start);
                var previous = round.acked.computeIfAbsent(ack.writer, w -> new TreeMap<>()).put(ack.seq, ack.position);
                assertThat(previous).as("%s acknowledged twice", ack).isNull();
            }

            var options = WalTestBackend.options().name(WalCrashChild.LOG_NAME).segmentSize(64 * 1024)
                    .maxRecordSize(WalCrashChild.MAX_RECORD_SIZE).build();
            try (var wal = WriteAheadLog.open(logDir, options)) {
                var report = wal.recoveryReport();
                var outcome = checkReport(logDir, wal, report);
                var found = readEverything(wal, report);
                checkRounds(wal, found);
                start = wal.startPosition();
                end = wal.endPosition();
                // Keep the log small over hundreds of rounds, as a checkpoint would: drop what lies before
                // the previous round. Its records and this round's stay, and are checked again next round.
                var previous = rounds.lowerEntry(plan.round);
                if (previous != null && previous.getValue().start > start) {
                    wal.truncateBefore(previous.getValue().start);
                    start = wal.startPosition();
                    assertThat(start).isLessThanOrEqualTo(previous.getValue().start);
                }
                // Forget the rounds whose records all lie before the log's start now.
                for (var first = rounds.firstEntry(); rounds.size() > 1; first = rounds.firstEntry()) {
                    if (rounds.higherEntry(first.getKey()).getValue().start > start) {
                        break;
                    }
                    rounds.remove(first.getKey());
                }
                return outcome;
            }
        }

        /** What the reopen reports must agree with the log and the files. */
        private Outcome checkReport(Path logDir, WriteAheadLog wal, WalRecoveryReport report) throws IOException {
            assertThat(report.dropped()).as("regions dropped as corrupt").isEmpty();
            assertThat(report.startPosition()).isEqualTo(wal.startPosition()).isEqualTo(start);
            assertThat(report.endPosition()).as("end position")
                    .isEqualTo(wal.endPosition()).isEqualTo(wal.writtenPosition()).isEqualTo(wal.durablePosition())
                    .isGreaterThanOrEqualTo(end);
            assertThat(report.endPosition() % WalFormat.ALIGNMENT).isZero();
            assertThat(report.tornTailBytes()).as("torn tail").isBetween(0L, SEGMENT_SIZES[SEGMENT_SIZES.length - 1]);
            assertThat(wal.statistics().tornTailRepairs()).isEqualTo(report.tornTailBytes() > 0 ? 1 : 0);
            assertThat(wal.statistics().truncatedBytes()).isEqualTo(report.tornTailBytes());
            assertThat(report.duration()).isBetween(Duration.ZERO, Duration.ofSeconds(30));
            List<String> segmentNames;
            try (Stream<Path> files = Files.list(logDir)) {
                segmentNames = files.map(p -> p.getFileName().toString())
                        .filter(n -> WalFileNames.segmentBase(WalCrashChild.LOG_NAME, n) >= 0).sorted().toList();
            }
            assertThat(report.segments()).as("segments reported vs files %s", segmentNames)
                    .isEqualTo(segmentNames.size()).isPositive();
            assertThat(WalFileNames.segmentBase(WalCrashChild.LOG_NAME, segmentNames.get(0)))
                    .as("base of the oldest segment").isEqualTo(report.startPosition());
            return new Outcome(report.startPosition(), report.endPosition(), report.records(), report.segments(),
                    report.tornTailBytes());
        }

        /**
         * Reads the log from its start: positions follow one another without a hole, and every
         * record is one a child appended, byte for byte. Returns them by id.
         */
        private Map<Integer, Map<Integer, TreeMap<Integer, Long>>> readEverything(WriteAheadLog wal,
                                                                                 WalRecoveryReport report) {
            var found = new HashMap<Integer, Map<Integer, TreeMap<Integer, Long>>>(); // round -> writer -> seq -> position
            long expected = wal.startPosition();
            long records = 0;
            try (var reader = wal.reader()) {
                for (WalRecord r; (r = reader.next()) != null; ) {
                    assertThat(r.position()).as("position of the record after %d", expected).isEqualTo(expected);
                    var bytes = r.payloadBytes();
                    var id = idOf(r.position(), bytes);
                    var previous = found.computeIfAbsent(id.round, k -> new HashMap<>())
                            .computeIfAbsent(id.writer, k -> new TreeMap<>()).put(id.seq, r.position());
                    if (previous != null) {
                        throw new AssertionError(id + " is in the log twice, at " + previous + " and " + r.position());
                    }
                    expected = r.nextPosition();
                    records++;
                }
            }
            assertThat(expected).as("where reading stopped vs the end position").isEqualTo(wal.endPosition());
            assertThat(records).as("records read vs records reported").isEqualTo(report.records());
            return found;
        }

        /** The record at {@code position} must be a payload some child appended: no garbage. */
        private Ack idOf(long position, byte[] bytes) {
            if (bytes.length < WalCrashChild.HEADER || ByteBuffer.wrap(bytes).getInt(0) != WalCrashChild.MAGIC) {
                throw new AssertionError("the record at position " + position + " (" + bytes.length
                        + " bytes) is not a payload any child wrote");
            }
            var header = ByteBuffer.wrap(bytes);
            var id = new Ack(header.getInt(4), header.getInt(8), header.getInt(12), position);
            var round = rounds.get(id.round);
            if (round == null || id.writer < 0 || id.writer >= round.plan.writers || id.seq < 0) {
                throw new AssertionError("the record at position " + position + " claims to be " + id
                        + ", which no child of the rounds still in the log " + rounds.keySet() + " wrote");
            }
            if (!Arrays.equals(bytes, WalCrashChild.payload(id.round, id.writer, id.seq))) {
                throw new AssertionError("the record at position " + position + " has the header of " + id
                        + " but not its bytes (" + bytes.length + " bytes)");
            }
            return id;
        }

        /**
         * Per round and writer: every acknowledged record is at its acknowledged position; the
         * records found are consecutive seqs (from 0 unless truncated), in position order, no more
         * than {@link WalCrashChild#MAX_IN_FLIGHT} past the last acknowledged one (a writer never
         * has more unacknowledged records than that), and what a previous reopen found is still
         * there and nothing was added to it.
         */
        private void checkRounds(WriteAheadLog wal, Map<Integer, Map<Integer, TreeMap<Integer, Long>>> found) {
            long logStart = wal.startPosition();
            for (var round : rounds.values()) {
                var byWriter = found.getOrDefault(round.plan.round, Map.of());
                for (int writer = 0; writer < round.plan.writers; writer++) {
                    var what = "round " + round.plan.round + " writer " + writer;
                    var seqs = byWriter.getOrDefault(writer, new TreeMap<>());
                    for (var ack : round.acked.getOrDefault(writer, new TreeMap<>()).entrySet()) {
                        if (ack.getValue() >= logStart) {
                            assertThat(seqs.get(ack.getKey())).as("%s seq %d acknowledged at position %d", what,
                                    ack.getKey(), ack.getValue()).isEqualTo(ack.getValue());
                        }
                    }
                    Integer previousMax = round.foundMaxSeq.get(writer);
                    if (seqs.isEmpty()) {
                        if (round.start >= logStart) {
                            assertThat(previousMax).as("%s: records found by an earlier reopen", what).isNull();
                        }
                        continue;
                    }
                    int min = seqs.firstKey();
                    int max = seqs.lastKey();
                    assertThat(seqs.size()).as("%s: seqs %d to %d without a hole", what, min, max)
                            .isEqualTo(max - min + 1);
                    long last = -1;
                    for (long position : seqs.values()) {
                        assertThat(position).as("%s: positions grow with seq", what).isGreaterThan(last);
                        last = position;
                    }
                    if (round.start >= logStart) {
                        assertThat(min).as("%s: first seq", what).isZero();
                    }
                    int maxAcked = round.maxAcked(writer);
                    assertThat(max).as("%s: last seq found vs last acknowledged %d", what, maxAcked)
                            .isBetween(maxAcked, maxAcked + WalCrashChild.MAX_IN_FLIGHT);
                    if (previousMax != null) {
                        assertThat(max).as("%s: last seq found vs found by the previous reopen", what)
                                .isEqualTo(previousMax);
                    }
                    round.foundMaxSeq.put(writer, max);
                }
            }
        }
    }
}

package io.laminar.storage.bench.checkpoint;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.ClosedLoop;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/**
 * {@code ring0-during-checkpoint}: both core threads put at a fixed rate (in 1 ms ticks: the tick's
 * puts back to back, each timed with {@code System.nanoTime()}, then the thread parks until the next
 * tick, leaving the CPUs to the drainer, the syncers and the checkpoint thread), each put
 * overwriting a random existing key with a 1 KiB value and preceded by {@code pollCheckpoint}, as a
 * core's loop would.
 *
 * <p>First the run puts with no checkpoint ever taken, for as long as all its baseline phases
 * together (system {@code none}: the same run without checkpoints, the target's reference). Then
 * each round takes a FULL checkpoint of the whole state, measured from trigger to completion
 * (system {@code laminar}), and goes on for {@code ring0Baseline} after it (system
 * {@code between}). From the first checkpoint on, the first write to each key after a cut copies
 * the value it replaces into the undo log that the cut's snapshot reads, during a checkpoint and
 * between checkpoints alike, which is why both are compared with {@code none}. Every phase's puts
 * go into one histogram per system; {@code p99Ratio} is laminar's p99 over none's,
 * {@code p99RatioBetween} over between's.
 */
public final class Ring0DuringCheckpointScenario implements Scenario {

    public static final String NAME = "ring0-during-checkpoint";
    private static final long TICK_NANOS = 1_000_000;

    @Override
    public String name() {
        return NAME;
    }

    /** Phase written by the coordinating thread, read by the core threads: where puts are recorded. */
    private static final int WARMUP = 0;
    private static final int BASELINE = 1;
    private static final int CHECKPOINT = 2;
    private static final int NEVER = 3;
    private static final int PHASES = 4;

    private volatile int phase = WARMUP;
    private volatile boolean stop;

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        var s = CheckpointSettings.forRun(context.settings().quick());
        var dir = context.newDirectory(NAME, s.quietDiskWaitMillis());
        phase = WARMUP;
        stop = false;
        int perTick = Math.max(1, (int) (s.ring0RatePerCore() * TICK_NANOS / 1_000_000_000L));
        var histograms = new Histogram[CheckpointFixture.CORES][PHASES];
        var puts = new long[CheckpointFixture.CORES][PHASES];
        var late = new long[CheckpointFixture.CORES];
        try (var fixture = new CheckpointFixture(dir, s.stateBytes(), 0)) {
            var loops = new ArrayList<CompletableFuture<Long>>();
            for (int core = 0; core < CheckpointFixture.CORES; core++) {
                int c = core;
                for (int p = 0; p < PHASES; p++) {
                    histograms[c][p] = ClosedLoop.newHistogram();
                }
                loops.add(fixture.run(core, (store, changelog) -> {
                    var random = new SplittableRandom(100 + c);
                    var key = new byte[CheckpointFixture.KEY_BYTES];
                    var values = new byte[16][CheckpointFixture.VALUE_BYTES];
                    for (var v : values) {
                        CheckpointFixture.fill(random, v);
                    }
                    var offsets = Map.of("core", Integer.toString(c));
                    long next = System.nanoTime();
                    long n = 0;
                    while (!stop) {
                        int p = phase;
                        var h = histograms[c][p];
                        for (int i = 0; i < perTick; i++) {
                            changelog.pollCheckpoint(store, () -> offsets);
                            CheckpointFixture.key(c, random.nextLong(fixture.entriesPerCore), key);
                            var value = values[(int) (n++ & 15)];
                            long t0 = System.nanoTime();
                            store.put(key, value);
                            h.recordValue(System.nanoTime() - t0);
                        }
                        puts[c][p] += perTick;
                        next += TICK_NANOS;
                        long now = System.nanoTime();
                        if (now < next) {
                            LockSupport.parkNanos(next - now);
                        } else {
                            late[c] = Math.max(late[c], now - next);
                        }
                    }
                    return n;
                }));
            }
            Thread.sleep(1000); // warm-up: JIT, pools, WAL buffers
            var checkpointSeconds = new ArrayList<Double>();
            var baselineP99 = new ArrayList<Double>();
            var checkpointP99 = new ArrayList<Double>();
            var measured = new Measured(fixture, histograms);
            measured.phase(NEVER, () -> Thread.sleep(s.ring0Baseline().toMillis() * s.ring0Rounds()));
            for (int round = 0; round < s.ring0Rounds(); round++) {
                checkpointP99.add(measured.phase(CHECKPOINT,
                        () -> checkpointSeconds.add(Result.round(fixture.checkpoint().seconds(), 3))));
                Thread.sleep(500); // a gap, so that the checkpoint's last moments are in neither phase
                baselineP99.add(measured.phase(BASELINE, () -> Thread.sleep(s.ring0Baseline().toMillis())));
            }
            stop = true;
            for (var loop : loops) {
                loop.join();
            }
            var rows = new ArrayList<Result>();
            rows.add(row("laminar", merged(histograms, CHECKPOINT), puts, CHECKPOINT, measured.seconds[CHECKPOINT],
                    measured.bpWaits[CHECKPOINT], s, perTick).extra("checkpointSeconds", checkpointSeconds)
                    .extra("runsP99Micros", checkpointP99));
            rows.add(row("between", merged(histograms, BASELINE), puts, BASELINE, measured.seconds[BASELINE],
                    measured.bpWaits[BASELINE], s, perTick).extra("runsP99Micros", baselineP99));
            rows.add(row("none", merged(histograms, NEVER), puts, NEVER, measured.seconds[NEVER],
                    measured.bpWaits[NEVER], s, perTick));
            var ck = rows.get(0);
            ck.extra("p99Ratio", Result.round(ck.p99Micros() / rows.get(2).p99Micros(), 3));
            ck.extra("p99RatioBetween", Result.round(ck.p99Micros() / rows.get(1).p99Micros(), 3));
            ck.extra("maxLateMicros", Result.round(Math.max(late[0], late[1]) / 1e3, 1));
            return rows;
        } finally {
            stop = true;
            BenchContext.deleteTree(dir);
        }
    }

    /** What a phase's body does while the core threads record into the phase's histograms. */
    private interface PhaseBody {
        void run() throws Exception;
    }

    /** Runs phases and sums each phase's seconds and backpressure waits. Coordinating thread only. */
    private final class Measured {
        private final CheckpointFixture fixture;
        private final Histogram[][] histograms;
        final double[] seconds = new double[PHASES];
        final long[] bpWaits = new long[PHASES];

        Measured(CheckpointFixture fixture, Histogram[][] histograms) {
            this.fixture = fixture;
            this.histograms = histograms;
        }

        /** Records the core threads' puts into {@code p} while {@code body} runs; returns this run's p99 in us. */
        double phase(int p, PhaseBody body) throws Exception {
            var before = snapshot(histograms, p);
            long waits = fixture.backpressureWaits();
            long start = System.nanoTime();
            phase = p;
            body.run();
            phase = WARMUP;
            Thread.sleep(5); // a tick under way finishes recording
            seconds[p] += (System.nanoTime() - start) / 1e9;
            bpWaits[p] += fixture.backpressureWaits() - waits;
            return p99Since(histograms, p, before);
        }
    }

    private static Result row(String system, Histogram h, long[][] puts, int phase, double seconds, long waits,
                              CheckpointSettings s, int perTick) {
        long total = 0;
        for (long[] core : puts) {
            total += core[phase];
        }
        return new Result(NAME, system, CheckpointFixture.CORES, CheckpointFixture.VALUE_BYTES)
                .recordsPerSecond(total, seconds).latency(h)
                .extra("seconds", Result.round(seconds, 3))
                .extra("targetRatePerCore", s.ring0RatePerCore())
                .extra("putsPerTick", perTick)
                .extra("backpressureWaits", waits);
    }

    private static Histogram merged(Histogram[][] histograms, int phase) {
        var h = ClosedLoop.newHistogram();
        for (var core : histograms) {
            h.add(core[phase]);
        }
        return h;
    }

    /** Copies of the phase's histograms (the core threads do not record into it while not in it). */
    private static Histogram snapshot(Histogram[][] histograms, int phase) {
        return merged(histograms, phase).copy();
    }

    private static double p99Since(Histogram[][] histograms, int phase, Histogram before) {
        var now = merged(histograms, phase);
        now.subtract(before);
        return Result.round(now.getValueAtPercentile(99) / 1e3, 3);
    }
}

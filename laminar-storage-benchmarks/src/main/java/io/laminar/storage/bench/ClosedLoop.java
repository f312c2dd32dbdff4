package io.laminar.storage.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/**
 * Runs an operation in a closed loop on N threads (each starts its next operation as soon as the
 * previous one returns): a warm-up, then a measured phase in which every operation is timed with
 * {@link System#nanoTime()} into an HdrHistogram.
 *
 * <p>All threads share one schedule: warm-up from a common start, measurement from a common
 * instant, so the coordinating thread can snapshot counters (e.g. {@code WalStatistics}) at the
 * boundaries. An operation counts as measured if it started inside the measured phase.
 */
public final class ClosedLoop {

    /** One thread's operation. Created on, and used only by, the thread that runs it. */
    @FunctionalInterface
    public interface Op {
        void run() throws Exception;
    }

    /** Creates a thread's {@link Op} on that thread (Chronicle appenders, for one, are per thread). */
    @FunctionalInterface
    public interface OpFactory {
        Op create(int thread) throws Exception;
    }

    /** Called by the coordinating thread when the measured phase starts and after it ended. */
    public interface PhaseListener {
        PhaseListener NONE = new PhaseListener() {
        };

        default void measureStarted() {
        }

        default void measureEnded() {
        }
    }

    /**
     * What was measured.
     *
     * @param ops     operations started in the measured phase (all threads)
     * @param seconds from the start of the measured phase to the end of the last measured operation
     * @param nanos   latency of every measured operation, in nanoseconds
     */
    public record Measurement(long ops, double seconds, Histogram nanos) {
    }

    /**
     * A phase: it ends after {@code duration} or after {@code maxOps} operations of a thread,
     * whichever comes first.
     */
    public record Phase(Duration duration, long maxOps) {
        public static Phase of(Duration duration) {
            return new Phase(duration, Long.MAX_VALUE);
        }
    }

    private ClosedLoop() {
    }

    /** Latency histograms track up to one minute at three significant digits. */
    public static Histogram newHistogram() {
        return new Histogram(60_000_000_000L, 3);
    }

    public static Measurement run(int threads, OpFactory factory, Phase warmup, Phase measure) throws Exception {
        return run(threads, factory, warmup, measure, PhaseListener.NONE);
    }

    public static Measurement run(int threads, OpFactory factory, Phase warmup, Phase measure,
                                  PhaseListener listener) throws Exception {
        var ready = new CountDownLatch(threads);
        var go = new CountDownLatch(1);
        var schedule = new long[2]; // measure start, measure end; published by the latch
        var failure = new AtomicReference<Throwable>();
        var histograms = new Histogram[threads];
        var ops = new long[threads];
        var lastEnd = new long[threads];
        var workers = new ArrayList<Thread>();
        for (int t = 0; t < threads; t++) {
            int index = t;
            var worker = new Thread(() -> {
                var histogram = newHistogram();
                histograms[index] = histogram;
                try {
                    Op op;
                    try {
                        op = factory.create(index);
                    } finally {
                        ready.countDown();
                    }
                    go.await();
                    loop(op, histogram, schedule[0], schedule[1], warmup.maxOps(), measure.maxOps(),
                            ops, lastEnd, index);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }, "bench-worker-" + t);
            worker.setDaemon(true);
            workers.add(worker);
            worker.start();
        }
        ready.await();
        if (failure.get() != null) {
            go.countDown();
            joinAll(workers);
            throw asException(failure.get());
        }
        long start = System.nanoTime();
        schedule[0] = start + warmup.duration().toNanos();
        schedule[1] = schedule[0] + measure.duration().toNanos();
        go.countDown();
        sleepUntil(schedule[0]);
        listener.measureStarted();
        joinAll(workers);
        listener.measureEnded();
        if (failure.get() != null) {
            throw asException(failure.get());
        }
        var merged = newHistogram();
        long totalOps = 0;
        long end = schedule[0];
        for (int t = 0; t < threads; t++) {
            merged.add(histograms[t]);
            totalOps += ops[t];
            end = Math.max(end, lastEnd[t]);
        }
        return new Measurement(totalOps, Math.max(1, end - schedule[0]) / 1e9, merged);
    }

    // One loop for warm-up and measurement, so the JIT compiles the measured code during warm-up.
    private static void loop(Op op, Histogram histogram, long measureStart, long measureEnd, long maxWarmupOps,
                             long maxMeasuredOps, long[] opsOut, long[] lastEndOut, int index) throws Exception {
        long warmupOps = 0;
        long measured = 0;
        long last = measureStart;
        while (true) {
            long t0 = System.nanoTime();
            if (t0 >= measureEnd || measured >= maxMeasuredOps) {
                break;
            }
            if (t0 < measureStart && warmupOps >= maxWarmupOps) {
                sleepUntil(measureStart); // warm-up cap reached: wait for the common measured phase
                continue;
            }
            op.run();
            long t1 = System.nanoTime();
            if (t0 >= measureStart) {
                histogram.recordValue(t1 - t0);
                measured++;
                last = t1;
            } else {
                warmupOps++;
            }
        }
        opsOut[index] = measured;
        lastEndOut[index] = last;
    }

    /** What one {@code System.nanoTime()} pair costs here; it is included in every latency sample. */
    public static double timerOverheadNanos() {
        long sink = 0;
        int n = 2_000_000;
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            sink += System.nanoTime();
        }
        long per = (System.nanoTime() - start) / n;
        return sink == 42 ? -1 : per;
    }

    static void sleepUntil(long deadline) {
        for (long left; (left = deadline - System.nanoTime()) > 0; ) {
            LockSupport.parkNanos(Math.min(left, 50_000_000L));
        }
    }

    private static void joinAll(Iterable<Thread> threads) throws InterruptedException {
        for (var thread : threads) {
            thread.join();
        }
    }

    private static Exception asException(Throwable e) {
        return e instanceof Exception ex ? ex : new RuntimeException(e);
    }
}

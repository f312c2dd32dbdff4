package io.laminar.storage.bench.percore;

import io.laminar.storage.bench.ClosedLoop;
import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/**
 * Core threads that put into their durable stores, either as fast as they can or paced, while this
 * (coordinating) thread reads the durable counters at the boundaries of the measured phase and
 * truncates the logs behind the durable position once a second so long runs do not fill the disk.
 */
final class CoreLoops {

    /** Puts checked against the clock at once by the flat-out loop (about 10-50 us of puts). */
    private static final int BATCH = 256;

    /**
     * What a run measured.
     *
     * @param seconds          length of the measured phase, as the coordinator saw it
     * @param published        puts (changes published) by all cores in the measured phase
     * @param durable          changes of all cores that became durable in the measured phase
     * @param drainLagMillis   from the end of the measured phase until every change was durable
     *                         (negative if that took more than a minute)
     * @param backpressureWaits times a core thread found its queue full, in the measured phase
     * @param backpressureWaitMicros time core threads spent waiting, in the measured phase
     * @param bufferFullWaits  times the drainer found a core's WAL write buffer full, in the measured phase
     * @param latency          paced runs: latency of every measured put (ns); null otherwise
     * @param maxLateNanos     paced runs: how late the latest put started against its schedule
     * @param logBytes         bytes by which the cores' durable WAL positions advanced in the measured phase
     */
    record Run(double seconds, long published, long durable, double drainLagMillis, long backpressureWaits,
               double backpressureWaitMicros, long bufferFullWaits, Histogram latency, long maxLateNanos,
               long logBytes) {

        double publishedPerSec() {
            return published / seconds;
        }

        double durablePerSec() {
            return durable / seconds;
        }
    }

    private CoreLoops() {
    }

    /** {@code cores} core threads, one per core of the fixture, each putting as fast as it can. */
    static Run flatOut(Ring0Fixture fixture, Duration warmup, Duration measure) throws Exception {
        return run(fixture, warmup, measure, 0);
    }

    /** One core thread putting {@code rate} times a second on a fixed schedule (it spins between puts). */
    static Run paced(Ring0Fixture fixture, Duration warmup, Duration measure, int rate) throws Exception {
        return run(fixture, warmup, measure, rate);
    }

    private static Run run(Ring0Fixture fixture, Duration warmup, Duration measure, int rate) throws Exception {
        int cores = fixture.cores();
        var ready = new CountDownLatch(cores);
        var go = new CountDownLatch(1);
        var schedule = new long[2]; // measure start, measure end; published by the latch
        var puts = new long[cores][2];
        var histograms = new Histogram[cores];
        var late = new long[cores];
        var failure = new AtomicReference<Throwable>();
        var threads = new ArrayList<Thread>();
        for (int c = 0; c < cores; c++) {
            int core = c;
            var thread = new Thread(() -> {
                try {
                    Ring0Fixture.Putter putter;
                    try {
                        putter = fixture.putter(core);
                        putter.fill();
                    } finally {
                        ready.countDown();
                    }
                    go.await();
                    if (rate > 0) {
                        histograms[core] = ClosedLoop.newHistogram();
                        late[core] = pacedLoop(putter, rate, schedule[0], schedule[1], puts[core], histograms[core]);
                    } else {
                        flatOutLoop(putter, schedule[0], schedule[1], puts[core]);
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }, "core-" + core);
            thread.setDaemon(true);
            threads.add(thread);
            thread.start();
        }
        ready.await();
        if (failure.get() != null) {
            go.countDown();
            join(threads);
            throw new IllegalStateException("a core thread failed", failure.get());
        }
        long start = System.nanoTime();
        schedule[0] = start + warmup.toNanos();
        schedule[1] = schedule[0] + measure.toNanos();
        go.countDown();
        sleepUntil(schedule[0], fixture);
        long t0 = System.nanoTime();
        long durable0 = durable(fixture);
        long log0 = durablePositions(fixture);
        long waits0 = fixture.backpressureWaits();
        long waitNanos0 = fixture.backpressureWaitNanos();
        long full0 = bufferFullWaits(fixture);
        fixture.io.reset();
        sleepUntil(schedule[1], fixture);
        long t1 = System.nanoTime();
        long durable1 = durable(fixture);
        long log1 = durablePositions(fixture);
        long waits1 = fixture.backpressureWaits();
        long waitNanos1 = fixture.backpressureWaitNanos();
        long full1 = bufferFullWaits(fixture);
        join(threads);
        if (failure.get() != null) {
            throw new IllegalStateException("a core thread failed", failure.get());
        }
        long published = 0;
        boolean allDurable = true;
        for (int core = 0; core < cores; core++) {
            published += puts[core][1] - puts[core][0];
            allDurable &= fixture.awaitDurable(core, puts[core][1], 60);
        }
        double lag = allDurable ? (System.nanoTime() - schedule[1]) / 1e6 : -1;
        Histogram latency = null;
        long maxLate = 0;
        if (rate > 0) {
            latency = ClosedLoop.newHistogram();
            for (int core = 0; core < cores; core++) {
                latency.add(histograms[core]);
                maxLate = Math.max(maxLate, late[core]);
            }
        }
        return new Run((t1 - t0) / 1e9, published, durable1 - durable0, lag, waits1 - waits0,
                (waitNanos1 - waitNanos0) / 1e3, full1 - full0, latency, maxLate, log1 - log0);
    }

    private static void flatOutLoop(Ring0Fixture.Putter putter, long measureStart, long measureEnd, long[] puts) {
        boolean measuring = false;
        while (true) {
            for (int i = 0; i < BATCH; i++) {
                putter.put();
            }
            long now = System.nanoTime();
            if (!measuring && now >= measureStart) {
                puts[0] = putter.puts();
                measuring = true;
            }
            if (now >= measureEnd) {
                puts[1] = putter.puts();
                return;
            }
        }
    }

    /** Returns how late the latest measured put started. */
    private static long pacedLoop(Ring0Fixture.Putter putter, int rate, long measureStart, long measureEnd,
                                  long[] puts, Histogram latency) {
        double interval = 1e9 / rate;
        long begin = System.nanoTime();
        long n = 0;
        long maxLate = 0;
        boolean measuring = false;
        while (true) {
            long due = begin + (long) (n * interval);
            long now;
            while ((now = System.nanoTime()) < due) {
                Thread.onSpinWait();
            }
            if (now >= measureEnd) {
                puts[1] = putter.puts();
                return maxLate;
            }
            if (!measuring && due >= measureStart) {
                puts[0] = putter.puts();
                measuring = true;
            }
            long t0 = System.nanoTime();
            putter.put();
            long t1 = System.nanoTime();
            if (measuring) {
                latency.recordValue(t1 - t0);
                maxLate = Math.max(maxLate, t0 - due);
            }
            n++;
        }
    }

    private static long durable(Ring0Fixture fixture) {
        long sum = 0;
        for (int core = 0; core < fixture.cores(); core++) {
            sum += fixture.durableChanges(core);
        }
        return sum;
    }

    private static long durablePositions(Ring0Fixture fixture) {
        long sum = 0;
        for (int core = 0; core < fixture.cores(); core++) {
            sum += fixture.wal.durablePosition(core);
        }
        return sum;
    }

    private static long bufferFullWaits(Ring0Fixture fixture) {
        long sum = 0;
        for (int core = 0; core < fixture.cores(); core++) {
            sum += fixture.walStatistics(core).bufferFullWaits();
        }
        return sum;
    }

    /** Sleeps until {@code deadline}, truncating the logs behind their durable positions once a second. */
    private static void sleepUntil(long deadline, Ring0Fixture fixture) {
        long nextTruncate = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        for (long left; (left = deadline - System.nanoTime()) > 0; ) {
            if (System.nanoTime() >= nextTruncate) {
                fixture.truncateDurable();
                nextTruncate += TimeUnit.SECONDS.toNanos(1);
            }
            LockSupport.parkNanos(Math.min(left, 50_000_000L));
        }
    }

    private static void join(Iterable<Thread> threads) throws InterruptedException {
        for (var thread : threads) {
            thread.join();
        }
    }
}

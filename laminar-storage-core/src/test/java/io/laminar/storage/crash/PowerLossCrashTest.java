package io.laminar.storage.crash;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.wal.SyncPolicy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Power cuts, exhaustively: each workload runs real library code once through a
 * {@link io.laminar.storage.io.PowerLossFileIO}; then {@link PowerLossExplorer} cuts the power at
 * every sync point of the trace and at random write boundaries, in seed-chosen modes, and recovers
 * every crash image with the real open and recovery code. After each it checks that every
 * acknowledged record or operation is there byte for byte and the state equals the model of a
 * prefix of the operations that includes all acknowledged ones; that nothing else comes back; that
 * recovery does not refuse the image (a torn tail reported as corruption, a half-published
 * checkpoint blocking startup); and that it does not start without a checkpoint that had been
 * published.
 *
 * <p>The workloads: {@link WalPowerLossWorkload}, one {@code WriteAheadLog} under each sync policy
 * (rotation, truncation, reopen); {@link CheckpointPowerLossWorkload}, per-core logs with full and
 * incremental checkpoints, retention and truncation, a restart and a new WAL directory adopting the
 * newest checkpoint, once with a checkpoint and a second recovery after each; and
 * {@link RuntimePowerLossWorkload}, the {@code LaminarRuntime} with {@code submitDurable} tasks of
 * several changes on three cores, periodic and triggered checkpoints, a clean close, an abrupt end
 * (a killed process) and restarts through {@code start()}, each crash image started as a runtime and
 * every core's state read with a task. A task is not atomic across a crash (the WAL makes each change
 * durable on its own): an unacknowledged task may be there in part, which the runtime workload
 * counts and logs.
 *
 * <p>{@code -Dlaminar.powerloss.states=N} (10,000 by default, a million under {@code -Pcrash-soak})
 * and {@code -Dlaminar.powerloss.seed=S} to run a seed again. Prints
 * {@code crash states: N, violations: V (seed S)}; a violating image is kept under
 * {@code target/powerloss-failures}. The trace itself depends on thread timing, so a seed
 * reproduces the workload's data and the cut modes; the kept image reproduces the state exactly.
 */
class PowerLossCrashTest {

    private static final Logger log = LoggerFactory.getLogger(PowerLossCrashTest.class);

    @TempDir
    Path tmp;

    static List<PowerLossExplorer.Workload> workloads() {
        var only = System.getProperty("laminar.powerloss.only", "");
        return Stream.of(
                new CheckpointPowerLossWorkload(8, 15, false),
                new CheckpointPowerLossWorkload(5, 10, true),
                new RuntimePowerLossWorkload(false),
                new RescalePowerLossWorkload(),
                new WalPowerLossWorkload("every-append", SyncPolicy.everyAppend()),
                new WalPowerLossWorkload("group-commit", SyncPolicy.groupCommit()),
                new WalPowerLossWorkload("interval", SyncPolicy.interval(Duration.ofMillis(2))),
                new WalPowerLossWorkload("none", SyncPolicy.none()))
                .filter(w -> w.name().startsWith(only)).collect(Collectors.toList());
    }

    /**
     * Shares of the budget: each WAL workload 15, the checkpoint workload 30, with restarts 10 (it
     * costs twice), the runtime 15 (a state costs about three times a checkpoint state: a whole
     * runtime starts on it).
     */
    private static int share(PowerLossExplorer.Workload w) {
        if (w instanceof CheckpointPowerLossWorkload c) {
            return c.name().endsWith("restart") ? 10 : 30;
        }
        if (w instanceof RescalePowerLossWorkload) {
            return 1; // a checked state costs a rescale and a recovery: about 20 times a WAL state
        }
        return 15;
    }

    private static int totalShares(List<PowerLossExplorer.Workload> workloads) {
        return workloads.stream().mapToInt(PowerLossCrashTest::share).sum();
    }

    @Test
    @Timeout(value = 24, unit = TimeUnit.HOURS) // the soak's million states; CI's 10,000 take about a minute
    void everyPowerCutRecoversEveryAcknowledgedRecordAndNothingElse() throws Exception {
        int states = Integer.getInteger("laminar.powerloss.states", 10_000);
        long seed = Long.getLong("laminar.powerloss.seed", System.nanoTime());
        var scratch = Files.isWritable(Path.of("/dev/shm")) ? Files.createTempDirectory(Path.of("/dev/shm"), "powerloss")
                : tmp;
        var explorer = new PowerLossExplorer(scratch, Path.of("target", "powerloss-failures"));
        var workloads = workloads();
        long started = System.nanoTime();
        long total = 0;
        var violations = new ArrayList<String>();
        try {
            var plan = new ArrayList<>(workloads);
            long carry = 0; // states a workload could not use (a point where nothing was pending counts once)
            for (int i = 0; i < plan.size(); i++) {
                var workload = plan.get(i);
                long budget = carry + (i < workloads.size() ? (long) states * share(workload) / totalShares(workloads) : 0);
                long t0 = System.nanoTime();
                // a workload run again to fill the budget runs with the next seed
                var result = explorer.explore(workload, seed + i / workloads.size(), (int) Math.min(Integer.MAX_VALUE, budget));
                log.info("{}: trace of {} operations, {} crash points, {} crash states, {} violations, {} ms",
                        result.workload(), result.traceLength(), result.points(), result.states(),
                        result.violations().size(), (System.nanoTime() - t0) / 1_000_000);
                if (workload instanceof RuntimePowerLossWorkload runtime) {
                    log.info("{}: {} crash states so far with an unacknowledged task there in part (allowed: a task "
                            + "is not atomic across a crash, each change is)", result.workload(), runtime.partialTasks());
                }
                carry = Math.max(0, budget - result.states());
                total += result.states();
                violations.addAll(result.violations());
                if (i == plan.size() - 1 && total < states) {
                    plan.add(workloads.get(workloads.size() - 1));
                    carry = states - total;
                }
            }
        } finally {
            PowerLossExplorer.deleteTree(scratch);
        }
        var summary = "crash states: " + total + ", violations: " + violations.size() + " (seed " + seed
                + ", -Dlaminar.powerloss.seed=" + seed + ", " + (System.nanoTime() - started) / 1_000_000 + " ms)";
        System.out.println(summary);
        log.info(summary);
        violations.stream().limit(5).forEach(v -> log.error("violation: {}", v));
        assertThat(violations).as(summary).isEmpty();
        assertThat(total).as("crash states explored").isGreaterThanOrEqualTo(states);
    }
}

package io.laminar.storage.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.crash.ChildOutput;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.state.ModelState;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kills a process running core threads, the aligned drainer and checkpoints every 15 ms, round
 * after round on the same directories: with SIGKILL at a random moment, or by making it halt itself
 * at a chosen step of a checkpoint (after the state files, after the manifest, before retention,
 * before truncation, or in the middle of a truncation, with some of a core's segments deleted and
 * others not). After each round, recovery from checkpoint plus WAL must equal a model of the
 * recovered number of operations and hold every acknowledged one. Rounds: {@code -Dlaminar.crash.rounds}
 * (20 by default); seed: {@code -Dlaminar.crash.seed}.
 */
class CheckpointCrashTest {

    private static final Logger log = LoggerFactory.getLogger(CheckpointCrashTest.class);
    private static final int KILLED_BY_SIGKILL = 137;

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void recoveryFromCheckpointAndWalEqualsTheModelOfEveryDurableOperationAfterEveryCrash() throws Exception {
        int rounds = Integer.getInteger("laminar.crash.rounds", 20);
        long seed = Long.getLong("laminar.crash.seed", System.nanoTime());
        log.info("checkpoint crash test: {} rounds, seed {} (replay with -Dlaminar.crash.seed={})", rounds, seed, seed);
        var random = new Random(seed);
        var walDir = tmp.resolve("wal");
        var storeDir = tmp.resolve("checkpoints");
        var steps = CheckpointStep.values();
        var acked = new long[CheckpointCrashChild.CORES];
        int fromCheckpoint = 0;
        for (int round = 0; round < rounds; round++) {
            // Odd rounds halt at a step; every fourth round inside the truncation, between two segment deletions.
            String haltAt = round % 4 == 3 ? CheckpointCrashChild.PARTIAL_TRUNCATION
                    : round % 2 == 1 ? steps[1 + random.nextInt(steps.length - 1)].name() : null;
            var roundAcks = run(walDir, storeDir, seed, haltAt, 1 + random.nextInt(6), 100 + random.nextInt(400),
                    tmp.resolve("child-" + round + ".log"));
            for (int core = 0; core < acked.length; core++) {
                acked[core] = Math.max(acked[core], roundAcks.get(core));
            }
            var recovered = recoverAndCheck(walDir, storeDir, seed);
            var ops = CheckpointCrashChild.operations(recovered);
            log.info("round {} ({}): checkpoint {}, skipped {}, replayed {}, operations {} {}", round,
                    haltAt == null ? "SIGKILL" : "halt at " + haltAt, recovered.report().checkpointId(),
                    recovered.report().skipped().size(), recovered.report().recordsReplayed(), ops[0], ops[1]);
            if (recovered.report().checkpointId() != null) {
                fromCheckpoint++;
            }
            assertThat(recovered.report().skipped()).as("round %d: no checkpoint is damaged by a crash", round)
                    .isEmpty();
            for (int core = 0; core < acked.length; core++) {
                assertThat(ops[core]).as("round %d core %d: durable operations recovered", round, core)
                        .isGreaterThanOrEqualTo(acked[core]);
            }
        }
        assertThat(fromCheckpoint).as("rounds that recovered from a checkpoint").isGreaterThanOrEqualTo(rounds / 2);
    }

    /** Recovers as the child does and checks each core's state against the model of its operations. */
    private static RecoveredState recoverAndCheck(Path walDir, Path storeDir, long seed) throws Exception {
        RecoveredState recovered;
        try (var wal = PerCoreWalManager.open(walDir, CoreThreads.walOptions(CheckpointCrashChild.CORES))) {
            recovered = new RecoveryManager(wal, FileSystemCheckpointStore.open(storeDir)).recover();
        }
        var ops = CheckpointCrashChild.operations(recovered);
        for (int core = 0; core < CheckpointCrashChild.CORES; core++) {
            var model = new ModelState();
            for (long index = 1; index <= ops[core]; index++) {
                CheckpointCrashChild.operation(seed, core, index, model::containsKey, model);
            }
            assertThat(ModelState.render(recovered.coreStates().get(core)))
                    .as("core %d after %d operations", core, ops[core]).isEqualTo(model.render());
        }
        return recovered;
    }

    /** Runs a child until it halts itself at {@code haltAt} or, failing that, is killed; returns its acks. */
    private static AtomicLongArray run(Path walDir, Path storeDir, long seed, String haltAt, int haltAfter,
            long killAfterMillis, Path stderr) throws Exception {
        var java = ProcessHandle.current().info().command().orElse("java");
        var command = new ArrayList<>(List.of(java, "-Xmx256m", "-cp", System.getProperty("java.class.path")));
        if (haltAt != null) {
            command.add("-Dlaminar.crash.haltAt=" + haltAt);
            command.add("-Dlaminar.crash.haltAfter=" + haltAfter);
        }
        command.addAll(List.of(CheckpointCrashChild.class.getName(), walDir.toString(), storeDir.toString(),
                Long.toString(seed)));
        var process = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
        var output = ChildOutput.follow(process, CheckpointCrashChild.CORES);
        try {
            assertThat(output.awaitReady(60)).as("child ready; see " + stderr).isTrue();
            long wait = haltAt != null ? 3000 : killAfterMillis;
            if (!process.waitFor(wait, TimeUnit.MILLISECONDS)) {
                if (haltAt != null) {
                    log.info("the child did not reach {} within {} ms: killed instead", haltAt, wait);
                }
                process.toHandle().destroyForcibly();
                assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
                // A child told to halt may reach its step between the wait and the kill: either ends it.
                var exits = haltAt != null ? List.of(KILLED_BY_SIGKILL, CheckpointCrashChild.HALTED)
                        : List.of(KILLED_BY_SIGKILL);
                assertThat(process.exitValue()).as("killed by SIGKILL; see " + stderr).isIn(exits);
            } else {
                assertThat(process.exitValue()).as("halted itself at %s; see %s", haltAt, stderr)
                        .isEqualTo(CheckpointCrashChild.HALTED);
            }
        } finally {
            process.destroyForcibly();
        }
        return output.acks();
    }
}

package io.laminar.storage.changelog;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.crash.ChildOutput;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.RecordKind;
import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.state.ModelState;
import io.laminar.storage.state.StateChangeFormat;
import java.nio.file.Path;
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
 * Kills a process running core threads, the changelog drainer and the WAL syncers with SIGKILL,
 * round after round on the same directory, and checks after each kill that every core's recovered
 * state equals a model replay of its durable prefix and holds every acknowledged operation.
 * Rounds: {@code -Dlaminar.crash.rounds} (20 by default); seed: {@code -Dlaminar.crash.seed}.
 */
class ChangelogCrashTest {

    private static final Logger log = LoggerFactory.getLogger(ChangelogCrashTest.class);
    private static final int KILLED_BY_SIGKILL = 137;

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    @Test
    @Timeout(value = 30, unit = TimeUnit.MINUTES)
    void recoveredStateOfEveryCoreEqualsTheModelOfItsDurablePrefixAfterSigkill() throws Exception {
        int rounds = Integer.getInteger("laminar.crash.rounds", 20);
        long seed = Long.getLong("laminar.crash.seed", System.nanoTime());
        log.info("changelog crash test: {} rounds, seed {} (replay with -Dlaminar.crash.seed={})", rounds, seed, seed);
        var random = new Random(seed);
        var dir = tmp.resolve("wal");
        var acked = new long[ChangelogCrashChild.CORES];
        int roundsWithProgress = 0;
        for (int round = 0; round < rounds; round++) {
            var before = recover(dir, seed).clone();
            var roundAcks = runAndKill(dir, seed, 50 + random.nextInt(350), tmp.resolve("child-" + round + ".log"));
            for (int core = 0; core < acked.length; core++) {
                acked[core] = Math.max(acked[core], roundAcks.get(core));
            }
            var recovered = recover(dir, seed);
            for (int core = 0; core < acked.length; core++) {
                assertThat(recovered[core]).as("round %d core %d: durable operations recovered", round, core)
                        .isGreaterThanOrEqualTo(acked[core]).isGreaterThanOrEqualTo(before[core]);
            }
            if (recovered[0] > before[0] || recovered[1] > before[1]) {
                roundsWithProgress++;
            }
        }
        assertThat(roundsWithProgress).as("rounds in which the child made operations durable")
                .isGreaterThanOrEqualTo(rounds / 2);
    }

    /**
     * Replays the directory into one store per core, checks each against the model of as many
     * operations as it holds records, and returns those counts.
     */
    private static long[] recover(Path dir, long seed) {
        int cores = ChangelogCrashChild.CORES;
        var stores = new ChangelogAwareStateStore[cores];
        var counts = new long[cores];
        for (int core = 0; core < cores; core++) {
            stores[core] = new ChangelogAwareStateStore(ChangelogSink.NONE);
        }
        try (var wal = PerCoreWalManager.open(dir, ChangelogCrashChild.options())) {
            wal.replay(wal.startPositions(), record -> {
                if (record.kind() == RecordKind.DATA) {
                    StateChangeFormat.apply(record.body(), stores[record.core()].replayer());
                    counts[record.core()]++;
                }
            });
        }
        for (int core = 0; core < cores; core++) {
            var model = new ModelState();
            for (long index = 1; index <= counts[core]; index++) {
                ChangelogCrashChild.operation(seed, core, index, model::containsKey, model);
            }
            assertThat(ModelState.render(stores[core])).as("core %d after %d operations", core, counts[core])
                    .isEqualTo(model.render());
        }
        return counts;
    }

    /** Runs a child, kills it {@code killAfterMillis} after it is ready, returns its last ack per core. */
    private static AtomicLongArray runAndKill(Path dir, long seed, long killAfterMillis, Path stderr) throws Exception {
        var java = ProcessHandle.current().info().command().orElse("java");
        var process = new ProcessBuilder(List.of(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                ChangelogCrashChild.class.getName(), dir.toString(), Long.toString(seed)))
                .redirectError(stderr.toFile()).start();
        var output = ChildOutput.follow(process, ChangelogCrashChild.CORES);
        try {
            assertThat(output.awaitReady(60)).as("child ready; see " + stderr).isTrue();
            Thread.sleep(killAfterMillis);
            process.toHandle().destroyForcibly();
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(process.exitValue()).as("killed by SIGKILL; see " + stderr).isEqualTo(KILLED_BY_SIGKILL);
        } finally {
            process.destroyForcibly();
        }
        var acks = output.acks();
        log.debug("round acks {}", acks);
        return acks;
    }
}

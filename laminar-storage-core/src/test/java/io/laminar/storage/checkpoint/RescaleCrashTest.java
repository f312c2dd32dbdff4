package io.laminar.storage.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A process rescaling a directory is killed (SIGKILL at a random moment, or halting itself at each
 * step of the rescale in turn), and the next start, with yet another number of cores, must find
 * every value of the model on the core owning its key. Rounds: {@code -Dlaminar.rescale.crash.rounds}
 * (10 by default: one per step of the rescale, then random kills); seed:
 * {@code -Dlaminar.rescale.crash.seed}.
 */
class RescaleCrashTest {

    private static final Logger log = LoggerFactory.getLogger(RescaleCrashTest.class);
    private static final int KILLED_BY_SIGKILL = 137;
    private static final int[] CORES = {4, 2, 3, 6, 1, 5, 8, 7};

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    private final Map<String, String> model = new TreeMap<>();

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void aRescaleKilledAtAnyMomentRecoversEveryValueOnItsOwningCoreWithYetAnotherCoreCount() throws Exception {
        int rounds = Integer.getInteger("laminar.rescale.crash.rounds", Rescaler.Step.values().length + 3);
        long seed = Long.getLong("laminar.rescale.crash.seed", System.nanoTime());
        log.info("rescale crash test: {} rounds, seed {} (replay with -Dlaminar.rescale.crash.seed={})", rounds, seed,
                seed);
        var random = new Random(seed);
        var walDir = tmp.resolve("wal");
        var storeDir = tmp.resolve("checkpoints");
        int cores = CORES[0];
        runAndWrite(walDir, storeDir, cores, random, true);
        var steps = Rescaler.Step.values();
        for (int round = 0; round < rounds; round++) {
            int target = CORES[(2 * round + 1) % CORES.length];
            var haltAt = round < steps.length ? steps[round] : null;
            var outcome = runChild(walDir, storeDir, target, haltAt, random.nextInt(400),
                    tmp.resolve("child-" + round + ".log"));
            cores = CORES[(2 * round + 2) % CORES.length];
            log.info("round {}: rescale to {} {}; restarting with {} cores", round, target, outcome, cores);
            runAndWrite(walDir, storeDir, cores, random, round % 2 == 0);
        }
        assertThat(Files.exists(tmp.resolve("wal.rescale"))).isFalse();
    }

    /** Opens with {@code cores} (rescaling), checks the model, writes more (and a checkpoint), closes. */
    private void runAndWrite(Path walDir, Path storeDir, int cores, Random random, boolean checkpoint)
            throws Exception {
        try (var store = FileSystemCheckpointStore.open(storeDir)) {
            var opened = Rescaler.open(walDir, RescaleCrashChild.options(cores), store, StatePlacement.BY_STORE_KEY);
            try (var wal = opened.wal()) {
                var runtime = LaminarRuntime.builder(wal, store).build();
                try {
                    runtime.start();
                    assertMatchesModel(runtime);
                    write(runtime, random, 50 + random.nextInt(100));
                    if (checkpoint) {
                        runtime.triggerCheckpoint().join();
                    }
                    write(runtime, random, 20 + random.nextInt(50));
                } finally {
                    runtime.close();
                }
            }
        }
    }

    private void write(LaminarRuntime runtime, Random random, int operations) {
        RandomDurableWrites.write(runtime, random, operations, 300, 6, (key, value) -> {
            if (value == null) {
                model.remove(key);
            } else {
                model.put(key, value);
            }
        });
    }

    private void assertMatchesModel(LaminarRuntime runtime) {
        var held = new TreeMap<String, String>();
        for (int core = 0; core < runtime.cores(); core++) {
            int owner = core;
            var entries = runtime.submit(core, c -> {
                var out = new TreeMap<String, String>();
                c.store().forEach((k, v) -> out.put(new String(k, StandardCharsets.UTF_8),
                        new String(v, StandardCharsets.UTF_8)));
                return out;
            }).join();
            entries.keySet().forEach(key -> assertThat(runtime.coreOf(key.getBytes(StandardCharsets.UTF_8)))
                    .as("the core holding %s", key).isEqualTo(owner));
            held.putAll(entries);
        }
        assertThat(held).as("every key exactly once, with its value, on %d cores", runtime.cores()).isEqualTo(model);
    }

    /** Runs a child rescaling to {@code cores}: halting at {@code haltAt}, or killed after {@code killAfterMillis}. */
    private static String runChild(Path walDir, Path storeDir, int cores, Rescaler.Step haltAt, long killAfterMillis,
            Path stderr) throws Exception {
        var java = ProcessHandle.current().info().command().orElse("java");
        var command = new ArrayList<>(List.of(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                RescaleCrashChild.class.getName(), walDir.toString(), storeDir.toString(), Integer.toString(cores)));
        if (haltAt != null) {
            command.add(haltAt.name());
        }
        var process = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
        try (var out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            assertThat(out.readLine()).as("child ready; see " + stderr).isEqualTo("ready");
            if (haltAt != null) {
                assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
                assertThat(process.exitValue()).as("halted itself at %s; see %s", haltAt, stderr)
                        .isEqualTo(RescaleCrashChild.HALTED);
                return "halted at " + haltAt;
            }
            if (process.waitFor(killAfterMillis, TimeUnit.MILLISECONDS)) {
                assertThat(process.exitValue()).as("finished; see " + stderr).isZero();
                return "finished before the kill at " + killAfterMillis + " ms";
            }
            process.toHandle().destroyForcibly();
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
            if (process.exitValue() == 0) {
                return "finished between the wait and the kill at " + killAfterMillis + " ms";
            }
            assertThat(process.exitValue()).as("killed by SIGKILL; see " + stderr).isEqualTo(KILLED_BY_SIGKILL);
            return "killed after " + killAfterMillis + " ms";
        } finally {
            process.destroyForcibly();
        }
    }
}

package io.laminar.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.checkpoint.Rescaler;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code recover --dry-run} and {@code state} read a rescale's checkpoint written with the
 * application's own {@code StatePlacement} once they are given it ({@code --state-placement}, with the
 * application's classes on the class path), and say why they cannot without it.
 */
class RescalePlacementIT {

    @TempDir
    Path temp;

    private static PerCoreWalOptions options(int cores) {
        return PerCoreWalOptions.builder().cores(cores).maxEntrySize(16 * 1024).build();
    }

    /** The tool with the test classes (the application's, here) on its class path. */
    private static Cli.Result runWithApplicationClasses(String... args) throws Exception {
        var command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp",
                Cli.jar() + ":" + Path.of("target/test-classes").toAbsolutePath(), LaminarCli.class.getName()));
        command.addAll(List.of(args));
        return Cli.exec(command, Map.of());
    }

    @Test
    void aRescalesCheckpointIsReadWithTheApplicationsPlacement() throws Exception {
        var wal = temp.resolve("wal");
        var store = temp.resolve("checkpoints");
        long rescaleCheckpoint;
        try (var s = FileSystemCheckpointStore.open(store)) {
            try (var w = PerCoreWalManager.open(wal, options(2))) {
                var runtime = LaminarRuntime.builder(w, s).statePlacement(new PrefixPlacement()).build();
                runtime.start();
                for (int entity = 0; entity < 50; entity++) {
                    for (var field : List.of("name", "mail")) {
                        var key = ("user-" + entity + ":" + field).getBytes(StandardCharsets.UTF_8);
                        runtime.submitDurable(runtime.coreOf(PrefixPlacement.routingKey(key)), c -> {
                            c.store().put(key, key);
                            return null;
                        }).get(10, TimeUnit.SECONDS);
                    }
                }
                runtime.triggerCheckpoint().get(30, TimeUnit.SECONDS);
                runtime.close();
            }
            var opened = Rescaler.open(wal, options(3), s, new PrefixPlacement());
            opened.wal().close();
            rescaleCheckpoint = opened.rescale().orElseThrow().rescaleCheckpoint();
        }
        // The library's default placement puts entries elsewhere than the rescale did: refused, saying so.
        var without = Cli.run("recover", "--dry-run", "--dir", wal.toString(), "--store", store.toString());
        assertThat(without.exit()).as(without.toString()).isEqualTo(1);
        assertThat(without.out()).contains("placement");

        var with = runWithApplicationClasses("recover", "--dry-run", "--dir", wal.toString(), "--store",
                store.toString(), "--state-placement", PrefixPlacement.class.getName());
        assertThat(with.exit()).as(with.toString()).isZero();
        assertThat(with.out()).contains("would restore checkpoint " + rescaleCheckpoint);
        var get = runWithApplicationClasses("state", "get", store.toString(), "user-7:mail", "--dir", wal.toString(),
                "--state-placement", PrefixPlacement.class.getName());
        assertThat(get.exit()).as(get.toString()).isZero();
        assertThat(get.out()).contains("\"user-7:mail\" = \"user-7:mail\"");

        var missing = Cli.run("recover", "--dry-run", "--dir", wal.toString(), "--store", store.toString(),
                "--state-placement", "com.example.NoSuchPlacement");
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).contains("com.example.NoSuchPlacement", "not on the class path", "java -cp");
    }
}

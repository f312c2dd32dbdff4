package io.laminar.storage.store.s3;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.checkpoint.RescaleReport;
import io.laminar.storage.checkpoint.Rescaler;
import io.laminar.storage.checkpoint.StatePlacement;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.runtime.LaminarRuntime;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rescaling with the S3 store (S3Proxy on 127.0.0.1): a checkpoint taken on one machine with 3 cores
 * restored on a new machine with 5, and the first machine's directory (WAL after the checkpoint
 * included) restarted with 2. The store SPI is the same as the file system's, so is the rescale.
 */
@Timeout(120)
class S3RescaleTest {

    private static final String BUCKET = "rescale";
    private static S3ProxyServer server;

    private static final java.util.concurrent.atomic.AtomicInteger PREFIXES = new java.util.concurrent.atomic.AtomicInteger();

    @TempDir
    Path dir;

    /** Each test's store lives under a key prefix of its own. */
    private final String prefix = "app-" + PREFIXES.incrementAndGet() + "/";

    @BeforeAll
    static void startServer() throws Exception {
        server = S3ProxyServer.inMemory();
        server.createBucket(BUCKET);
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.close();
    }

    private static PerCoreWalOptions options(int cores) {
        return PerCoreWalOptions.builder().cores(cores).keyGroups(64).maxEntrySize(4096)
                .wal(w -> w.segmentSize(1 << 20).writeBufferSize(1 << 20)).build();
    }

    /** Opens {@code walDir} with {@code cores} over the bucket's prefix, starts a runtime, runs {@code body}. */
    private RescaleReport run(Path walDir, int cores, Consumer<LaminarRuntime> body) throws Exception {
        try (var store = S3CheckpointStore.builder(server.client(), BUCKET).prefix(prefix).build()) {
            var opened = Rescaler.open(walDir, options(cores), store, StatePlacement.BY_STORE_KEY);
            try (var wal = opened.wal()) {
                var runtime = LaminarRuntime.builder(wal, store).recovered(opened.recovered().orElse(null)).build();
                try {
                    runtime.start();
                    body.accept(runtime);
                } finally {
                    runtime.close();
                }
            }
            return opened.rescale().orElse(null);
        }
    }

    private static void put(LaminarRuntime runtime, Map<String, String> model, String prefix, int count) {
        var futures = new ArrayList<CompletableFuture<?>>();
        for (int i = 0; i < count; i++) {
            var key = prefix + i;
            var value = "value-of-" + key;
            model.put(key, value);
            var bytes = key.getBytes(StandardCharsets.UTF_8);
            futures.add(runtime.submitDurable(runtime.coreOf(bytes), c -> {
                c.store().put(bytes, value.getBytes(StandardCharsets.UTF_8));
                return null;
            }));
        }
        CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).join();
    }

    private static Map<String, String> read(LaminarRuntime runtime) {
        var held = new TreeMap<String, String>();
        for (int core = 0; core < runtime.cores(); core++) {
            int owner = core;
            runtime.submit(core, c -> {
                c.store().forEach((k, v) -> {
                    assertThat(runtime.coreOf(k)).as("the core holding %s", new String(k, StandardCharsets.UTF_8))
                            .isEqualTo(owner);
                    held.put(new String(k, StandardCharsets.UTF_8), new String(v, StandardCharsets.UTF_8));
                });
                return null;
            }).join();
        }
        return held;
    }

    @Test
    void aCheckpointOnS3IsRestoredWithAnotherCoreCountOnANewMachineAndOnTheOldOne() throws Exception {
        var checkpointed = new TreeMap<String, String>();
        var machineA = dir.resolve("a").resolve("wal");
        run(machineA, 3, runtime -> {
            put(runtime, checkpointed, "before-", 120);
            runtime.triggerCheckpoint().join();
        });
        var everything = new TreeMap<>(checkpointed);
        run(machineA, 3, runtime -> put(runtime, everything, "after-", 40)); // only in machine A's WAL

        // A new machine with 5 cores restores the checkpoint: what came after it was in A's WAL only.
        var restored = new TreeMap<String, String>();
        var report = run(dir.resolve("b").resolve("wal"), 5, runtime -> restored.putAll(read(runtime)));
        assertThat(restored).isEqualTo(checkpointed);
        assertThat(report.oldCores()).isEqualTo(3);
        assertThat(report.newCores()).isEqualTo(5);
        assertThat(report.walBytesRead()).isZero();
        assertThat(report.stateBytesRead()).isPositive();
    }

    @Test
    void theOldMachineRestartedWithFewerCoresKeepsItsWalRecordsAfterTheS3Checkpoint() throws Exception {
        var model = new TreeMap<String, String>();
        var walDir = dir.resolve("wal");
        run(walDir, 3, runtime -> {
            put(runtime, model, "one-", 80);
            runtime.triggerCheckpoint().join();
            put(runtime, model, "two-", 30);
        });
        var held = new TreeMap<String, String>();
        var report = run(walDir, 2, runtime -> held.putAll(read(runtime)));
        assertThat(held).isEqualTo(model);
        assertThat(report.walBytesRead()).isPositive();
    }

    @Test
    void aRescaledCheckpointOnS3ReferencesTheOldStateFilesAndIsRecoveredFromThem() throws Exception {
        var model = new TreeMap<String, String>();
        var walDir = dir.resolve("wal");
        run(walDir, 3, runtime -> {
            put(runtime, model, "one-", 90);
            runtime.triggerCheckpoint().join();
            put(runtime, model, "two-", 30);
        });
        assertThat(run(walDir, 2, runtime -> { })).isNotNull();
        try (var store = S3CheckpointStore.builder(server.client(), BUCKET).prefix(prefix).build()) {
            var ids = store.listCheckpoints();
            var rescaled = store.readManifest(ids.get(ids.size() - 1)).orElseThrow();
            assertThat(rescaled.hasBaseChains()).as("the rescale's checkpoint references the old files").isTrue();
            for (var ref : rescaled.files()) {
                assertThat(store.fileSize(ref.path())).contains(ref.size());
            }
        }
        // A restart: an ordinary recovery of the rescale's checkpoint, its base chains read from S3.
        var held = new TreeMap<String, String>();
        assertThat(run(walDir, 2, runtime -> held.putAll(read(runtime)))).isNull();
        assertThat(held).isEqualTo(model);
        // A new machine with 4 cores restores it: a rescale of a rescaled checkpoint (compacted).
        var restored = new TreeMap<String, String>();
        var report = run(dir.resolve("b").resolve("wal"), 4, runtime -> restored.putAll(read(runtime)));
        assertThat(report.oldCores()).isEqualTo(2);
        assertThat(restored).isEqualTo(model);
    }
}

package io.laminar.storage.replication.kafka;

import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;

/**
 * One owner of a shard for the tests: a per-core WAL in its own directory, the shard's shared
 * file-system checkpoint store, a {@link KafkaChangeReplicator} and the runtime over them. Closing
 * it closes them in order (a fenced runtime's close failure is swallowed: the test checked it).
 */
final class Shards {

    static final int CORES = 2;

    private Shards() {
    }

    static KafkaReplicatorOptions.Builder options(KafkaCluster cluster, String shard) {
        var builder = KafkaReplicatorOptions.builder(shard);
        if (cluster != null) {
            builder.bootstrapServers(cluster.bootstrapServers());
        }
        return builder.partitions(4).replicationFactor(3).minInSyncReplicas(2).ackTimeout(Duration.ofSeconds(10));
    }

    /** A running owner. */
    static Owner start(Path walDir, Path storeDir, KafkaReplicatorOptions options) throws IOException {
        return start(walDir, storeDir, options, b -> { });
    }

    static Owner start(Path walDir, Path storeDir, KafkaReplicatorOptions options,
            java.util.function.Consumer<LaminarRuntime.Builder> settings) throws IOException {
        return start(walDir, storeDir, options, CORES, settings);
    }

    /** A running owner with {@code cores} cores instead of {@link #CORES}. */
    static Owner start(Path walDir, Path storeDir, KafkaReplicatorOptions options, int cores,
            java.util.function.Consumer<LaminarRuntime.Builder> settings) throws IOException {
        var closing = new ArrayList<AutoCloseable>();
        try {
            var wal = PerCoreWalManager.open(walDir, PerCoreWalOptions.builder().cores(cores).maxEntrySize(64 * 1024)
                    .wal(w -> w.segmentSize(1 << 20)).build());
            closing.add(wal);
            var store = FileSystemCheckpointStore.open(storeDir);
            closing.add(store);
            var replicator = new KafkaChangeReplicator(options);
            closing.add(replicator);
            var builder = LaminarRuntime.builder(wal, store).replicator(replicator);
            settings.accept(builder);
            var runtime = builder.build();
            closing.add(runtime);
            runtime.start();
            return new Owner(runtime, replicator, store, closing);
        } catch (RuntimeException | IOException e) {
            closeAll(closing);
            throw e;
        }
    }

    private static void closeAll(List<AutoCloseable> closing) {
        for (int i = closing.size() - 1; i >= 0; i--) {
            try {
                closing.get(i).close();
            } catch (Exception e) {
                // a fenced or failed runtime does not close cleanly; the test has checked what matters
            }
        }
    }

    /** Deletes a directory tree, as the loss of a machine's disk does. */
    static void deleteRecursively(Path root) throws IOException {
        try (var paths = java.nio.file.Files.walk(root)) {
            for (var path : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                java.nio.file.Files.delete(path);
            }
        }
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    record Owner(LaminarRuntime runtime, KafkaChangeReplicator replicator, FileSystemCheckpointStore store,
            List<AutoCloseable> closing) implements AutoCloseable {

        CompletableFuture<Void> put(String key, String value) {
            var k = bytes(key);
            return runtime.submitDurable(runtime.coreOf(k), c -> {
                c.store().put(k, bytes(value));
                return null;
            });
        }

        CompletableFuture<Boolean> delete(String key) {
            var k = bytes(key);
            return runtime.submitDurable(runtime.coreOf(k), c -> c.store().delete(k));
        }

        Map<String, String> contents() {
            var all = new TreeMap<String, String>();
            for (int core = 0; core < runtime.cores(); core++) {
                runtime.submit(core, c -> {
                    c.store().forEach((k, v) -> {
                        synchronized (all) {
                            all.put(new String(k, StandardCharsets.UTF_8), new String(v, StandardCharsets.UTF_8));
                        }
                    });
                    return null;
                }).join();
            }
            return all;
        }

        @Override
        public void close() {
            closeAll(closing);
        }
    }
}

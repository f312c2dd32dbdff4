package io.laminar.storage.store.s3;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.checkpoint.SkippedCheckpoint;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.replication.MemoryReplicator;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.OwnerFences;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The zombie race on a real S3-compatible server (S3Proxy on 127.0.0.1), reproduced step by step:
 * the old owner's checkpoint passes its owner check, the old owner is paused there, the new owner
 * claims the store, and only then does the old owner's manifest land. S3 cannot make the check and
 * the PUT one step; the claim's fence point makes that manifest void for the new owner.
 */
@Timeout(120)
class S3ZombieOwnerTest {

    private static final String BUCKET = "zombies";
    private static final AtomicInteger PREFIXES = new AtomicInteger();
    private static S3ProxyServer server;

    @TempDir
    Path dir;

    private final String prefix = "shard-" + PREFIXES.incrementAndGet() + "/";
    private final MemoryReplicator.Log log = new MemoryReplicator.Log();
    private final List<AutoCloseable> open = new ArrayList<>();

    @BeforeAll
    static void startServer() throws Exception {
        server = S3ProxyServer.inMemory();
        server.createBucket(BUCKET);
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.close();
    }

    @AfterEach
    void closeAll() {
        for (int i = open.size() - 1; i >= 0; i--) {
            try {
                open.get(i).close();
            } catch (Exception e) {
                // a fenced runtime refuses to close cleanly; what the test checks happened before
            }
        }
    }

    private S3CheckpointStore store() {
        var store = S3CheckpointStore.builder(server.client(), BUCKET).prefix(prefix).build();
        open.add(store);
        return store;
    }

    private LaminarRuntime runtime(String name, S3CheckpointStore store, MemoryReplicator replicator) {
        var wal = PerCoreWalManager.open(dir.resolve(name), PerCoreWalOptions.builder().cores(2).keyGroups(64)
                .maxEntrySize(4096).wal(w -> w.segmentSize(1 << 20).writeBufferSize(1 << 20)).build());
        open.add(wal);
        var runtime = LaminarRuntime.builder(wal, store).replicator(replicator).build();
        open.add(runtime);
        return runtime;
    }

    private static CompletableFuture<Void> put(LaminarRuntime runtime, String key, String value) {
        var k = key.getBytes(StandardCharsets.UTF_8);
        return runtime.submitDurable(runtime.coreOf(k), c -> {
            c.store().put(k, value.getBytes(StandardCharsets.UTF_8));
            return null;
        });
    }

    private static Map<String, String> contents(LaminarRuntime runtime) {
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

    private static void await(CountDownLatch latch) {
        try {
            if (!latch.await(60, TimeUnit.SECONDS)) {
                throw new AssertionError("not released within 60 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void aManifestThatLandsAfterTheNewOwnersClaimIsIgnoredByItsRecoveryAndDeletedByItsRetention() throws Exception {
        var storeA = store();
        var replicaA = new MemoryReplicator(log, Duration.ofSeconds(2));
        var a = runtime("wal-a", storeA, replicaA);
        a.start();
        put(a, "k", "acknowledged").get(30, TimeUnit.SECONDS);
        put(a, "other", "1").get(30, TimeUnit.SECONDS);
        var checkpointed = a.triggerCheckpoint().get(30, TimeUnit.SECONDS);

        // A change A never gets acknowledged (its replica is held): in A's memory and WAL only.
        replicaA.hold();
        var unacknowledged = put(a, "k", "never-acknowledged");
        // A's next checkpoint cuts that state, passes its owner check, and A is paused right there.
        var paused = new CountDownLatch(1);
        var resume = new CountDownLatch(1);
        storeA.pausePoints(at -> {
            if (at.startsWith("checked: publish checkpoint")) {
                paused.countDown();
                await(resume);
            }
        });
        var late = a.triggerCheckpoint();
        await(paused);

        // B takes over. Right after its claim (and its fence point), A wakes up and its manifest lands.
        var storeB = store();
        storeB.pausePoints(at -> {
            if (at.startsWith("claimed: ")) {
                resume.countDown();
                late.handle((m, e) -> null).join();
            }
        });
        var b = runtime("wal-b", storeB, new MemoryReplicator(log, Duration.ofSeconds(30)));
        var report = b.start();

        CheckpointManifest zombies = late.get(30, TimeUnit.SECONDS); // A believes it published
        assertThat(zombies.checkpointId()).isGreaterThan(checkpointed.checkpointId());
        assertThat(OwnerFences.of(storeB).voidReason(zombies)).isPresent();
        // B's recovery skipped it, restored A's earlier checkpoint and the replicated log: A's
        // unacknowledged change is nowhere.
        assertThat(report.skipped()).extracting(SkippedCheckpoint::checkpointId)
                .contains(zombies.checkpointId());
        assertThat(report.checkpointId()).isEqualTo(checkpointed.checkpointId());
        assertThat(contents(b)).containsExactlyInAnyOrderEntriesOf(Map.of("k", "acknowledged", "other", "1"));
        assertThat(unacknowledged.isDone() && !unacknowledged.isCompletedExceptionally()).as("acknowledged").isFalse();

        // B's retention deleted the void manifest; every file B's checkpoints name is there.
        put(b, "k", "from-b").get(30, TimeUnit.SECONDS);
        b.triggerCheckpoint().get(30, TimeUnit.SECONDS);
        assertThat(storeB.listCheckpoints()).doesNotContain(zombies.checkpointId());
        for (long id : storeB.listCheckpoints()) {
            for (var file : storeB.readManifest(id).orElseThrow().files()) {
                assertThat(storeB.fileSize(file.path())).as(file.path()).contains(file.size());
            }
        }

        // A third owner, after B is gone, sees only what was acknowledged.
        b.close();
        var c = runtime("wal-c", store(), new MemoryReplicator(log, Duration.ofSeconds(30)));
        c.start();
        assertThat(contents(c)).containsExactlyInAnyOrderEntriesOf(Map.of("k", "from-b", "other", "1"));
    }
}

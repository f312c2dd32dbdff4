package io.laminar.storage.checkpoint;

import static io.laminar.storage.checkpoint.CoreThreads.render;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.StateFileRef;
import io.laminar.storage.store.s3.FaultProxy;
import io.laminar.storage.store.s3.S3CheckpointStore;
import io.laminar.storage.store.s3.S3ProxyServer;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Checkpoints through the real coordinator into S3Proxy while the server fails in the middle of a
 * multipart upload (answering errors, or stopping): the checkpoint fails cleanly, the previous one
 * stays the newest valid checkpoint, no manifest of the failed one is ever visible, and a later
 * checkpoint succeeds once the server is back, cleaning up what the failed one left.
 */
class S3CheckpointFaultTest {

    private static final String BUCKET = "faults";
    private static final String PREFIX = "app/";
    private static final int CORES = 2;

    @TempDir
    Path tmp;

    private S3ProxyServer server;
    private FaultProxy proxy;
    private S3Client direct;
    private S3Client throughProxy;
    private S3CheckpointStore store;
    private final List<Long> failed = new CopyOnWriteArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        server = S3ProxyServer.inMemory();
        server.createBucket(BUCKET);
        proxy = new FaultProxy(server.endpoint());
        direct = server.client();
        throughProxy = S3ProxyServer.clientWithoutRetries(proxy.endpoint(), S3ProxyServer.ACCESS_KEY,
                S3ProxyServer.SECRET_KEY);
        // Multipart from 5 MiB on, few quick retries, and no grace for incomplete uploads.
        store = S3CheckpointStore.builder(throughProxy, BUCKET).prefix(PREFIX).partSize(S3CheckpointStore.MIN_PART_SIZE)
                .uploadThreads(2).maxAttempts(3).retryBackoff(Duration.ofMillis(1), Duration.ofMillis(10))
                .incompleteUploadMaxAge(Duration.ZERO).build();
    }

    @AfterEach
    void tearDown() throws Exception {
        store.close();
        throughProxy.close();
        direct.close();
        proxy.close();
        server.close();
    }

    private StateCheckpointCoordinator coordinator(CoreThreads cores) {
        return StateCheckpointCoordinator.builder(cores.wal, cores.drainer, store).barrierTimeout(Duration.ofSeconds(10))
                .maxDeltas(0) // every checkpoint writes full files: core 0's is large enough for a multipart upload
                .retainedCheckpoints(3)
                .listener(new CheckpointListener() {
                    @Override
                    public void failed(long checkpointId, Throwable cause) {
                        failed.add(checkpointId);
                    }
                }).build();
    }

    /** Puts {@code count} values of 8000 bytes on a core in batches, and waits until they are durable. */
    private static void putMany(CoreThreads cores, int core, String prefix, int count, int seed) {
        for (int from = 0; from < count; from += 200) {
            int first = from;
            long change = cores.run(core, s -> {
                for (int i = first; i < Math.min(count, first + 200); i++) {
                    var value = new byte[8000];
                    Arrays.fill(value, (byte) (i + seed));
                    value[0] = (byte) (i >> 8);
                    s.put((prefix + i).getBytes(), value);
                }
                return cores.drainer.changelog(core).publishedChanges();
            }).join();
            cores.drainer.changelog(core).whenDurable(change).join();
        }
    }

    private List<String> keys(String under) {
        return direct.listObjectsV2Paginator(b -> b.bucket(BUCKET).prefix(PREFIX + under)).contents().stream()
                .map(S3Object::key).toList();
    }

    private List<String> incompleteUploads() {
        return direct.listMultipartUploads(b -> b.bucket(BUCKET).prefix(PREFIX)).uploads().stream()
                .map(u -> u.key()).toList();
    }

    private static String manifestKey(long id) {
        return PREFIX + String.format("manifests/checkpoint-%020d.json", id);
    }

    /** What a machine with an empty directory restores from the bucket right now. */
    private RecoveredState restoreElsewhere(String name) throws IOException {
        try (var store = S3CheckpointStore.builder(direct, BUCKET).prefix(PREFIX).build();
             var wal = PerCoreWalManager.open(tmp.resolve(name), CoreThreads.walOptions(CORES))) {
            return new RecoveryManager(wal, store).recover();
        }
    }

    private static List<List<String>> states(CoreThreads cores) {
        return List.of(render(cores.state(0)), render(cores.state(1)));
    }

    private static List<List<String>> states(RecoveredState recovered) {
        return List.of(render(recovered.coreStates().get(0)), render(recovered.coreStates().get(1)));
    }

    @Test
    void aServerThatAnswersErrorsMidUploadFailsTheCheckpointCleanlyAndALaterOneSucceeds() throws Exception {
        runFaultScenario(() -> {
            var parts = new AtomicInteger();
            var broken = new java.util.concurrent.atomic.AtomicBoolean();
            proxy.rule(r -> {
                if (r.isUploadPart() && parts.incrementAndGet() == 2) {
                    broken.set(true); // from the second part on, the server throttles everything
                }
                return broken.get() ? FaultProxy.Action.SLOW_DOWN : FaultProxy.Action.PASS;
            });
        }, () -> proxy.passAll(), "SlowDown");
    }

    @Test
    void aServerThatStopsMidUploadFailsTheCheckpointCleanlyAndALaterOneSucceedsOnceItIsBack() throws Exception {
        runFaultScenario(() -> {
            var parts = new AtomicInteger();
            proxy.rule(r -> {
                if (r.isUploadPart() && parts.incrementAndGet() == 2) {
                    try {
                        server.stop(); // in the middle of the upload: part 1 may still be on its way
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
                return FaultProxy.Action.PASS; // to a server that is gone: the connection is reset
            });
        }, () -> {
            try {
                server.start(); // same port, same blob store
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            proxy.passAll();
        }, "connection");
    }

    @Test
    void theCoresFilesGoUpAtOnceAndOneThatFailsFailsTheCheckpointAfterTheOtherEndedWhichIsThenDeleted()
            throws Exception {
        // Core 0's file (three parts) completes only once core 1's has been sent: the two are written
        // at once. Then core 1's is refused: the checkpoint fails, and core 0's, finished beside it,
        // is deleted with the failed checkpoint rather than left for the next one.
        var coreOneSent = new java.util.concurrent.CountDownLatch(1);
        var refuseCoreOne = new java.util.concurrent.atomic.AtomicBoolean();
        var completedAfterCoreOne = new java.util.concurrent.atomic.AtomicBoolean();
        proxy.rule(r -> {
            if (r.method().equals("PUT") && r.target().contains("/state/core-0001/")) {
                coreOneSent.countDown();
                return refuseCoreOne.get() ? FaultProxy.Action.ACCESS_DENIED : FaultProxy.Action.PASS;
            }
            if (r.method().equals("POST") && r.target().contains("/state/core-0000/") && r.target().contains("uploadId=")) {
                try {
                    completedAfterCoreOne.set(coreOneSent.await(60, java.util.concurrent.TimeUnit.SECONDS));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return FaultProxy.Action.PASS;
        });
        try (var cores = new CoreThreads(tmp.resolve("wal"), CORES, null, null);
             var coordinator = coordinator(cores)) {
            putMany(cores, 0, "k", 1400, 1); // about 11 MB: a state file of three parts
            cores.putDurably(1, "small", new byte[] {1});
            var first = coordinator.triggerCheckpoint().join();
            assertThat(completedAfterCoreOne).isTrue();
            var atFirst = states(cores);

            putMany(cores, 0, "k", 700, 2);
            cores.putDurably(1, "more", new byte[] {2});
            refuseCoreOne.set(true);
            var attempt = coordinator.triggerCheckpoint();
            assertThatThrownBy(attempt::join).isInstanceOf(CompletionException.class)
                    .hasCauseInstanceOf(IOException.class)
                    .satisfies(e -> assertThat(rootMessages(e)).contains("AccessDenied").contains("core-0001"));
            assertThat(completedAfterCoreOne).isTrue();
            assertThat(failed).hasSize(1);
            var own = String.format("%020d-", failed.get(0));
            assertThat(store.listFiles()).noneMatch(p -> p.contains(own));
            assertThat(incompleteUploads()).isEmpty();
            assertThat(store.listCheckpoints()).containsExactly(first.checkpointId());
            assertThat(states(restoreElsewhere("machine-b"))).isEqualTo(atFirst);
        }
    }

    private void runFaultScenario(Runnable breakServer, Runnable repairServer, String reason) throws Exception {
        var walDir = tmp.resolve("wal");
        CheckpointManifest first;
        CheckpointManifest later;
        List<List<String>> atFirst;
        List<List<String>> atLater;
        long failedId;
        try (var cores = new CoreThreads(walDir, CORES, null, null);
             var coordinator = coordinator(cores)) {
            putMany(cores, 0, "k", 1400, 1); // about 11 MB: a state file of three parts
            cores.putDurably(1, "small", new byte[] {1});
            atFirst = states(cores);
            first = coordinator.triggerCheckpoint().join();
            assertThat(first.files().stream().mapToLong(StateFileRef::size).max().orElseThrow())
                    .isGreaterThan(2 * S3CheckpointStore.MIN_PART_SIZE);

            putMany(cores, 0, "k", 700, 2); // changes half of core 0's values
            breakServer.run();
            var attempt = coordinator.triggerCheckpoint();
            assertThatThrownBy(attempt::join).isInstanceOf(CompletionException.class)
                    .hasCauseInstanceOf(IOException.class)
                    .satisfies(e -> assertThat(rootMessages(e)).containsIgnoringCase(reason));
            assertThat(failed).hasSize(1);
            failedId = failed.get(0);
            assertThat(failedId).isGreaterThan(first.checkpointId());

            repairServer.run();
            // No manifest of the failed checkpoint exists, the previous one is the newest valid one.
            assertThat(keys("manifests/")).containsExactly(manifestKey(first.checkpointId()));
            assertThat(store.listCheckpoints()).containsExactly(first.checkpointId());
            var elsewhere = restoreElsewhere("machine-b");
            assertThat(elsewhere.report().checkpointId()).isEqualTo(first.checkpointId());
            assertThat(elsewhere.report().skipped()).isEmpty();
            assertThat(states(elsewhere)).isEqualTo(atFirst);

            cores.putDurably(1, "after", new byte[] {2});
            atLater = states(cores);
            later = coordinator.triggerCheckpoint().join();
        }
        assertThat(later.checkpointId()).isGreaterThan(failedId);
        assertThat(store.listCheckpoints()).containsExactly(first.checkpointId(), later.checkpointId());
        // What the failed checkpoint left (a part-written upload, state files no manifest names) is gone.
        assertThat(incompleteUploads()).isEmpty();
        var own = String.format("%020d-", failedId);
        assertThat(store.listFiles()).noneMatch(p -> p.contains(own));

        var local = recoverLocally(walDir);
        assertThat(local.report().checkpointId()).isEqualTo(later.checkpointId());
        assertThat(states(local)).isEqualTo(atLater);
        var elsewhere = restoreElsewhere("machine-c");
        assertThat(elsewhere.report().checkpointId()).isEqualTo(later.checkpointId());
        assertThat(states(elsewhere)).isEqualTo(atLater);
    }

    private RecoveredState recoverLocally(Path walDir) throws IOException {
        try (var wal = PerCoreWalManager.open(walDir, CoreThreads.walOptions(CORES))) {
            return new RecoveryManager(wal, store).recover();
        }
    }

    private static String rootMessages(Throwable e) {
        var messages = new ArrayList<String>();
        for (Throwable t = e; t != null; t = t.getCause()) {
            messages.add(String.valueOf(t.getMessage()));
        }
        return String.join(" / ", messages);
    }
}

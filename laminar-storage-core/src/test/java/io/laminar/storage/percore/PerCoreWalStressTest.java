package io.laminar.storage.percore;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PerCoreWalStressTest {

    private static final int CORES = 4;
    private static final int APPENDS_PER_CORE = 3000;
    private static final int MIN_CHECKPOINTS = 8;

    @TempDir
    Path dir;

    /** What an owner appended: its sequence, the epoch it landed in and its body. */
    record Appended(long sequence, long epoch, byte[] body) {
    }

    @Test
    @SuppressWarnings("unchecked")
    void concurrentOwnersAndCheckpointsLeaveLogsThatReplayExactlyAsTheModelSaysAfterAReopen() throws Exception {
        var options = PerCoreWalOptions.builder().cores(CORES).maxEntrySize(512)
                .wal(w -> w.segmentSize(64 * 1024).writeBufferSize(32 * 1024)).build();
        var model = new List[CORES];
        var acknowledgements = new CopyOnWriteArrayList<CompletableFuture<Long>>();
        var cuts = new CopyOnWriteArrayList<PreparedCheckpoint>();
        var checkpointsDone = new AtomicBoolean();
        var failures = new CopyOnWriteArrayList<Throwable>();

        try (var wal = PerCoreWalManager.open(dir, options)) {
            var ownersDone = new CountDownLatch(CORES);
            var owners = new ArrayList<Thread>();
            for (int c = 0; c < CORES; c++) {
                int core = c;
                var appended = new ArrayList<Appended>();
                model[core] = appended;
                owners.add(new Thread(() -> {
                    try {
                        var writer = wal.writer(core);
                        var random = new Random(core * 7919L);
                        var buffer = ByteBuffer.allocate(512);
                        for (int i = 0; i < APPENDS_PER_CORE; i++) {
                            var body = new byte[random.nextInt(300)];
                            random.nextBytes(body);
                            buffer.clear().put(body).flip();
                            long sequence = writer.append(buffer);
                            appended.add(new Appended(sequence, writer.epoch(), body));
                            if (i % 500 == 0) {
                                acknowledgements.add(wal.whenDurable(core, sequence));
                            }
                            while (i == APPENDS_PER_CORE / 2 && cuts.size() < 2) {
                                writer.pollEpoch(); // halfway: make sure the records span several epochs
                            }
                            if (random.nextInt(50) == 0) {
                                Thread.yield(); // let the checkpointer interleave at varied points
                            }
                        }
                        ownersDone.countDown();
                        while (!checkpointsDone.get()) { // idle: keep answering epoch advances
                            writer.pollEpoch();
                            Thread.onSpinWait();
                        }
                    } catch (Throwable t) {
                        failures.add(t);
                        ownersDone.countDown();
                    }
                }, "owner-" + core));
            }
            var checkpointer = new Thread(() -> {
                try {
                    while (cuts.size() < MIN_CHECKPOINTS || ownersDone.getCount() > 0) {
                        cuts.add(wal.epochCoordinator().prepareCheckpoint(Duration.ofSeconds(60)));
                        assertThat(wal.durableEpoch()).isGreaterThanOrEqualTo(cuts.get(cuts.size() - 1).epoch() - 1);
                    }
                } catch (Throwable t) {
                    failures.add(t);
                } finally {
                    checkpointsDone.set(true);
                }
            }, "checkpointer");
            owners.forEach(Thread::start);
            checkpointer.start();
            checkpointer.join();
            for (var owner : owners) {
                owner.join();
            }
            assertThat(failures).isEmpty();
            for (var ack : acknowledgements) {
                assertThat(ack.get(30, TimeUnit.SECONDS)).isNotNegative();
            }
        }

        long lastEpoch = cuts.get(cuts.size() - 1).epoch();
        for (var appended : model) {
            assertThat(((List<Appended>) appended).stream().map(Appended::epoch).distinct().count())
                    .isGreaterThanOrEqualTo(2);
        }
        try (var wal = PerCoreWalManager.open(dir, options)) {
            assertThat(wal.epoch()).isEqualTo(lastEpoch);
            assertThat(wal.durableEpoch()).isEqualTo(lastEpoch - 1);

            // Everything, in the merge order, matches what each owner appended.
            var replayed = replayData(wal, wal.startPositions());
            for (int core = 0; core < CORES; core++) {
                assertSame(replayed.get(core), model[core]);
            }

            // From every cut, replay yields exactly the records of the cut's epoch and later.
            for (var cut : cuts) {
                var fromCut = replayData(wal, cut.replayFrom());
                for (int core = 0; core < CORES; core++) {
                    @SuppressWarnings("unchecked")
                    var expected = ((List<Appended>) model[core]).stream().filter(a -> a.epoch() >= cut.epoch())
                            .toList();
                    assertSame(fromCut.get(core), expected);
                }
                var first = new ArrayList<CoreRecord>();
                wal.replay(cut.replayFrom(), r -> {
                    if (r.position() == cut.replayFrom().position(r.core())) {
                        first.add(r);
                    }
                });
                assertThat(first).hasSize(CORES).allSatisfy(r -> {
                    assertThat(r.kind()).isEqualTo(RecordKind.BARRIER);
                    assertThat(r.epoch()).isEqualTo(cut.epoch());
                });
            }

            // The merge order: epochs never go back, and within an epoch cores come in id order.
            var order = new ArrayList<long[]>();
            wal.replay(wal.startPositions(), r -> order.add(new long[] {r.epoch(), r.core()}));
            for (int i = 1; i < order.size(); i++) {
                assertThat(Arrays.compare(order.get(i - 1), order.get(i))).isLessThanOrEqualTo(0);
            }
        }
    }

    private static List<List<Appended>> replayData(PerCoreWalManager wal, CorePositions from) {
        var perCore = new ArrayList<List<Appended>>();
        for (int core = 0; core < wal.cores(); core++) {
            perCore.add(new ArrayList<>());
        }
        wal.replay(from, r -> {
            if (r.kind() == RecordKind.DATA) {
                perCore.get(r.core()).add(new Appended(r.sequence(), r.epoch(), r.bodyBytes()));
            }
        });
        return perCore;
    }

    @SuppressWarnings({"rawtypes", "unchecked"})
    private static void assertSame(List<Appended> actual, List expected) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < actual.size(); i++) {
            var a = actual.get(i);
            var e = (Appended) expected.get(i);
            assertThat(a.sequence()).isEqualTo(e.sequence());
            assertThat(a.epoch()).isEqualTo(e.epoch());
            assertThat(a.body()).isEqualTo(e.body());
        }
    }
}

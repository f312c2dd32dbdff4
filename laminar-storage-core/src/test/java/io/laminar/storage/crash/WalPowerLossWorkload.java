package io.laminar.storage.crash;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.io.FileIO;
import io.laminar.storage.io.PowerLossFileIO;
import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalOptions;
import io.laminar.storage.wal.WalTestBackend;
import io.laminar.storage.wal.WriteAheadLog;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

/**
 * One {@link WriteAheadLog} under a sync policy, in two lives (open, appends with durable appends and
 * syncs mixed in, segment rotation, a truncation, close; open again, which recovers, and the same
 * again). A record's payload is its index and bytes that follow from (seed, index), so every
 * recovered record can be checked byte for byte. Notes: {@code Ack(i)} once records 0..i are
 * durable, {@code Truncating(i)} before a truncation that keeps record i.
 */
final class WalPowerLossWorkload implements PowerLossExplorer.Workload {

    record Ack(int index) {
    }

    record Truncating(int index) {
    }

    private static final int RECORDS_PER_LIFE = 90;
    private final String name;
    private final SyncPolicy policy;

    WalPowerLossWorkload(String name, SyncPolicy policy) {
        this.name = name;
        this.policy = policy;
    }

    @Override
    public String name() {
        return "wal-" + name;
    }

    static WalOptions options(FileIO io, SyncPolicy policy) {
        return WalTestBackend.options().name("log").segmentSize(64 * 1024).maxRecordSize(8192).writeBufferSize(128 * 1024).syncPolicy(policy)
                .fileIO(io).build();
    }

    static byte[] payload(long seed, int index) {
        var random = new Random(seed * 31 + index);
        var bytes = new byte[8 + random.nextInt(random.nextInt(8) == 0 ? 6000 : 1500)];
        random.nextBytes(bytes);
        ByteBuffer.wrap(bytes).putLong(0, index);
        return bytes;
    }

    @Override
    public void run(PowerLossFileIO io, Path root, long seed) throws Exception {
        var dir = root.resolve("wal");
        var positions = new ArrayList<Long>();
        var random = new Random(seed);
        var pending = new ArrayList<CompletableFuture<?>>();
        for (int life = 0; life < 2; life++) {
            var log = WriteAheadLog.open(dir, options(io, policy));
            boolean everyAppend = policy instanceof SyncPolicy.EveryAppend;
            int truncateAt = RECORDS_PER_LIFE / 2 + random.nextInt(RECORDS_PER_LIFE / 3);
            for (int n = 0; n < RECORDS_PER_LIFE; n++) {
                int index = positions.size();
                var bytes = payload(seed, index);
                int dice = random.nextInt(10);
                if (everyAppend) {
                    positions.add(log.append(bytes));
                    io.mark(new Ack(index));
                } else if (dice == 0) {
                    var future = log.appendDurable(bytes);
                    positions.add(future.join()); // the position only once durable: wait now
                    io.mark(new Ack(index));
                } else {
                    positions.add(log.append(bytes));
                    if (dice == 1) {
                        pending.add(log.sync().thenRun(() -> io.mark(new Ack(index))));
                    }
                }
                if (n == truncateAt) {
                    int keep = index - 40 - random.nextInt(20);
                    if (keep > 0) {
                        log.sync().join(); // truncation is only up to what is written
                        io.mark(new Ack(index));
                        io.mark(new Truncating(keep));
                        log.truncateBefore(positions.get(keep));
                    }
                }
            }
            CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).join();
            pending.clear();
            log.close();
            io.mark(new Ack(positions.size() - 1));
        }
    }

    @Override
    public PowerLossExplorer.Checker checker(long seed) {
        return new PowerLossExplorer.Checker() {
            int acked = -1;
            int truncatedBefore = 0;

            @Override
            public void onMark(Object note) {
                if (note instanceof Ack ack) {
                    acked = Math.max(acked, ack.index());
                } else if (note instanceof Truncating t) {
                    truncatedBefore = Math.max(truncatedBefore, t.index());
                }
            }

            @Override
            public void check(Path root) {
                try (var log = WriteAheadLog.open(root.resolve("wal"),
                        options(NoSyncFileIO.INSTANCE, SyncPolicy.none()))) {
                    var reader = log.reader(log.startPosition());
                    int first = -1;
                    int expected = -1;
                    for (var record = reader.next(); record != null; record = reader.next()) {
                        var bytes = record.payloadBytes();
                        assertThat(bytes.length).as("record at position %d", record.position()).isGreaterThanOrEqualTo(8);
                        int index = (int) ByteBuffer.wrap(bytes).getLong(0);
                        if (first < 0) {
                            first = index;
                            expected = index;
                        }
                        assertThat(index).as("the record after %d", expected - 1).isEqualTo(expected);
                        assertThat(bytes).as("record %d byte for byte", index).isEqualTo(payload(seed, index));
                        expected++;
                    }
                    reader.close();
                    int last = first < 0 ? -1 : expected - 1;
                    assertThat(last).as("the last record recovered; records up to %d were acknowledged as durable",
                            acked).isGreaterThanOrEqualTo(acked);
                    if (first >= 0) {
                        assertThat(first).as("the first record recovered (truncated before %d)", truncatedBefore)
                                .isLessThanOrEqualTo(truncatedBefore);
                    }
                }
            }
        };
    }
}

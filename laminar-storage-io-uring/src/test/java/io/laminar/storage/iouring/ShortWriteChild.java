package io.laminar.storage.iouring;

import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalOptions;
import io.laminar.storage.wal.WriteAheadLog;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * The child JVM of {@link IoUringShortWriteTest}: acknowledges {@link #RECORDS} records in a WAL in
 * {@code args[0]} on io-uring (sync policy {@code args[1]}), then lowers its own file-size limit
 * ({@code RLIMIT_FSIZE}, with {@code prlimit64}) to a file offset inside the next record's frame, so
 * the kernel writes that frame short: up to the limit, then EFBIG. Prints {@code ACK <n>},
 * {@code LIMIT <offset>}, and {@code FAILED <the log's failure>} or {@code ACKNOWLEDGED} (a defect).
 */
public final class ShortWriteChild {

    static final int RECORDS = 20;
    private static final long SYS_PRLIMIT64 = System.getProperty("os.arch").equals("aarch64") ? 261 : 302;
    private static final int RLIMIT_FSIZE = 1;

    private ShortWriteChild() {
    }

    public static void main(String[] args) throws Exception {
        var dir = Path.of(args[0]);
        var policy = args[1].equals("every-append") ? SyncPolicy.everyAppend() : SyncPolicy.groupCommit();
        var options = WalOptions.builder().ioBackend(WalIoBackend.IO_URING).segmentSize(1 << 20).maxRecordSize(8192)
                .syncPolicy(policy).build();
        try (var wal = WriteAheadLog.open(dir, options)) {
            for (int i = 0; i < RECORDS; i++) {
                wal.appendDurable(record(i)).get(30, TimeUnit.SECONDS);
            }
            System.out.println("ACK " + RECORDS);
            var segment = wal.segmentFile(wal.writtenPosition() - 1);
            long limit = endOfData(segment) + 64; // inside the next frame, which is about 1 KiB long
            setFileSizeLimit(limit);
            System.out.println("LIMIT " + limit);
            System.out.flush();
            try {
                var unacknowledged = new byte[1000];
                Arrays.fill(unacknowledged, (byte) 'x'); // not zeros: the zeros past the limit must not complete it
                wal.appendDurable(unacknowledged).get(30, TimeUnit.SECONDS);
                System.out.println("ACKNOWLEDGED");
            } catch (Exception e) {
                System.out.println("FAILED " + wal.failure().map(Throwable::toString).orElse("not failed: " + e));
            }
        } catch (RuntimeException e) {
            // close after the failure: the log says so; what matters was printed
        }
        System.out.flush();
        System.exit(0);
    }

    static byte[] record(int i) {
        return ("record " + i).getBytes(StandardCharsets.UTF_8);
    }

    /** The end of the written frames: after the last non-zero byte, 8-byte aligned (frames are). */
    private static long endOfData(Path segment) throws Exception {
        try (var channel = FileChannel.open(segment)) {
            var bytes = ByteBuffer.allocate((int) Math.min(channel.size(), 1 << 20));
            channel.read(bytes, 0);
            var array = Arrays.copyOf(bytes.array(), bytes.position());
            int last = array.length - 1;
            while (last >= 0 && array[last] == 0) {
                last--;
            }
            return (last + 1 + 7) & ~7L;
        }
    }

    private static void setFileSizeLimit(long limit) {
        try (var arena = Arena.ofConfined()) {
            var old = arena.allocate(16, 8);
            long r = IoUring.syscall(SYS_PRLIMIT64, 0, RLIMIT_FSIZE, 0, old.address(), 0, 0);
            if (r != 0) {
                throw new IllegalStateException("prlimit64 read failed: " + Errno.describe((int) -r));
            }
            var limits = arena.allocate(16, 8);
            limits.set(ValueLayout.JAVA_LONG, 0, limit);
            limits.set(ValueLayout.JAVA_LONG, 8, old.get(ValueLayout.JAVA_LONG, 8));
            r = IoUring.syscall(SYS_PRLIMIT64, 0, RLIMIT_FSIZE, limits.address(), 0, 0, 0);
            if (r != 0) {
                throw new IllegalStateException("prlimit64 failed: " + Errno.describe((int) -r));
            }
        }
    }
}

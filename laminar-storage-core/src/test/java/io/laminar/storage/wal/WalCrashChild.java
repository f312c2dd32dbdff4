package io.laminar.storage.wal;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The process {@link WalCrashTest} kills: opens the log in a directory and appends from several
 * threads until it is killed, printing one line to stdout for every record acknowledged as durable,
 * only after the acknowledgement and flushed at once.
 *
 * <p>Usage: {@code WalCrashChild <dir> <round> <writers> <segmentSize> <writeBufferSize> <policy>}
 * where policy is {@code group}, {@code group-linger}, {@code none}, {@code interval} or
 * {@code every}. Lines printed:
 * <pre>
 * OPEN &lt;startPosition&gt; &lt;endPosition&gt; &lt;tornTailBytes&gt;   after the log opened
 * READY                                                   after the writers started
 * A &lt;round&gt; &lt;writer&gt; &lt;seq&gt; &lt;position&gt;          record (round, writer, seq) is durable at position
 * ERROR &lt;what&gt;                                            something failed: the test fails
 * </pre>
 * Each writer appends its records in sequence order and has at most {@link #MAX_IN_FLIGHT}
 * records appended but not yet printed. It exits by itself when stdin closes (the test is gone) or
 * after {@link #MAX_LIFETIME}.
 */
public final class WalCrashChild {

    static final int MAX_RECORD_SIZE = 16 * 1024;
    static final int MAX_IN_FLIGHT = 16;
    static final int HEADER = 16;
    static final int MAGIC = 0x4C414D43; // "LAMC"
    static final String LOG_NAME = "wal";
    /** A child stops appending after this many payload bytes, so that a stalled test cannot fill the disk. */
    static final long MAX_BYTES = 256L << 20;
    static final Duration MAX_LIFETIME = Duration.ofSeconds(90);

    private static final OutputStream OUT = new FileOutputStream(FileDescriptor.out);

    private WalCrashChild() {
    }

    public static void main(String[] args) throws Exception {
        var dir = Path.of(args[0]);
        int round = Integer.parseInt(args[1]);
        int writers = Integer.parseInt(args[2]);
        long segmentSize = Long.parseLong(args[3]);
        int writeBufferSize = Integer.parseInt(args[4]);
        var policy = args[5];
        exitWhenOrphaned();

        var options = WalTestBackend.options().name(LOG_NAME).segmentSize(segmentSize).maxRecordSize(MAX_RECORD_SIZE)
                .writeBufferSize(writeBufferSize).syncPolicy(syncPolicy(policy)).build();
        var wal = WriteAheadLog.open(dir, options);
        var report = wal.recoveryReport();
        emit("OPEN " + wal.startPosition() + " " + wal.endPosition() + " " + report.tornTailBytes());

        var written = new AtomicLong();
        var threads = new ArrayList<Thread>();
        for (int w = 0; w < writers; w++) {
            var writer = new Writer(wal, round, w, writerKind(policy, w), 1 + (round * 7 + w * 5) % MAX_IN_FLIGHT,
                    written);
            var thread = new Thread(writer, "crash-writer-" + w);
            threads.add(thread);
            thread.start();
        }
        emit("READY");
        for (var thread : threads) {
            thread.join();
        }
        // Reached only if every writer stopped: keep the log open, as a crashing process would.
        Thread.sleep(MAX_LIFETIME.toMillis());
    }

    static SyncPolicy syncPolicy(String name) {
        return switch (name) {
            case "group" -> SyncPolicy.groupCommit();
            case "group-linger" -> SyncPolicy.groupCommit(Duration.ofMillis(5), 64);
            case "none" -> SyncPolicy.none();
            case "interval" -> SyncPolicy.interval(Duration.ofMillis(3));
            case "every" -> SyncPolicy.everyAppend();
            default -> throw new IllegalArgumentException("unknown sync policy " + name);
        };
    }

    /** How writer {@code w} asks for durability. */
    enum Kind {
        /** appendDurable, with a window of futures in flight. */
        DURABLE,
        /** a batch of plain appends, then sync(). */
        BATCH,
        /** a plain append, which returns once durable under EveryAppend. */
        EVERY_APPEND
    }

    static Kind writerKind(String policy, int w) {
        if (policy.equals("every")) {
            return w % 2 == 0 ? Kind.EVERY_APPEND : Kind.DURABLE;
        }
        return w % 3 == 2 ? Kind.BATCH : Kind.DURABLE;
    }

    /**
     * The payload of record (round, writer, seq): a 16-byte header naming it, then bytes that
     * follow from it. Lengths vary from 16 bytes to {@link #MAX_RECORD_SIZE}: mostly small, some
     * kilobytes, a few near or at the largest size.
     */
    static byte[] payload(int round, int writer, int seq) {
        var random = new SplittableRandom(round * 0x9E37_79B9_7F4A_7C15L + writer * 0xC2B2_AE3D_27D4_EB4FL
                + seq * 0x1656_67B1_9E37_79F9L);
        int r = random.nextInt(100);
        int length = r < 70 ? random.nextInt(HEADER, 256)
                : r < 93 ? random.nextInt(256, 4096)
                : r < 99 ? random.nextInt(4096, MAX_RECORD_SIZE)
                : MAX_RECORD_SIZE;
        var bytes = new byte[length];
        random.nextBytes(bytes);
        ByteBuffer.wrap(bytes).putInt(0, MAGIC).putInt(4, round).putInt(8, writer).putInt(12, seq);
        return bytes;
    }

    private static void emit(String line) {
        var bytes = (line + "\n").getBytes(StandardCharsets.US_ASCII);
        synchronized (OUT) {
            try {
                OUT.write(bytes); // one write(2) per line: a kill never splits a line shorter than PIPE_BUF
                OUT.flush();
            } catch (IOException e) {
                Runtime.getRuntime().halt(4); // the test is gone
            }
        }
    }

    /** Exits when stdin closes (the test process died) or after {@link #MAX_LIFETIME}. */
    private static void exitWhenOrphaned() {
        var watcher = new Thread(() -> {
            try {
                InputStream in = System.in;
                while (in.read() >= 0) {
                    // the test never writes: wait for end of stream
                }
            } catch (IOException ignored) {
                // treat as closed
            }
            Runtime.getRuntime().halt(3);
        }, "stdin-watcher");
        watcher.setDaemon(true);
        watcher.start();
        var timer = new Thread(() -> {
            try {
                Thread.sleep(MAX_LIFETIME.toMillis());
            } catch (InterruptedException ignored) {
                // exit anyway
            }
            Runtime.getRuntime().halt(5);
        }, "lifetime");
        timer.setDaemon(true);
        timer.start();
    }

    private record Pending(int seq, long position, CompletableFuture<Long> future) {
    }

    private static final class Writer implements Runnable {
        private final WriteAheadLog wal;
        private final int round;
        private final int writer;
        private final Kind kind;
        private final int window;
        private final AtomicLong written;

        Writer(WriteAheadLog wal, int round, int writer, Kind kind, int window, AtomicLong written) {
            this.wal = wal;
            this.round = round;
            this.writer = writer;
            this.kind = kind;
            this.window = window;
            this.written = written;
        }

        @Override
        public void run() {
            try {
                switch (kind) {
                    case DURABLE -> durable();
                    case BATCH -> batches();
                    case EVERY_APPEND -> everyAppend();
                    default -> throw new IllegalStateException(kind.toString());
                }
            } catch (Throwable e) {
                emit("ERROR writer " + writer + " (" + kind + "): " + e.toString().replace('\n', ' '));
                e.printStackTrace();
            }
        }

        private byte[] next(int seq) {
            var bytes = payload(round, writer, seq);
            return written.addAndGet(bytes.length) > MAX_BYTES ? null : bytes;
        }

        private void ack(int seq, long position) {
            emit("A " + round + " " + writer + " " + seq + " " + position);
        }

        private void durable() throws Exception {
            var inFlight = new ArrayDeque<Pending>();
            for (int seq = 0; ; seq++) {
                while (inFlight.size() >= window) {
                    var head = inFlight.poll();
                    long position = head.future.get(60, TimeUnit.SECONDS);
                    ack(head.seq, position);
                }
                var bytes = next(seq);
                if (bytes == null) {
                    return;
                }
                inFlight.add(new Pending(seq, -1, wal.appendDurable(bytes)));
            }
        }

        private void batches() throws Exception {
            var batch = new ArrayList<Pending>();
            for (int seq = 0; ; ) {
                batch.clear();
                for (int i = 0; i < window; i++, seq++) {
                    var bytes = next(seq);
                    if (bytes == null) {
                        return;
                    }
                    batch.add(new Pending(seq, wal.append(bytes), null));
                }
                wal.sync().get(60, TimeUnit.SECONDS);
                for (var p : batch) {
                    ack(p.seq, p.position);
                }
            }
        }

        private void everyAppend() {
            for (int seq = 0; ; seq++) {
                var bytes = next(seq);
                if (bytes == null) {
                    return;
                }
                ack(seq, wal.append(bytes));
            }
        }
    }
}

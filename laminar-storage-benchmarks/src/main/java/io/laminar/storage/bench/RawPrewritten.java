package io.laminar.storage.bench;

import com.sun.nio.file.ExtendedOpenOption;
import io.laminar.storage.io.FileIO;
import io.laminar.storage.wal.SegmentWriter;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalIoProvider;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.Set;

/**
 * The disk's ceiling for a durable write: one writer making a batch of frames durable at a time, in
 * a file pre-written with zeros (as laminar's segments are), with one system-call primitive and
 * nothing else: no framing, no checksum, no lock, no other thread. Each batch is {@code records}
 * frames of the padded size a WAL frame of the payload has, written right after the previous batch.
 * What the rows of the {@link Primitive}s measure is the best a WAL backend built on that primitive
 * could reach on this machine; their ratios to {@link Primitive#PWRITE} bound the backends' ratios to
 * {@code file-channel}.
 *
 * <p>Single-threaded.
 */
public final class RawPrewritten implements AutoCloseable {

    /** How a batch reaches the disk. */
    public enum Primitive {
        /** Buffered {@code pwrite} into the page cache, then fdatasync: what {@code file-channel} does. */
        PWRITE("pwrite"),
        /**
         * O_DIRECT {@code pwrite} of the block-aligned span holding the batch (the partial block at the
         * end written again with the next batch), then fdatasync: what {@code direct} does.
         */
        DIRECT("direct"),
        /** As {@link #DIRECT}, the file opened with O_DSYNC as well, and no fdatasync. */
        DIRECT_DSYNC("direct-dsync"),
        /**
         * The io-uring module's segment writer: the batch's write and an fdatasync linked and submitted
         * with one {@code io_uring_enter} ({@link SegmentWriter#writeAndSync}), what {@code io-uring}
         * does per group commit. Java 22+ with the module on the class path.
         */
        IO_URING("io-uring");

        private final String label;

        Primitive(String label) {
            this.label = label;
        }

        /** The name in the rows' {@code primitive} field. */
        public String label() {
            return label;
        }

        /** The primitives this JVM can run: io-uring only where its provider is present and io_uring runs. */
        public static List<Primitive> runnable() {
            return ioUringProvider().isPresent() ? List.of(values()) : List.of(PWRITE, DIRECT, DIRECT_DSYNC);
        }
    }

    /** The block size O_DIRECT writes are aligned to (ext4's, and the page size). */
    private static final int BLOCK = 4096;

    private final Primitive primitive;
    private final FileChannel channel;
    private final SegmentWriter ioUring;
    /** The current partial block and the batch after it (O_DIRECT), or the batch (others). Direct, block-aligned. */
    private final ByteBuffer staging;
    private final ByteBuffer batch;
    private final ByteBuffer[] batchArray;
    private final long capacity;
    private long position;

    /**
     * Pre-writes {@code file} ({@code capacity} bytes of zeros, synced) and opens it for
     * {@code primitive}; each {@link #writeBatch} writes {@code records} frames of {@code frameBytes}
     * bytes holding {@code payload} (repeated).
     */
    public RawPrewritten(Path file, long capacity, Primitive primitive, byte[] payload, int frameBytes, int records)
            throws IOException {
        this.primitive = primitive;
        this.capacity = capacity;
        preWrite(file, capacity);
        int batchBytes = frameBytes * records;
        this.batch = aligned(batchBytes).limit(batchBytes).slice();
        for (int r = 0; r < records; r++) {
            batch.put(r * frameBytes, payload, 0, Math.min(payload.length, frameBytes));
        }
        this.batchArray = new ByteBuffer[] {batch};
        int stagingBytes = (batchBytes + 2 * BLOCK) & -BLOCK;
        this.staging = aligned(stagingBytes);
        Set<OpenOption> options = new HashSet<>(List.of(StandardOpenOption.READ, StandardOpenOption.WRITE));
        switch (primitive) {
            case DIRECT -> options.add(ExtendedOpenOption.DIRECT);
            case DIRECT_DSYNC -> {
                options.add(ExtendedOpenOption.DIRECT);
                options.add(StandardOpenOption.DSYNC);
            }
            default -> {
            }
        }
        this.channel = FileChannel.open(file, options);
        if (primitive == Primitive.IO_URING) {
            var provider = ioUringProvider().orElseThrow(() -> new IOException("the io-uring provider cannot run here"));
            this.ioUring = provider.open(file, channel, FileIO.system()); // owns the channel from here
        } else {
            this.ioUring = null;
        }
    }

    /** Writes the next batch and makes it durable with this primitive; starts over at 0 at the file's end. */
    public void writeBatch() throws IOException {
        int length = batch.capacity();
        if (position + length + BLOCK > capacity) {
            position = 0;
        }
        switch (primitive) {
            case PWRITE -> {
                writeFully(batch.clear(), position);
                channel.force(false);
            }
            case DIRECT, DIRECT_DSYNC -> {
                long block = position & -BLOCK;
                int lead = (int) (position - block);
                // staging[0, lead) holds the block's earlier frames (zeros after a wrap: the file is reused)
                staging.clear();
                staging.put(lead, batch, 0, length);
                int end = lead + length;
                int alignedEnd = (end + BLOCK - 1) & -BLOCK;
                for (int i = end; i < alignedEnd; i++) {
                    staging.put(i, (byte) 0);
                }
                writeFully(staging.clear().limit(alignedEnd), block);
                int tailStart = end & -BLOCK;
                staging.clear();
                staging.put(0, staging, tailStart, end - tailStart);
                if (primitive == Primitive.DIRECT) {
                    channel.force(false);
                }
            }
            case IO_URING -> ioUring.writeAndSync(new ByteBuffer[] {batch.clear()}, position);
            default -> throw new IllegalStateException(primitive.toString());
        }
        position += length;
    }

    private void writeFully(ByteBuffer buffer, long at) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer, at + buffer.position());
        }
    }

    @Override
    public void close() throws IOException {
        if (ioUring != null) {
            ioUring.close();
        } else {
            channel.close();
        }
    }

    /** A direct buffer of at least {@code bytes}, its address and capacity multiples of {@link #BLOCK}. */
    private static ByteBuffer aligned(int bytes) {
        int rounded = (bytes + BLOCK - 1) & -BLOCK;
        return ByteBuffer.allocateDirect(rounded + BLOCK).alignedSlice(BLOCK).limit(rounded).slice();
    }

    private static void preWrite(Path file, long capacity) throws IOException {
        try (var out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            var zeros = ByteBuffer.allocateDirect(1 << 20);
            for (long at = 0; at < capacity; at += zeros.capacity()) {
                zeros.clear().limit((int) Math.min(zeros.capacity(), capacity - at));
                while (zeros.hasRemaining()) {
                    out.write(zeros, at + zeros.position());
                }
            }
            out.force(true);
        }
        if (Files.size(file) != capacity) {
            throw new IOException("pre-writing " + file + " left " + Files.size(file) + " bytes, not " + capacity);
        }
    }

    /** The io-uring module's provider where it is on the class path and io_uring runs in this JVM. */
    private static Optional<WalIoProvider> ioUringProvider() {
        if (Runtime.version().feature() < 22) {
            return Optional.empty();
        }
        try {
            for (var provider : ServiceLoader.load(WalIoProvider.class, RawPrewritten.class.getClassLoader())) {
                if (provider.backend() == WalIoBackend.IO_URING && provider.unavailability().isEmpty()) {
                    return Optional.of(provider);
                }
            }
        } catch (RuntimeException | LinkageError e) {
            return Optional.empty();
        }
        return Optional.empty();
    }
}

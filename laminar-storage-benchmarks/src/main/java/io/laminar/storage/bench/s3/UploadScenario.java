package io.laminar.storage.bench.s3;

import io.laminar.storage.bench.BenchContext;
import io.laminar.storage.bench.Result;
import io.laminar.storage.bench.Scenario;
import io.laminar.storage.bench.checkpoint.CheckpointFixture;
import io.laminar.storage.store.StateFileRef;
import io.laminar.storage.store.s3.S3CheckpointStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.CRC32C;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ChecksumAlgorithm;
import software.amazon.awssdk.services.s3.model.ChecksumType;
import software.amazon.awssdk.services.s3.model.CompletedPart;

/**
 * {@code upload}: a FULL checkpoint ({@code maxDeltas(0)}) of the whole state of
 * {@value CheckpointFixture#CORES} cores into an {@link S3CheckpointStore} with its defaults, through
 * the real checkpoint path (the coordinator cuts, streams each core's state file into the store, a
 * parallel multipart upload, and publishes the manifest with a conditional PUT), timed from
 * {@code triggerCheckpoint()} until its future completes: system {@code laminar}. Beside it, system
 * {@code raw}: the same bytes, one object per state file of the same size, each sent with one plain
 * {@code PutObject} of the same client (the SDK's defaults), one after the other as the checkpoint
 * writes its files. And system {@code raw-multipart}: the same bytes as plain multipart uploads with the
 * store's part size and parts in flight, the SDK's defaults otherwise, to tell what the store costs
 * from what the protocol (and this server's way of completing an upload) costs; and system
 * {@code raw-multipart-crc32c}: those uploads with the store's checksums and condition, to tell what
 * the server does for them. After one unmeasured warm-up checkpoint, rounds rotate the four; the
 * median is kept.
 */
public final class UploadScenario implements Scenario {

    public static final String NAME = "upload";
    /** The store's default: parts in flight per upload. */
    private static final int UPLOAD_THREADS = 4;
    private static final String RAW_MULTIPART = "raw-multipart";
    private static final String RAW_MULTIPART_CRC32C = "raw-multipart-crc32c";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<Result> run(BenchContext context) throws Exception {
        var s = S3Settings.forRun(context.settings().quick());
        var dir = context.newDirectory(NAME);
        var laminar = new ArrayList<Result>();
        var raw = new ArrayList<Result>();
        var rawMultipart = new ArrayList<Result>();
        var rawMultipartCrc32c = new ArrayList<Result>();
        try (var server = new S3Server(dir);
             var store = S3CheckpointStore.builder(server.client, S3Server.BUCKET).prefix("laminar").build();
             var fixture = new CheckpointFixture(dir.resolve("node"), s.stateBytes(), 0, store)) {
            // Unmeasured: the process's first checkpoint also pays for class loading and the JIT.
            var cold = fixture.checkpoint();
            var sizes = cold.manifest().files().stream().mapToLong(StateFileRef::size).toArray();
            for (int round = 0; round < s.rounds(); round++) {
                for (int k = 0; k < 4; k++) {
                    int system = (k + round) % 4;
                    // The checksummed row's bytes and CRC32Cs are made before its CPU time is counted.
                    var multipartBlock = block(100 + round);
                    var checksums = system == 3 ? Checksums.of(multipartBlock, sizes, store.partSize()) : null;
                    BenchContext.awaitQuietDisk();
                    long cpu = S3Server.processCpuNanos();
                    long serverCpu = S3Server.serverCpuNanos();
                    Result row = switch (system) {
                        case 0 -> laminar(fixture, store).extra("coldSeconds", Result.round(cold.seconds(), 3));
                        case 1 -> raw(server.client, round, sizes);
                        default -> rawMultipart(server.client, round, sizes, store.partSize(), UPLOAD_THREADS,
                                multipartBlock, checksums);
                    };
                    row.extra("cpuSeconds", Result.round((S3Server.processCpuNanos() - cpu) / 1e9, 2));
                    row.extra("serverCpuSeconds", Result.round((S3Server.serverCpuNanos() - serverCpu) / 1e9, 2));
                    switch (row.system()) {
                        case "laminar" -> laminar.add(row);
                        case "raw" -> raw.add(row);
                        case RAW_MULTIPART -> rawMultipart.add(row);
                        default -> rawMultipartCrc32c.add(row);
                    }
                }
            }
        } finally {
            BenchContext.deleteTree(dir);
        }
        var l = Result.median(laminar, x -> ((Number) x.extra("seconds")).doubleValue(), "runsSeconds");
        var r = Result.median(raw, x -> ((Number) x.extra("seconds")).doubleValue(), "runsSeconds");
        var m = Result.median(rawMultipart, x -> ((Number) x.extra("seconds")).doubleValue(), "runsSeconds");
        var c = Result.median(rawMultipartCrc32c, x -> ((Number) x.extra("seconds")).doubleValue(), "runsSeconds");
        // The same bytes every way: the ratio of the times is the ratio of the throughputs.
        double seconds = ((Number) l.extra("seconds")).doubleValue();
        l.extra("vsRaw", Result.round(((Number) r.extra("seconds")).doubleValue() / seconds, 3));
        l.extra("vsRawMultipart", Result.round(((Number) m.extra("seconds")).doubleValue() / seconds, 3));
        l.extra("vsRawMultipartCrc32c", Result.round(((Number) c.extra("seconds")).doubleValue() / seconds, 3));
        return List.of(l, r, m, c);
    }

    private static Result laminar(CheckpointFixture fixture, S3CheckpointStore store) {
        var t = fixture.checkpoint();
        long written = t.manifest().writtenBytes();
        return new Result(NAME, "laminar", CheckpointFixture.CORES, CheckpointFixture.VALUE_BYTES)
                .bytesPerSecond(written, t.seconds())
                .extra("seconds", Result.round(t.seconds(), 3))
                .extra("bytes", written)
                .extra("stateBytes", t.manifest().stateBytes())
                .extra("files", t.manifest().files().size())
                .extra("cutSeconds", Result.round(t.cutSeconds(), 3))
                .extra("stateFilesSeconds", Result.round(t.filesSeconds(), 3))
                .extra("publishedSeconds", Result.round(t.publishSeconds(), 3))
                .extra("partSize", store.partSize());
    }

    /** One plain PUT per file size, sequentially; the objects are deleted afterwards (not timed). */
    private static Result raw(S3Client client, int round, long[] sizes) {
        var block = block(round);
        var keys = new ArrayList<String>();
        long bytes = 0;
        long start = System.nanoTime();
        for (int i = 0; i < sizes.length; i++) {
            var key = "raw/" + round + "/file-" + i;
            long size = sizes[i];
            client.putObject(b -> b.bucket(S3Server.BUCKET).key(key),
                    RequestBody.fromContentProvider(() -> repeating(block, size), size, "application/octet-stream"));
            keys.add(key);
            bytes += size;
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        for (var key : keys) {
            client.deleteObject(b -> b.bucket(S3Server.BUCKET).key(key));
        }
        return new Result(NAME, "raw", CheckpointFixture.CORES, CheckpointFixture.VALUE_BYTES)
                .bytesPerSecond(bytes, seconds)
                .extra("seconds", Result.round(seconds, 3))
                .extra("bytes", bytes)
                .extra("files", sizes.length);
    }

    /**
     * The same bytes as plain multipart uploads with the store's part size, {@code threads} parts
     * in flight, the SDK's defaults for everything else: what the protocol costs without the store.
     * With {@code checksums} (of {@code block} repeated), the requests carry the store's checksums
     * and condition: a CRC32C per part, and at completion the full-object CRC32C, its size and
     * {@code If-None-Match: *} (what the server does for those, e.g. S3Proxy reading every part
     * again at the completion to check them, is then in this row too).
     */
    private static Result rawMultipart(S3Client client, int round, long[] sizes, int partSize, int threads,
                                       byte[] block, Checksums checksums) throws Exception {
        boolean checksummed = checksums != null;
        var system = checksummed ? RAW_MULTIPART_CRC32C : RAW_MULTIPART;
        var keys = new ArrayList<String>();
        long bytes = 0;
        var pool = Executors.newFixedThreadPool(threads);
        try {
            long start = System.nanoTime();
            for (int i = 0; i < sizes.length; i++) {
                var key = system + "/" + round + "/file-" + i;
                var uploadId = client.createMultipartUpload(b -> {
                    b.bucket(S3Server.BUCKET).key(key);
                    if (checksummed) {
                        b.checksumAlgorithm(ChecksumAlgorithm.CRC32_C).checksumType(ChecksumType.FULL_OBJECT);
                    }
                }).uploadId();
                var parts = new ArrayList<Future<CompletedPart>>();
                for (long at = 0; at < sizes[i]; at += partSize) {
                    int number = parts.size() + 1;
                    long length = Math.min(partSize, sizes[i] - at);
                    var crc = checksummed ? checksums.parts().get(length) : null;
                    parts.add(pool.submit(() -> {
                        var eTag = client.uploadPart(b -> b.bucket(S3Server.BUCKET).key(key).uploadId(uploadId)
                                        .partNumber(number).contentLength(length).checksumCRC32C(crc),
                                RequestBody.fromContentProvider(() -> repeating(block, length), length,
                                        "application/octet-stream")).eTag();
                        return CompletedPart.builder().partNumber(number).eTag(eTag).checksumCRC32C(crc).build();
                    }));
                }
                var completed = new ArrayList<CompletedPart>();
                for (var part : parts) {
                    completed.add(part.get());
                }
                long size = sizes[i];
                var fullCrc = checksummed ? checksums.full()[i] : null;
                client.completeMultipartUpload(b -> {
                    b.bucket(S3Server.BUCKET).key(key).uploadId(uploadId).multipartUpload(u -> u.parts(completed));
                    if (checksummed) {
                        b.ifNoneMatch("*").checksumCRC32C(fullCrc).checksumType(ChecksumType.FULL_OBJECT)
                                .mpuObjectSize(size);
                    }
                });
                keys.add(key);
                bytes += sizes[i];
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            for (var key : keys) {
                client.deleteObject(b -> b.bucket(S3Server.BUCKET).key(key));
            }
            return new Result(NAME, system, CheckpointFixture.CORES, CheckpointFixture.VALUE_BYTES)
                    .bytesPerSecond(bytes, seconds)
                    .extra("seconds", Result.round(seconds, 3))
                    .extra("bytes", bytes)
                    .extra("files", sizes.length)
                    .extra("partSize", partSize);
        } finally {
            pool.shutdownNow();
        }
    }

    /** 1 MiB of the fixture's random bytes for {@code seed}. */
    private static byte[] block(long seed) {
        var block = new byte[1 << 20];
        CheckpointFixture.fill(new SplittableRandom(seed), block);
        return block;
    }

    /**
     * The CRC32Cs of files of {@code block} repeated: each file's whole, and each part's by its
     * length (the part size is a multiple of the block's, so every part starts at a block boundary).
     */
    private record Checksums(String[] full, Map<Long, String> parts) {
        static Checksums of(byte[] block, long[] sizes, int partSize) {
            if (partSize % block.length != 0) {
                throw new IllegalArgumentException("the part size " + partSize + " is not a multiple of "
                        + block.length + " bytes: the parts' contents would differ");
            }
            var full = new String[sizes.length];
            var parts = new HashMap<Long, String>();
            for (int i = 0; i < sizes.length; i++) {
                full[i] = crc32c(repeating(block, sizes[i]));
                for (long at = 0; at < sizes[i]; at += partSize) {
                    parts.computeIfAbsent(Math.min(partSize, sizes[i] - at), n -> crc32c(repeating(block, n)));
                }
            }
            return new Checksums(full, parts);
        }
    }

    /** The base64 of the big-endian CRC32C of the stream's bytes, as S3's checksum headers carry it. */
    private static String crc32c(InputStream in) {
        var crc = new CRC32C();
        var chunk = new byte[1 << 16];
        try (in) {
            for (int n; (n = in.read(chunk)) >= 0; ) {
                crc.update(chunk, 0, n);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Base64.getEncoder().encodeToString(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    /** {@code size} bytes: {@code block} over and over. */
    static InputStream repeating(byte[] block, long size) {
        return new InputStream() {
            long left = size;

            @Override
            public int read() {
                if (left <= 0) {
                    return -1;
                }
                return block[(int) ((size - left--) % block.length)] & 0xff;
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (left <= 0) {
                    return -1;
                }
                int at = (int) ((size - left) % block.length);
                int n = (int) Math.min(Math.min(len, left), block.length - at);
                System.arraycopy(block, at, b, off, n);
                left -= n;
                return n;
            }
        };
    }
}

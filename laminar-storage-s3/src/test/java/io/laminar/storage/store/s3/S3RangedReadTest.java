package io.laminar.storage.store.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.checkpoint.Rescaler;
import io.laminar.storage.checkpoint.StatePlacement;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.CheckpointCorruptException;
import io.laminar.storage.store.Crc32cReporting;
import io.laminar.storage.store.VerifyingInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AnonymousCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Large state files read in ranges fetched in parallel (64 KiB ranges here, 3 ahead), against
 * S3Proxy behind a {@link FaultProxy}: every byte comes back in order and is judged as a plain GET's
 * would be, a broken range resumes inside its range, and a damaged, replaced or unranged answer is
 * refused, naming the file.
 */
@Timeout(120)
class S3RangedReadTest {

    private static final String BUCKET = "ranged";
    private static final int RANGE = 64 * 1024;
    private static final int AHEAD = 3;
    private static final AtomicInteger PREFIXES = new AtomicInteger();
    private static S3ProxyServer server;

    @TempDir
    Path dir;

    private FaultProxy proxy;
    private S3Client client;
    private S3CheckpointStore store;

    @BeforeAll
    static void startServer() throws Exception {
        server = S3ProxyServer.inMemory();
        server.createBucket(BUCKET);
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.close();
    }

    @BeforeEach
    void setUp() throws IOException {
        proxy = new FaultProxy(server.endpoint());
        client = S3ProxyServer.clientWithoutRetries(proxy.endpoint(), S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY);
        store = storeBuilder().build();
    }

    private S3CheckpointStore.Builder storeBuilder() {
        return S3CheckpointStore.builder(client, BUCKET).prefix("r" + PREFIXES.incrementAndGet()).maxAttempts(4)
                .retryBackoff(Duration.ofMillis(1), Duration.ofMillis(20)).downloadRangeSize(RANGE).rangesAhead(AHEAD);
    }

    @AfterEach
    void tearDown() throws IOException {
        store.close();
        client.close();
        proxy.close();
    }

    private static byte[] randomBytes(int length, long seed) {
        var bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    private static String crc32c(byte[] bytes) {
        var crc = new CRC32C();
        crc.update(bytes);
        return String.format("%08x", crc.getValue());
    }

    private List<FaultProxy.Request> getsOf(String path) {
        return proxy.requests().stream().filter(r -> r.method().equals("GET") && r.target().contains("/" + path))
                .toList();
    }

    /** Reads to the end in reads of {@code step} bytes, so that reads straddle the ranges' borders. */
    private static byte[] readInSteps(InputStream in, int step) throws IOException {
        var out = new ByteArrayOutputStream();
        var buffer = new byte[step];
        for (int n; (n = in.read(buffer, 0, step)) >= 0; ) {
            out.write(buffer, 0, n);
        }
        return out.toByteArray();
    }

    @Test
    void aLargeStateFileIsReadInRangesPinnedToItsETagAndComesBackWholeInOrder() throws Exception {
        var bytes = randomBytes(16 * RANGE + 123, 1); // the last range is short
        var ref = store.writeFile("big", new ByteArrayInputStream(bytes));
        proxy.clearRequests();

        try (var in = store.openFile("big")) {
            assertThat(readInSteps(in, 7777)).isEqualTo(bytes);
            assertThat(in.read()).isEqualTo(-1);
            assertThat(String.format("%08x", ((Crc32cReporting) in).crc32cOfBytesRead())).isEqualTo(crc32c(bytes));
        }
        var gets = getsOf("big");
        assertThat(gets).hasSize(17);
        assertThat(gets.get(0).header("range")).isEmpty(); // the first GET: size, ETag, full-object CRC32C
        var ranges = gets.subList(1, gets.size()).stream().map(r -> r.header("range").orElseThrow()).sorted().toList();
        var expected = new ArrayList<String>();
        for (long start = RANGE; start < bytes.length; start += RANGE) {
            expected.add("bytes=" + start + "-" + (Math.min(start + RANGE, bytes.length) - 1));
        }
        assertThat(ranges).containsExactlyInAnyOrderElementsOf(expected);
        assertThat(gets.subList(1, gets.size())).allSatisfy(r -> assertThat(r.header("if-match")).isPresent());

        // Against the manifest's record as recovery reads it.
        try (var in = VerifyingInputStream.open(store, ref, 3)) {
            assertThat(in.readAllBytes()).isEqualTo(bytes);
            assertThat(in.verified()).isTrue();
        }
    }

    @Test
    void aFileBelowTwoRangesAndAStoreWithoutRangesAheadReadWithOneGet() throws Exception {
        var small = randomBytes(2 * RANGE - 1, 2);
        store.writeFile("small", new ByteArrayInputStream(small));
        var big = randomBytes(4 * RANGE, 3);
        store.writeFile("big", new ByteArrayInputStream(big));
        proxy.clearRequests();

        try (var in = store.openFile("small")) {
            assertThat(in.readAllBytes()).isEqualTo(small);
        }
        assertThat(getsOf("small")).hasSize(1);
        try (var single = storeBuilder().prefix(store.prefix()).rangesAhead(0).build();
             var in = single.openFile("big")) {
            assertThat(in.readAllBytes()).isEqualTo(big);
        }
        assertThat(getsOf("big")).hasSize(1);
    }

    @Test
    void brokenRangesAndABrokenFirstGetResumeInsideTheirRangeAndTheFileComesBackWhole() throws Exception {
        var bytes = randomBytes(8 * RANGE, 4);
        store.writeFile("cut", new ByteArrayInputStream(bytes));
        proxy.clearRequests();
        var firstCut = new AtomicInteger();
        var rangeCuts = new AtomicInteger();
        proxy.rule(r -> {
            if (!r.method().equals("GET")) {
                return FaultProxy.Action.PASS;
            }
            if (r.header("range").isEmpty()) {
                return firstCut.incrementAndGet() == 1 ? FaultProxy.Action.CUT_RESPONSE : FaultProxy.Action.PASS;
            }
            // Each of the first two ranges asked for from its start breaks off once.
            var range = r.header("range").orElseThrow();
            boolean fromItsStart = Long.parseLong(range.substring(6, range.indexOf('-'))) % RANGE == 0;
            return fromItsStart && rangeCuts.incrementAndGet() <= 2 ? FaultProxy.Action.CUT_RESPONSE
                    : FaultProxy.Action.PASS;
        });

        try (var in = store.openFile("cut")) {
            assertThat(readInSteps(in, 5000)).isEqualTo(bytes);
        }
        var ranges = getsOf("cut").stream().map(r -> r.header("range").orElse("")).toList();
        // The first GET resumed at the cut, up to the end of the first range only.
        assertThat(ranges).contains("bytes=" + FaultProxy.CUT_AFTER + "-" + (RANGE - 1));
        // Two ranges resumed at their cut, up to their own end.
        var resumed = ranges.stream().filter(r -> !r.isEmpty() && Long.parseLong(r.substring(6, r.indexOf('-'))) > RANGE
                && Long.parseLong(r.substring(6, r.indexOf('-'))) % RANGE == FaultProxy.CUT_AFTER).toList();
        assertThat(resumed).hasSize(2).allSatisfy(r -> {
            long from = Long.parseLong(r.substring(6, r.indexOf('-')));
            assertThat(r).isEqualTo("bytes=" + from + "-" + (from - FaultProxy.CUT_AFTER + RANGE - 1));
        });
    }

    @Test
    void aRangeDamagedOnTheWayFailsTheReadAsCorruptNamingTheFile() throws Exception {
        var bytes = randomBytes(8 * RANGE, 5);
        var ref = store.writeFile("damaged", new ByteArrayInputStream(bytes));
        var rangesSeen = new AtomicInteger();
        proxy.rule(r -> r.method().equals("GET") && r.header("range").isPresent()
                && rangesSeen.incrementAndGet() == 4 ? FaultProxy.Action.CORRUPT_RESPONSE : FaultProxy.Action.PASS);

        try (var in = store.openFile("damaged")) {
            assertThatThrownBy(() -> readInSteps(in, 4096)).isInstanceOf(CheckpointCorruptException.class)
                    .hasMessageContaining("state file 'damaged'").hasMessageContaining("CRC32C")
                    .hasMessageContaining("do not use what was read");
        }
        rangesSeen.set(0);
        try (var in = VerifyingInputStream.open(store, ref, 4)) {
            assertThatThrownBy(in::readAllBytes).isInstanceOf(CheckpointCorruptException.class);
            assertThat(in.verified()).isFalse();
        }
    }

    @Test
    void aFileReplacedWhileItIsReadInRangesIsRefusedRatherThanSpliced() throws Exception {
        var bytes = randomBytes(16 * RANGE, 6);
        store.writeFile("swapped", new ByteArrayInputStream(bytes));
        try (var in = store.openFile("swapped")) {
            assertThat(in.readNBytes(100)).isEqualTo(Arrays.copyOf(bytes, 100)); // ranges under way
            var other = bytes.clone();
            other[other.length - 1] ^= 1;
            client.putObject(b -> b.bucket(BUCKET).key(store.stateKey("swapped")), RequestBody.fromBytes(other));
            assertThatThrownBy(() -> readInSteps(in, 8192)).isInstanceOf(IOException.class)
                    .hasMessageContaining("state file 'swapped'").hasMessageContaining("was replaced while it was read");
        }
    }

    @Test
    void aServerThatIgnoresRangesIsRefusedSayingHowToReadWithoutThem() throws Exception {
        // Unsigned requests, so that the proxy may drop the Range header (it is signed otherwise).
        try (var open = unauthenticatedServerWithBucket();
             var stripping = new FaultProxy(open.endpoint());
             var anonymous = S3Client.builder().endpointOverride(stripping.endpoint())
                     .region(Region.of(S3ProxyServer.REGION)).forcePathStyle(true)
                     .credentialsProvider(AnonymousCredentialsProvider.create())
                     .build();
             var s3 = S3CheckpointStore.builder(anonymous, BUCKET).downloadRangeSize(RANGE).rangesAhead(AHEAD).build()) {
            var bytes = randomBytes(4 * RANGE, 7);
            s3.writeFile("unranged", new ByteArrayInputStream(bytes));
            stripping.rule(r -> r.method().equals("GET") ? FaultProxy.Action.IGNORE_RANGE : FaultProxy.Action.PASS);

            try (var in = s3.openFile("unranged")) {
                assertThatThrownBy(() -> readInSteps(in, 8192)).isInstanceOf(IOException.class)
                        .hasMessageContaining("state file 'unranged'").hasMessageContaining("does not serve ranged GETs")
                        .hasMessageContaining("rangesAhead to 0");
            }
            try (var single = S3CheckpointStore.builder(anonymous, BUCKET).rangesAhead(0).build();
                 var in = single.openFile("unranged")) {
                assertThat(in.readAllBytes()).isEqualTo(bytes); // as the message advises
            }
        }
    }

    private static S3ProxyServer unauthenticatedServerWithBucket() throws Exception {
        var open = S3ProxyServer.inMemoryWithoutAuthentication();
        open.createBucket(BUCKET);
        return open;
    }

    @Test
    void closingAReaderMidwayStopsItsRangedGetsAndTheirThreads() throws Exception {
        var bytes = randomBytes(64 * RANGE, 8);
        store.writeFile("abandoned", new ByteArrayInputStream(bytes));
        proxy.clearRequests();
        try (var in = store.openFile("abandoned")) {
            assertThat(in.readNBytes(RANGE + 10)).isEqualTo(Arrays.copyOf(bytes, RANGE + 10));
        }
        var pool = (ThreadPoolExecutor) store.downloads();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (pool.getActiveCount() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(pool.getActiveCount()).isZero();
        int gets = getsOf("abandoned").size();
        assertThat(gets).isLessThanOrEqualTo(1 + 1 + AHEAD); // the first, the range read, AHEAD ahead of it
        Thread.sleep(200);
        assertThat(getsOf("abandoned")).hasSize(gets);
    }

    @Test
    void closingAReaderAbortsItsRangedGetsUnderWayRatherThanWaitingForThem() throws Exception {
        var bytes = randomBytes(16 * RANGE, 11);
        store.writeFile("slow", new ByteArrayInputStream(bytes));
        // Each range arrives 8 KiB every half second: 4 s for one of 64 KiB.
        proxy.rule(r -> r.method().equals("GET") && r.header("range").isPresent() ? FaultProxy.Action.SLOW_RESPONSE
                : FaultProxy.Action.PASS);
        var pool = (ThreadPoolExecutor) store.downloads();
        try (var in = store.openFile("slow")) {
            assertThat(in.readNBytes(RANGE)).isEqualTo(Arrays.copyOf(bytes, RANGE)); // the first GET's
            long deadline = System.nanoTime() + Duration.ofSeconds(2).toNanos();
            while (pool.getActiveCount() < AHEAD && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(pool.getActiveCount()).as("ranged GETs under way").isEqualTo(AHEAD);
        }
        long closed = System.nanoTime();
        while (pool.getActiveCount() > 0 && System.nanoTime() - closed < Duration.ofSeconds(3).toNanos()) {
            Thread.sleep(5);
        }
        assertThat(pool.getActiveCount()).isZero();
        assertThat(Duration.ofNanos(System.nanoTime() - closed)).isLessThan(Duration.ofSeconds(2));
    }

    @Test
    void aStoreClosedUnderAReaderFailsTheReadSayingSoRatherThanReturningPartOfTheFile() throws Exception {
        var bytes = randomBytes(64 * RANGE, 10);
        store.writeFile("orphaned", new ByteArrayInputStream(bytes));
        try (var in = store.openFile("orphaned")) {
            assertThat(in.readNBytes(RANGE + 10)).isEqualTo(Arrays.copyOf(bytes, RANGE + 10));
            store.close();
            assertThatThrownBy(() -> readInSteps(in, 8192)).hasMessageContaining("closed");
        }
    }

    @Test
    void theBuilderRefusesRangeSettingsOutsideTheirBoundsNamingThem() {
        var builder = S3CheckpointStore.builder(client, BUCKET);
        assertThatThrownBy(() -> builder.downloadRangeSize(65535)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("downloadRangeSize").hasMessageContaining("65535");
        assertThatThrownBy(() -> builder.downloadRangeSize((1L << 30) + 1)).hasMessageContaining("downloadRangeSize");
        assertThatThrownBy(() -> builder.rangesAhead(-1)).hasMessageContaining("rangesAhead")
                .hasMessageContaining("-1");
        assertThatThrownBy(() -> builder.rangesAhead(65)).hasMessageContaining("rangesAhead");
    }

    @Test
    void aNewMachineRestoresACheckpointWhoseStateFilesItReadsInRanges() throws Exception {
        var options = PerCoreWalOptions.builder().cores(2).keyGroups(16).maxEntrySize(4096)
                .wal(w -> w.segmentSize(1 << 20).writeBufferSize(1 << 20)).build();
        var model = new TreeMap<String, String>();
        var random = new Random(9);
        try (var wal = Rescaler.open(dir.resolve("a"), options, store, StatePlacement.BY_STORE_KEY).wal()) {
            var runtime = LaminarRuntime.builder(wal, store).build();
            try {
                runtime.start();
                var futures = new ArrayList<CompletableFuture<?>>();
                for (int i = 0; i < 3000; i++) {
                    var key = "key-" + i;
                    var value = new byte[200 + random.nextInt(800)];
                    random.nextBytes(value);
                    var text = Base64.getEncoder().encodeToString(value);
                    model.put(key, text);
                    var keyBytes = key.getBytes(StandardCharsets.UTF_8);
                    futures.add(runtime.submitDurable(runtime.coreOf(keyBytes), c -> {
                        c.store().put(keyBytes, text.getBytes(StandardCharsets.UTF_8));
                        return null;
                    }));
                }
                CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).join();
                runtime.triggerCheckpoint().join();
            } finally {
                runtime.close();
            }
        }
        var largest = store.listFiles().stream().mapToLong(p -> {
            try {
                return store.fileSize(p).orElseThrow();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }).max().orElseThrow();
        assertThat(largest).as("a state file spans many ranges").isGreaterThan(10L * RANGE);
        proxy.clearRequests();

        var restored = new TreeMap<String, String>();
        var opened = Rescaler.open(dir.resolve("b"), options, store, StatePlacement.BY_STORE_KEY);
        try (var wal = opened.wal()) {
            var runtime = LaminarRuntime.builder(wal, store).recovered(opened.recovered().orElse(null)).build();
            try {
                runtime.start();
                for (int core = 0; core < runtime.cores(); core++) {
                    runtime.submit(core, c -> {
                        c.store().forEach((k, v) -> restored.put(new String(k, StandardCharsets.UTF_8),
                                new String(v, StandardCharsets.UTF_8)));
                        return null;
                    }).join();
                }
            } finally {
                runtime.close();
            }
        }
        assertThat(restored).isEqualTo(model);
        assertThat(proxy.requests()).filteredOn(r -> r.method().equals("GET") && r.header("range").isPresent())
                .hasSizeGreaterThan(10);
    }
}

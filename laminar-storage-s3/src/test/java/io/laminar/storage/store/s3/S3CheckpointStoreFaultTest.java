package io.laminar.storage.store.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.StorageException;
import io.laminar.storage.store.CheckpointConflictException;
import io.laminar.storage.store.CheckpointCorruptException;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.ConnectorCheckpoint;
import io.laminar.storage.store.Crc32cReporting;
import io.laminar.storage.store.OperatorCheckpoint;
import io.laminar.storage.store.StateFileRef;
import io.laminar.storage.store.VerifyingInputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The store against a misbehaving server: S3Proxy behind a {@link FaultProxy} that throttles, fails,
 * drops, cuts and damages requests, with a client that makes one attempt per request so that only
 * the store's retries count. And the errors a user gets for a wrong bucket or wrong credentials.
 */
class S3CheckpointStoreFaultTest {

    private static final String BUCKET = "faults";
    private static final AtomicInteger PREFIXES = new AtomicInteger();
    private static S3ProxyServer server;

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
        return S3CheckpointStore.builder(client, BUCKET).prefix("f" + PREFIXES.incrementAndGet()).maxAttempts(4)
                .retryBackoff(Duration.ofMillis(1), Duration.ofMillis(20));
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

    private List<FaultProxy.Request> requestsFor(String key) {
        return proxy.requests().stream().filter(r -> r.target().contains(key)).toList();
    }

    // ---- retries ------------------------------------------------------------------------------

    @Test
    void throttlingIsRetriedWithBackoffUntilTheServerAccepts() throws Exception {
        var throttled = new AtomicInteger();
        proxy.rule(r -> r.method().equals("PUT") && throttled.incrementAndGet() <= 3
                ? FaultProxy.Action.SLOW_DOWN : FaultProxy.Action.PASS);
        var bytes = randomBytes(10_000, 1);

        var ref = store.writeFile("a/b", new ByteArrayInputStream(bytes));

        assertThat(ref).isEqualTo(new StateFileRef("a/b", bytes.length, crc32c(bytes)));
        assertThat(requestsFor("/a/b")).filteredOn(r -> r.method().equals("PUT")).hasSize(4);
        try (var in = store.openFile("a/b")) {
            assertThat(in.readAllBytes()).isEqualTo(bytes);
        }
    }

    @Test
    void aServerThatKeepsThrottlingFailsTheWriteNamingTheKeyTheCodeAndTheAttempts() {
        proxy.rule(r -> r.method().equals("PUT") ? FaultProxy.Action.SLOW_DOWN : FaultProxy.Action.PASS);

        assertThatThrownBy(() -> store.writeFile("a/b", new ByteArrayInputStream(new byte[] {1})))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("s3://" + BUCKET + "/" + store.stateKey("a/b"))
                .hasMessageContaining("SlowDown").hasMessageContaining("after 4 attempts")
                .hasMessageContaining("previous one stays valid");
        assertThat(requestsFor("/a/b")).hasSize(4);
    }

    @Test
    void failedAndDroppedPartsOfAMultipartUploadAreRetriedAndTheFileIsWhole() throws Exception {
        var s3 = storeBuilder().partSize(S3CheckpointStore.MIN_PART_SIZE).uploadThreads(2).build();
        var seen = ConcurrentHashMap.<String>newKeySet();
        // The first attempt of every part fails: odd parts with a 500, even ones with a reset.
        proxy.rule(r -> {
            if (r.isUploadPart() && seen.add(r.target())) {
                return r.target().matches(".*partNumber=[13579].*") ? FaultProxy.Action.INTERNAL_ERROR
                        : FaultProxy.Action.DROP;
            }
            return FaultProxy.Action.PASS;
        });
        var bytes = randomBytes(16 << 20, 2);
        try (s3) {
            var ref = s3.writeFile("big", new ByteArrayInputStream(bytes));

            assertThat(ref.crc32c()).isEqualTo(crc32c(bytes));
            assertThat(seen).hasSize(4);
            try (var in = s3.openFile("big")) {
                assertThat(in.readAllBytes()).isEqualTo(bytes);
            }
        }
    }

    // ---- what goes on the wire ----------------------------------------------------------------

    @Test
    void everyUploadCarriesTheStoresOwnCrc32cSoTheSdkAddsNoChecksumOrTrailerOfItsOwn() throws Exception {
        // Each byte is checksummed once, by the store: the SDK must neither compute a checksum of
        // its own nor send a trailer (with one, a payload over HTTPS would be aws-chunked instead
        // of sent as it is), and the server verifies each part's and the whole object's CRC32C.
        int partSize = (int) S3CheckpointStore.MIN_PART_SIZE;
        var big = randomBytes(2 * partSize + 12_345, 7);
        var small = randomBytes(1000, 8);
        var s3 = storeBuilder().partSize(partSize).uploadThreads(2).build();
        try (s3) {
            var ref = s3.writeFile("big", new ByteArrayInputStream(big));
            s3.writeFile("small", new ByteArrayInputStream(small));
            assertThat(ref.crc32c()).isEqualTo(crc32c(big));
        }

        var parts = proxy.requests().stream().filter(FaultProxy.Request::isUploadPart).toList();
        assertThat(parts).hasSize(3).allSatisfy(part -> {
            var number = Integer.parseInt(part.target().replaceAll(".*partNumber=(\\d+).*", "$1"));
            var bytes = Arrays.copyOfRange(big, (number - 1) * partSize, Math.min(big.length, number * partSize));
            assertThat(part.header("x-amz-checksum-crc32c")).as("part %d", number).contains(wireCrc32c(bytes));
            assertNoChecksumOfTheSdks(part);
        });
        var completion = proxy.requests().stream()
                .filter(r -> r.method().equals("POST") && r.target().contains("uploadId=")).toList();
        assertThat(completion).singleElement().satisfies(r -> {
            assertThat(r.header("If-None-Match")).contains("*");
            assertThat(r.header("x-amz-checksum-type")).contains("FULL_OBJECT");
            assertThat(r.header("x-amz-checksum-crc32c")).contains(wireCrc32c(big));
        });
        var put = proxy.requests().stream()
                .filter(r -> r.method().equals("PUT") && r.target().contains("/small") && !r.isUploadPart()).toList();
        assertThat(put).singleElement().satisfies(r -> {
            assertThat(r.header("If-None-Match")).contains("*");
            assertThat(r.header("x-amz-checksum-crc32c")).contains(wireCrc32c(small));
            assertNoChecksumOfTheSdks(r);
        });
    }

    /** The CRC32C as S3 headers carry it: its four bytes, big-endian, in base64. */
    private static String wireCrc32c(byte[] bytes) {
        var crc = new CRC32C();
        crc.update(bytes);
        return Base64.getEncoder().encodeToString(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    private static void assertNoChecksumOfTheSdks(FaultProxy.Request request) {
        assertThat(request.header("x-amz-trailer")).as("%s", request).isEmpty();
        assertThat(request.header("x-amz-sdk-checksum-algorithm")).as("%s", request).isEmpty();
        assertThat(request.header("x-amz-checksum-crc32")).as("%s", request).isEmpty();
        assertThat(request.header("x-amz-content-sha256")).as("%s", request)
                .hasValueSatisfying(v -> assertThat(v).doesNotEndWith("TRAILER"));
    }

    @Test
    void aMultipartUploadThatFailsGivesItsPartsInFlightBackSoTheStoresLaterUploadsProceed() throws Exception {
        // The parts in flight are the store's, shared by its uploads: a failed upload that kept its
        // permits would leave every later upload of the store waiting forever.
        var s3 = storeBuilder().partSize(S3CheckpointStore.MIN_PART_SIZE).uploadThreads(2).build();
        proxy.rule(r -> r.isUploadPart() && r.target().contains("/doomed")
                ? FaultProxy.Action.ACCESS_DENIED : FaultProxy.Action.PASS);
        try (s3) {
            for (int round = 0; round < 3; round++) { // more failed parts than the store has permits
                int seed = round;
                assertThatThrownBy(() -> s3.writeFile("doomed", new ByteArrayInputStream(randomBytes(21 << 20, seed))))
                        .isInstanceOf(IOException.class).hasMessageContaining("AccessDenied");
            }
            var bytes = randomBytes(21 << 20, 9);
            var ref = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(120),
                    () -> s3.writeFile("after", new ByteArrayInputStream(bytes)));

            assertThat(ref.crc32c()).isEqualTo(crc32c(bytes));
            assertThat(s3.fileSize("doomed")).isEmpty();
            assertThat(client.listMultipartUploads(b -> b.bucket(BUCKET).prefix(s3.prefix())).uploads()).isEmpty();
        }
    }

    @Test
    void aDownloadThatBreaksOffResumesWithARangedGetPinnedToTheObjectsETag() throws Exception {
        var bytes = randomBytes(300_000, 3);
        store.writeFile("cut", new ByteArrayInputStream(bytes));
        var cuts = new AtomicInteger();
        proxy.rule(r -> r.method().equals("GET") && cuts.incrementAndGet() <= 2
                ? FaultProxy.Action.CUT_RESPONSE : FaultProxy.Action.PASS);

        try (var in = store.openFile("cut")) {
            assertThat(in.readAllBytes()).isEqualTo(bytes);
        }
        var gets = requestsFor("/cut").stream().filter(r -> r.method().equals("GET")).toList();
        assertThat(gets).hasSize(3);
        assertThat(gets.get(1).head()).containsIgnoringCase("range: bytes=" + FaultProxy.CUT_AFTER + "-")
                .containsIgnoringCase("if-match: ");
        assertThat(gets.get(2).head()).containsIgnoringCase("range: bytes=" + 2 * FaultProxy.CUT_AFTER + "-");
    }

    @Test
    void aDamagedDownloadIsReportedAsCorruptNamingTheFile() throws Exception {
        var bytes = randomBytes(300_000, 4);
        store.writeFile("damaged", new ByteArrayInputStream(bytes));
        proxy.rule(r -> r.method().equals("GET") ? FaultProxy.Action.CORRUPT_RESPONSE : FaultProxy.Action.PASS);

        try (var in = store.openFile("damaged")) {
            assertThatThrownBy(in::readAllBytes).isInstanceOf(CheckpointCorruptException.class)
                    .hasMessageContaining("state file 'damaged'").hasMessageContaining("CRC32C")
                    .hasMessageContaining("do not use what was read");
        }
    }

    @Test
    void aStateFileIsChecksummedOnceOnItsWayEvenWhenResumedAndVerifiedAgainstTheManifest() throws Exception {
        var bytes = randomBytes(300_000, 5);
        var ref = store.writeFile("once", new ByteArrayInputStream(bytes));
        var cuts = new AtomicInteger();
        proxy.rule(r -> r.method().equals("GET") && cuts.incrementAndGet() <= 2
                ? FaultProxy.Action.CUT_RESPONSE : FaultProxy.Action.PASS);

        // The store's stream reports the CRC32C of exactly the bytes it returned, each once.
        try (var in = store.openFile("once")) {
            assertThat(in).isInstanceOf(Crc32cReporting.class);
            assertThat(in.readAllBytes()).isEqualTo(bytes);
            assertThat(String.format("%08x", ((Crc32cReporting) in).crc32cOfBytesRead())).isEqualTo(crc32c(bytes));
        }
        // So the verifying stream uses it and still checks the size and CRC32C the manifest recorded.
        cuts.set(0);
        try (var in = VerifyingInputStream.open(store, ref, 5)) {
            assertThat(in.readAllBytes()).isEqualTo(bytes);
            assertThat(in.verified()).isTrue();
        }
    }

    @Test
    void aStateFileReplacedInTheBucketIsRefusedAgainstTheManifestWhateverByteDiffers() throws Exception {
        // The server's own checksum matches the replaced bytes: only the manifest's CRC32C, compared
        // with the one checksum computed on the way, tells that they are not the checkpoint's.
        var bytes = randomBytes(200_000, 6);
        var ref = store.writeFile("swapped", new ByteArrayInputStream(bytes));
        var key = store.stateKey("swapped");
        for (int at : new int[] {0, 5, 31, 32, 100_000, bytes.length - 9, bytes.length - 1}) {
            var other = bytes.clone();
            other[at] ^= 0x01;
            client.putObject(b -> b.bucket(BUCKET).key(key), RequestBody.fromBytes(other));
            try (var in = VerifyingInputStream.open(store, ref, 9)) {
                assertThatThrownBy(in::readAllBytes).as("byte %d changed", at)
                        .isInstanceOf(CheckpointCorruptException.class)
                        .hasMessageContaining("State file 'swapped' of checkpoint 9 is corrupt: its CRC32C is "
                                + crc32c(other) + ", but " + crc32c(bytes) + " was recorded")
                        .hasMessageContaining("Do not use what was read from it");
                assertThat(in.verified()).isFalse();
                assertThat(in.problem()).startsWith("its CRC32C is");
            }
        }
        var truncated = java.util.Arrays.copyOf(bytes, bytes.length - 1_000);
        client.putObject(b -> b.bucket(BUCKET).key(key), RequestBody.fromBytes(truncated));
        try (var in = VerifyingInputStream.open(store, ref, 9)) {
            assertThatThrownBy(in::readAllBytes).isInstanceOf(CheckpointCorruptException.class)
                    .hasMessageContaining("State file 'swapped' of checkpoint 9 is corrupt: it has " + truncated.length
                            + " bytes, but " + bytes.length + " were recorded");
        }
    }

    @Test
    void aManifestWhosePublishLandedButWhoseAnswerWasLostIsPublishedByTheRetry() throws Exception {
        var ref = store.writeFile("s/1", new ByteArrayInputStream(new byte[] {1, 2, 3}));
        var manifest = manifest(9, ref);
        var lost = new AtomicInteger();
        proxy.rule(r -> r.method().equals("PUT") && r.target().contains("manifests/") && lost.incrementAndGet() == 1
                ? FaultProxy.Action.LOSE_RESPONSE : FaultProxy.Action.PASS);

        store.publishManifest(manifest);

        assertThat(store.readManifest(9)).contains(manifest);
        var puts = proxy.requests().stream().filter(r -> r.method().equals("PUT") && r.target().contains("manifests/"))
                .toList();
        assertThat(puts).hasSize(2).allSatisfy(r -> assertThat(r.hasHeader("If-None-Match", "*")).isTrue());
    }

    @Test
    void aManifestWhosePublishLandedButWhoseAnswerWasLostIsPublishedByTheSdksOwnRetry() throws Exception {
        // The SDK's default retries this time: it repeats the lost PUT itself, and the store's one
        // call sees only the 412 of that repetition.
        try (var retrying = S3ProxyServer.client(proxy.endpoint(), S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY);
             var s3 = S3CheckpointStore.builder(retrying, BUCKET).prefix("sdk" + PREFIXES.incrementAndGet())
                     .maxAttempts(1).build()) {
            var ref = s3.writeFile("s/1", new ByteArrayInputStream(new byte[] {1, 2, 3}));
            var manifest = manifest(9, ref);
            var lost = new AtomicInteger();
            proxy.rule(r -> r.method().equals("PUT") && r.target().contains("manifests/")
                    && lost.incrementAndGet() == 1 ? FaultProxy.Action.LOSE_RESPONSE : FaultProxy.Action.PASS);

            s3.publishManifest(manifest);

            assertThat(s3.readManifest(9)).contains(manifest);
            assertThat(proxy.requests()).filteredOn(r -> r.method().equals("PUT") && r.target().contains("manifests/"))
                    .hasSize(2);
            // Another manifest under the same id is still a conflict, whoever retries.
            var other = manifest(9, s3.writeFile("s/2", new ByteArrayInputStream(new byte[] {4})));
            assertThatThrownBy(() -> s3.publishManifest(other)).isInstanceOf(CheckpointConflictException.class)
                    .hasMessageContaining("already published");
        }
    }

    @Test
    void aStateFileWhoseUploadLandedButWhoseAnswerWasLostIsWrittenByTheRetry() throws Exception {
        var lost = new AtomicInteger();
        proxy.rule(r -> r.method().equals("PUT") && lost.incrementAndGet() == 1
                ? FaultProxy.Action.LOSE_RESPONSE : FaultProxy.Action.PASS);
        var bytes = randomBytes(5000, 5);

        assertThat(store.writeFile("lost", new ByteArrayInputStream(bytes)).crc32c()).isEqualTo(crc32c(bytes));
        assertThat(store.listFiles()).containsExactly("lost");
    }

    private static CheckpointManifest manifest(long id, StateFileRef ref) {
        return new CheckpointManifest(id, 3, Instant.parse("2025-03-01T00:00:00Z"), List.of(64L),
                Map.of("src", new ConnectorCheckpoint(Map.of("p0", "5"), Map.of())),
                Map.of("op", new OperatorCheckpoint(new byte[0], List.of(ref.path()))), List.of(ref), null, 3, 3,
                Long.MIN_VALUE);
    }

    // ---- errors a user can fix ----------------------------------------------------------------

    /** The whole text of an exception, causes and stack included, as a log would print it. */
    private static String printed(Throwable e) {
        var out = new StringWriter();
        e.printStackTrace(new PrintWriter(out));
        return out.toString();
    }

    @Test
    void aMissingBucketFailsTheBuildNamingTheBucketAndWhatToDo() {
        assertThatThrownBy(() -> S3CheckpointStore.builder(client, "no-such-bucket").build())
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("'no-such-bucket'").hasMessageContaining("does not exist")
                .hasMessageContaining("NoSuchBucket").hasMessageContaining("Create the bucket");
    }

    @Test
    void aWrongSecretKeyFailsTheBuildSayingSoWithoutEverShowingTheSecret() {
        var wrongSecret = "wrong-secret-4b9d2a";
        try (var bad = S3ProxyServer.clientWithoutRetries(server.endpoint(), S3ProxyServer.ACCESS_KEY, wrongSecret)) {
            assertThatThrownBy(() -> S3CheckpointStore.builder(bad, BUCKET).build())
                    .isInstanceOf(StorageException.class)
                    .hasMessageContaining("'" + BUCKET + "'").hasMessageContaining("SignatureDoesNotMatch")
                    .hasMessageContaining("secret access key")
                    .satisfies(e -> assertThat(printed(e)).doesNotContain(wrongSecret)
                            .doesNotContain(S3ProxyServer.SECRET_KEY));
        }
    }

    @Test
    void anUnknownAccessKeyFailsTheBuildSayingSo() {
        try (var bad = S3ProxyServer.clientWithoutRetries(server.endpoint(), "nobody", S3ProxyServer.SECRET_KEY)) {
            assertThatThrownBy(() -> S3CheckpointStore.builder(bad, BUCKET).build())
                    .isInstanceOf(StorageException.class)
                    .hasMessageContaining("'" + BUCKET + "'").hasMessageContaining("InvalidAccessKeyId")
                    .hasMessageContaining("Check the credentials")
                    .satisfies(e -> assertThat(printed(e)).doesNotContain(S3ProxyServer.SECRET_KEY));
        }
    }

    @Test
    void accessDeniedNamesThePermissionsTheStoreNeeds() {
        proxy.rule(r -> FaultProxy.Action.ACCESS_DENIED);
        proxy.clearRequests();

        assertThatThrownBy(() -> storeBuilder().build()).isInstanceOf(StorageException.class)
                .hasMessageContaining("'" + BUCKET + "'").hasMessageContaining("denied")
                .hasMessageContaining("s3:PutObject").hasMessageContaining("arn:aws:s3:::" + BUCKET);
        assertThatThrownBy(() -> store.writeFile("x", new ByteArrayInputStream(new byte[1])))
                .isInstanceOf(IOException.class).hasMessageContaining("AccessDenied");
        assertThat(proxy.requests()).hasSize(2); // a refusal is not retried
    }

    @Test
    void anEndpointWhereNothingListensFailsTheBuildSayingSoAfterTheRetries() throws IOException {
        int port;
        try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        try (var nowhere = S3ProxyServer.clientWithoutRetries(URI.create("http://127.0.0.1:" + port),
                S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY)) {
            assertThatThrownBy(() -> S3CheckpointStore.builder(nowhere, BUCKET).maxAttempts(2)
                    .retryBackoff(Duration.ofMillis(1), Duration.ofMillis(5)).build())
                    .isInstanceOf(StorageException.class).hasMessageContaining("'" + BUCKET + "'")
                    .hasMessageContaining("cannot connect to the S3 endpoint").hasMessageContaining("after 2 attempts");
        }
    }

    @Test
    void theBuilderRefusesSettingsOutsideTheirRangeNamingThem() {
        var builder = S3CheckpointStore.builder(client, BUCKET);
        assertThatThrownBy(() -> builder.partSize(1 << 20)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("partSize").hasMessageContaining("1048576");
        assertThatThrownBy(() -> builder.uploadThreads(0)).hasMessageContaining("uploadThreads");
        assertThatThrownBy(() -> builder.maxAttempts(0)).hasMessageContaining("maxAttempts");
        assertThatThrownBy(() -> builder.prefix("/abs")).hasMessageContaining("prefix");
        assertThatThrownBy(() -> builder.prefix("a/../b")).hasMessageContaining("prefix");
        assertThatThrownBy(() -> builder.prefix("a/../b:c")).hasMessageContaining("the prefix 'a/../b:c'");
        assertThat(builder.prefix("orders:v1/")).isSameAs(builder); // a key may hold ':', a file name may not
        assertThatThrownBy(() -> S3CheckpointStore.builder(client, "a/b")).hasMessageContaining("bucket");
        try (var one = S3CheckpointStore.builder(client, BUCKET).prefix("apps/one").build();
             var two = S3CheckpointStore.builder(client, BUCKET).prefix("x/").build()) {
            assertThat(one.prefix()).isEqualTo("apps/one/");
            assertThat(two.prefix()).isEqualTo("x/");
        }
    }
}

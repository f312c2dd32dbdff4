package io.laminar.storage.store.s3;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.store.CheckpointStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.S3Object;

/** The store contract against S3Proxy on 127.0.0.1, each test under its own key prefix. */
class S3CheckpointStoreTest extends S3StoreContractTest {

    static S3ProxyServer server;
    static S3Client client;

    @BeforeAll
    static void startServer() throws Exception {
        server = S3ProxyServer.inMemory();
        server.createBucket(BUCKET);
        client = server.client();
    }

    @AfterAll
    static void stopServer() throws Exception {
        client.close();
        server.close();
    }

    @Override
    protected S3Client client() {
        return client;
    }

    private java.util.List<String> keys() {
        var s3 = (S3CheckpointStore) store;
        return client.listObjectsV2Paginator(ListObjectsV2Request.builder().bucket(BUCKET).prefix(s3.prefix()).build())
                .contents().stream().map(S3Object::key).toList();
    }

    @Test
    void stateFilesAreSpreadOverShardedPrefixesAndManifestsLiveUnderTheirIdInTwentyDigits() throws Exception {
        var s3 = (S3CheckpointStore) store;
        var a = store.writeFile("state/core-0000/00000000000000000001-full.lsf", stream(new byte[] {1}));
        var b = store.writeFile("state/core-0001/00000000000000000001-full.lsf", stream(new byte[] {2}));
        store.publishManifest(manifest(1, java.util.List.of(a, b)));

        var p = s3.prefix();
        assertThat(keys()).containsExactlyInAnyOrder(
                p + "state/" + S3CheckpointStore.shard(a.path()) + "/" + a.path(),
                p + "state/" + S3CheckpointStore.shard(b.path()) + "/" + b.path(),
                p + "manifests/checkpoint-00000000000000000001.json");
        assertThat(S3CheckpointStore.shard(a.path())).matches("[0-9a-f]{2}").isNotEqualTo(S3CheckpointStore.shard(b.path()));
        assertThat(store.listFiles()).containsExactly(a.path(), b.path());
    }

    private S3CheckpointStore multipartStore() {
        var s3 = (S3CheckpointStore) store;
        return (S3CheckpointStore) track(S3CheckpointStore.builder(client, BUCKET).prefix(s3.prefix())
                .partSize(S3CheckpointStore.MIN_PART_SIZE).uploadThreads(3).build());
    }

    private static final int MIB = 1 << 20;

    @Test
    void aLargeFileGoesUpAsAMultipartUploadWithAFullObjectCrc32cAndReadsBackVerified() throws Exception {
        var s3 = multipartStore();
        var bytes = randomBytes(23 * MIB + 17, 31); // five parts, the last one short
        var ref = s3.writeFile("big/1.lsf", out -> {
            for (int at = 0; at < bytes.length; at += 1_000_003) {
                out.write(bytes, at, Math.min(1_000_003, bytes.length - at));
            }
        });

        assertThat(ref).isEqualTo(new io.laminar.storage.store.StateFileRef("big/1.lsf", bytes.length, crc32c(bytes)));
        assertThat(readAll(store, "big/1.lsf")).isEqualTo(bytes);
        var head = client.headObject(b -> b.bucket(BUCKET).key(s3.stateKey("big/1.lsf"))
                .checksumMode(software.amazon.awssdk.services.s3.model.ChecksumMode.ENABLED));
        assertThat(head.contentLength()).isEqualTo(bytes.length);
        assertThat(head.eTag()).endsWith("-5\"");
        // The object carries the CRC32C of its whole content, as a single PUT's does.
        assertThat(head.checksumCRC32C()).isEqualTo(S3CheckpointStore.base64((int) Long.parseLong(crc32c(bytes), 16)));
        assertThat(client.listMultipartUploads(b -> b.bucket(BUCKET).prefix(s3.prefix())).uploads()).isEmpty();
    }

    @Test
    void aRetriedLargeUploadOfTheSameBytesSucceedsAndOtherBytesAreRefused() throws Exception {
        var s3 = multipartStore();
        var bytes = randomBytes(11 * MIB, 32);
        var first = s3.writeFile("big/2.lsf", stream(bytes));

        assertThat(s3.writeFile("big/2.lsf", stream(bytes))).isEqualTo(first);
        var other = bytes.clone();
        other[7 * MIB] ^= 1; // same size, one bit in the second part
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> s3.writeFile("big/2.lsf", stream(other)))
                .isInstanceOf(java.nio.file.FileAlreadyExistsException.class).hasMessageContaining("immutable");
        assertThat(readAll(store, "big/2.lsf")).isEqualTo(bytes);
        assertThat(client.listMultipartUploads(b -> b.bucket(BUCKET).prefix(s3.prefix())).uploads()).isEmpty();
    }

    @Test
    void largeConcurrentUploadsOfOnePathLeaveExactlyOneWinner() throws Exception {
        var s3 = multipartStore();
        var winners = new java.util.concurrent.CopyOnWriteArrayList<Integer>();
        runConcurrently(3, i -> {
            try {
                s3.writeFile("contended.lsf", stream(randomBytes(11 * MIB, 40 + i)));
                winners.add(i);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                // lost the race
            }
            return null;
        });

        assertThat(winners).hasSize(1);
        assertThat(readAll(store, "contended.lsf")).isEqualTo(randomBytes(11 * MIB, 40 + winners.get(0)));
        assertThat(client.listMultipartUploads(b -> b.bucket(BUCKET).prefix(s3.prefix())).uploads()).isEmpty();
    }

    @Test
    void largeFilesWrittenAtOnceShareTheStoresPartsInFlightAndEachIsWhole() throws Exception {
        var s3 = multipartStore(); // 3 parts in flight for the whole store, whatever the number of files
        assertThat(s3.concurrentFileWrites()).isEqualTo(2);
        var refs = new java.util.concurrent.ConcurrentHashMap<Integer, io.laminar.storage.store.StateFileRef>();
        runConcurrently(3, i -> {
            refs.put(i, s3.writeFile("many/" + i + ".lsf", stream(randomBytes(16 * MIB + i, 50 + i))));
            return null;
        });

        for (int i = 0; i < 3; i++) {
            var bytes = randomBytes(16 * MIB + i, 50 + i);
            assertThat(refs.get(i)).isEqualTo(new io.laminar.storage.store.StateFileRef("many/" + i + ".lsf",
                    bytes.length, crc32c(bytes)));
            assertThat(readAll(store, "many/" + i + ".lsf")).isEqualTo(bytes);
        }
        assertThat(client.listMultipartUploads(b -> b.bucket(BUCKET).prefix(s3.prefix())).uploads()).isEmpty();
    }

    @Test
    void aProducerThatFailsInTheMiddleOfAMultipartUploadLeavesNoObjectAndNoUpload() throws Exception {
        var s3 = multipartStore();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> s3.writeFile("big/broken.lsf", out -> {
            out.write(randomBytes(12 * MIB, 33));
            throw new java.io.IOException("producer broke after two parts");
        })).isInstanceOf(java.io.IOException.class).hasMessage("producer broke after two parts");

        assertThat(store.fileSize("big/broken.lsf")).isEmpty();
        assertThat(store.listFiles()).isEmpty();
        assertThat(client.listMultipartUploads(b -> b.bucket(BUCKET).prefix(s3.prefix())).uploads()).isEmpty();
    }

    @Test
    void cleanupAbortsIncompleteUploadsOlderThanTheLimitAndOnlyUnderTheStoresPrefix() throws Exception {
        var s3 = (S3CheckpointStore) store;
        // What a crash in the middle of an upload leaves: an upload nobody completes or aborts.
        var leftover = client.createMultipartUpload(b -> b.bucket(BUCKET).key(s3.stateKey("state/core-0000/x.lsf")))
                .uploadId();
        var foreign = client.createMultipartUpload(b -> b.bucket(BUCKET).key("someone-else/file")).uploadId();
        var patient = (S3CheckpointStore) track(S3CheckpointStore.builder(client, BUCKET).prefix(s3.prefix()).build());
        var strict = (S3CheckpointStore) track(S3CheckpointStore.builder(client, BUCKET).prefix(s3.prefix())
                .incompleteUploadMaxAge(java.time.Duration.ZERO).build());

        assertThat(patient.cleanUpIncompleteWrites()).isZero(); // younger than an hour
        assertThat(strict.cleanUpIncompleteWrites()).isEqualTo(1);

        var left = client.listMultipartUploads(b -> b.bucket(BUCKET)).uploads().stream()
                .map(software.amazon.awssdk.services.s3.model.MultipartUpload::uploadId).toList();
        assertThat(left).contains(foreign).doesNotContain(leftover);
        client.abortMultipartUpload(b -> b.bucket(BUCKET).key("someone-else/file").uploadId(foreign));
    }

    @Test
    void keysOutsideTheLayoutAreNotListed() throws Exception {
        var s3 = (S3CheckpointStore) store;
        var ref = store.writeFile("a/b", stream(new byte[] {1}));
        for (var key : java.util.List.of(s3.prefix() + "state/zz/a/c", s3.prefix() + "state/readme.txt",
                s3.prefix() + "manifests/checkpoint-12.json", s3.prefix() + "manifests/other.json")) {
            client.putObject(b -> b.bucket(BUCKET).key(key), RequestBody.fromBytes(new byte[] {9}));
        }

        assertThat(store.listFiles()).containsExactly(ref.path());
        assertThat(store.listCheckpoints()).isEmpty();
    }

    @Test
    void listingPagesThroughMoreKeysThanOneListResponseHolds() throws Exception {
        int files = 1_050; // a list response holds at most 1,000 keys
        runConcurrently(6, t -> {
            for (int i = t; i < files; i += 6) {
                store.writeFile(String.format("many/%04d", i), stream(new byte[] {(byte) i}));
            }
            return null;
        });

        var listed = store.listFiles();
        assertThat(listed).hasSize(files).isSorted();
        assertThat(listed.get(0)).isEqualTo("many/0000");
        assertThat(listed.get(files - 1)).isEqualTo(String.format("many/%04d", files - 1));
    }
}

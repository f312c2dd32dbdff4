package io.laminar.storage.checkpoint.s3;

import io.laminar.storage.checkpoint.CheckpointStore;
import io.laminar.storage.checkpoint.CheckpointStoreContractTest;
import java.net.URI;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.testcontainers.containers.MinIOContainer;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;

/**
 * The store contract against a real MinIO server in a container. Needs a Docker engine: where there
 * is none, every test is reported as skipped (not failed). The image is a 2025 release, which has
 * the conditional writes and full-object CRC32C checksums the store relies on.
 */
@Testcontainers(disabledWithoutDocker = true)
class MinioCheckpointStoreTest extends CheckpointStoreContractTest {

    static final String BUCKET = "contract";
    private static final AtomicInteger PREFIXES = new AtomicInteger();

    @Container
    static final MinIOContainer MINIO = new MinIOContainer("minio/minio:RELEASE.2025-04-22T22-12-26Z");

    static S3Client client;

    @BeforeAll
    static void createBucket() {
        client = S3ProxyServer.client(URI.create(MINIO.getS3URL()), MINIO.getUserName(), MINIO.getPassword());
        client.createBucket(b -> b.bucket(BUCKET));
    }

    @AfterAll
    static void closeClient() {
        if (client != null) {
            client.close();
        }
    }

    @Override
    protected CheckpointStore createStore() {
        return S3CheckpointStore.builder(client, BUCKET).prefix("test-" + PREFIXES.incrementAndGet()).build();
    }

    @Override
    protected CheckpointStore openAnotherStoreOver(CheckpointStore store) {
        var s3 = (S3CheckpointStore) store;
        return S3CheckpointStore.builder(client, s3.bucket()).prefix(s3.prefix()).build();
    }

    @Override
    protected void storeRawManifest(CheckpointStore store, long checkpointId, byte[] bytes) {
        var s3 = (S3CheckpointStore) store;
        client.putObject(PutObjectRequest.builder().bucket(s3.bucket()).key(s3.manifestKey(checkpointId)).build(),
                RequestBody.fromBytes(bytes));
    }
}

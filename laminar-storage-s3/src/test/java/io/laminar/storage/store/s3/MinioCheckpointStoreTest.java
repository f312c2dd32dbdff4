package io.laminar.storage.store.s3;

import java.net.URI;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.testcontainers.containers.MinIOContainer;
import org.testcontainers.junit.jupiter.Container;
import org.testcontainers.junit.jupiter.Testcontainers;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The store contract against a real MinIO server in a container. Needs a Docker engine: where there
 * is none, every test is reported as skipped (not failed). The image is a 2025 release, which has
 * the conditional writes and full-object CRC32C checksums the store relies on.
 */
@Testcontainers(disabledWithoutDocker = true)
class MinioCheckpointStoreTest extends S3StoreContractTest {

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
    protected S3Client client() {
        return client;
    }
}

package io.laminar.storage.bench.s3;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * The server every {@code s3} scenario runs against: S3Proxy 4.1 in this JVM on 127.0.0.1, with its
 * file-system blob store in a directory of the benchmark disk (1 GiB objects do not fit in memory
 * twice), AWS v4 authentication, and one bucket; plus a client of it with the SDK's defaults
 * (path-style addressing, as S3-compatible servers need).
 */
final class S3Server implements AutoCloseable {

    static final String BUCKET = "bench";
    private static final String ACCESS_KEY = "bench-access";
    private static final String SECRET_KEY = "bench-secret";

    private final S3Proxy proxy;
    final S3Client client;

    S3Server(Path directory) throws Exception {
        var blobs = Files.createDirectories(directory.resolve("blobs"));
        proxy = S3Proxy.builder()
                .blobStore(new FilesystemNio2BlobStore(blobs.toString()))
                .endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                .ignoreUnknownHeaders(true) // or the SDK's multipart requests are refused
                .stopTimeout(0)
                .build();
        proxy.start();
        for (int i = 0; i < 500 && !"STARTED".equals(proxy.getState()); i++) {
            Thread.sleep(10);
        }
        client = S3Client.builder()
                .endpointOverride(URI.create("http://127.0.0.1:" + proxy.getPort()))
                .region(Region.US_EAST_1)
                .forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                .overrideConfiguration(ClientOverrideConfiguration.builder()
                        .apiCallAttemptTimeout(Duration.ofMinutes(5)).build())
                .build();
        client.createBucket(b -> b.bucket(BUCKET));
    }

    /**
     * The CPU time of this whole process (client, server and benchmark share it), or -1 where the
     * JVM cannot tell.
     */
    static long processCpuNanos() {
        var os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getProcessCpuTime() : -1;
    }

    @Override
    public void close() throws Exception {
        try {
            client.close();
        } finally {
            proxy.stop();
        }
    }
}

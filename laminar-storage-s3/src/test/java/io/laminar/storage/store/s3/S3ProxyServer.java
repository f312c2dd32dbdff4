package io.laminar.storage.store.s3;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * Test support: an S3Proxy 4.1 server inside the test JVM on 127.0.0.1, over an in-memory or a
 * file-system blob store, with AWS v4 authentication. It can be stopped and started again on the
 * same port over the same blob store, which keeps its objects: the server going away in the middle
 * of a checkpoint and coming back.
 *
 * <p>Part of the core's test-jar: the starter's and the sample's tests start their servers with it
 * too (they declare {@code org.gaul:s3proxy} themselves, test dependencies are not transitive).
 * {@link #start} and {@link #stop} may be called from any thread.
 */
public final class S3ProxyServer implements AutoCloseable {

    public static final String ACCESS_KEY = "laminar-test-access";
    /** The secret; tests check that it never shows up in a message. */
    public static final String SECRET_KEY = "laminar-test-secret-7c1f0e";
    /** The region clients sign their requests for (S3Proxy accepts any; the SDK needs one). */
    public static final String REGION = "us-east-1";

    private final BlobStore blobStore;
    private final AuthenticationType authentication;
    private S3Proxy proxy;
    private int port;

    private S3ProxyServer(BlobStore blobStore) {
        this(blobStore, AuthenticationType.AWS_V2_OR_V4);
    }

    private S3ProxyServer(BlobStore blobStore, AuthenticationType authentication) {
        this.blobStore = blobStore;
        this.authentication = authentication;
    }

    /** A server over an in-memory blob store. */
    public static S3ProxyServer inMemory() throws Exception {
        var server = new S3ProxyServer(new TransientNio2BlobStore());
        server.start();
        return server;
    }

    /**
     * A server over an in-memory blob store that takes unsigned requests (for a client with
     * anonymous credentials), so that a proxy may change a request's headers.
     */
    public static S3ProxyServer inMemoryWithoutAuthentication() throws Exception {
        var server = new S3ProxyServer(new TransientNio2BlobStore(), AuthenticationType.NONE);
        server.start();
        return server;
    }

    /** A server over a blob store in {@code directory} (for large objects). */
    public static S3ProxyServer onDisk(Path directory) throws Exception {
        var server = new S3ProxyServer(new FilesystemNio2BlobStore(directory.toString()));
        server.start();
        return server;
    }

    /** Starts the server (again): on a free port the first time, then on the same port. */
    public synchronized void start() throws Exception {
        if (proxy != null) {
            return;
        }
        var starting = S3Proxy.builder()
                .blobStore(blobStore)
                .endpoint(URI.create("http://127.0.0.1:" + port))
                .awsAuthentication(authentication, ACCESS_KEY, SECRET_KEY)
                .ignoreUnknownHeaders(true) // or the SDK's multipart requests are refused
                .stopTimeout(0)
                .build();
        starting.start();
        for (int i = 0; i < 500 && !"STARTED".equals(starting.getState()); i++) {
            Thread.sleep(10);
        }
        var state = starting.getState();
        if (!"STARTED".equals(state)) {
            starting.stop();
            throw new IllegalStateException("S3Proxy did not start within 5 s on 127.0.0.1, "
                    + (port == 0 ? "a free port" : "port " + port + " (another process may have taken it)")
                    + ": its state is " + state);
        }
        proxy = starting;
        port = starting.getPort();
    }

    /** Stops the server; the blob store keeps its objects. */
    public synchronized void stop() throws Exception {
        if (proxy != null) {
            proxy.stop();
            proxy = null;
        }
    }

    public int port() {
        return port;
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + port);
    }

    /** The blob store behind the server, to look at or damage what it stores. */
    public BlobStore blobStore() {
        return blobStore;
    }

    /** A client with the right credentials. */
    public S3Client client() {
        return client(endpoint(), ACCESS_KEY, SECRET_KEY);
    }

    /** A client of an S3 endpoint on this machine, with the SDK's default retries and short timeouts. */
    public static S3Client client(URI endpoint, String accessKey, String secretKey) {
        return client(endpoint, accessKey, secretKey, ClientOverrideConfiguration.builder());
    }

    /**
     * A client of an S3 endpoint on this machine that makes one attempt per request: the store's
     * retries are the only ones, so that tests can count them.
     */
    public static S3Client clientWithoutRetries(URI endpoint, String accessKey, String secretKey) {
        return client(endpoint, accessKey, secretKey,
                ClientOverrideConfiguration.builder().retryStrategy(AwsRetryStrategy.doNotRetry()));
    }

    private static S3Client client(URI endpoint, String accessKey, String secretKey,
            ClientOverrideConfiguration.Builder overrides) {
        return S3Client.builder()
                .endpointOverride(endpoint)
                .region(Region.of(REGION))
                .forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(accessKey, secretKey)))
                .overrideConfiguration(overrides.apiCallAttemptTimeout(Duration.ofSeconds(30)).build())
                .build();
    }

    /** Creates a bucket (an S3 bucket name: lowercase letters, digits, '-'). */
    public void createBucket(String bucket) {
        blobStore.createContainer(bucket);
    }

    @Override
    public void close() throws Exception {
        stop();
    }
}

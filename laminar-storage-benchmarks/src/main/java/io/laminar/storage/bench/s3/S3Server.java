package io.laminar.storage.bench.s3;

import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
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
 *
 * <p>The endpoint is plain HTTP, where the SDK signs every payload (SHA-256 of each aws-chunked
 * chunk, checked again by the server). With {@code -D}{@value #TLS_PROPERTY}{@code =true} it is
 * HTTPS instead, as AWS S3's is, where the SDK signs no payload: a self-signed certificate for
 * 127.0.0.1 is made with {@code keytool} in the run's directory and the JVM's default trust store is
 * set to it (so the client's HTTP client, with its defaults, trusts it).
 */
final class S3Server implements AutoCloseable {

    static final String BUCKET = "bench";
    private static final String ACCESS_KEY = "bench-access";
    private static final String SECRET_KEY = "bench-secret";
    static final String TLS_PROPERTY = "laminar.bench.s3.tls";
    private static final String KEYSTORE_PASSWORD = "bench-keystore";
    /** The prefix of the names S3Proxy gives its threads. */
    private static final String SERVER_THREADS = "S3Proxy";

    private final S3Proxy proxy;
    private final boolean tls;
    final S3Client client;

    S3Server(Path directory) throws Exception {
        var blobs = Files.createDirectories(directory.resolve("blobs"));
        tls = Boolean.getBoolean(TLS_PROPERTY);
        var builder = S3Proxy.builder();
        if (tls) {
            builder.secureEndpoint(URI.create("https://127.0.0.1:0")).sslContext(selfSignedTls(directory));
        } else {
            builder.endpoint(URI.create("http://127.0.0.1:0"));
        }
        proxy = builder
                .blobStore(new FilesystemNio2BlobStore(blobs.toString()))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                .ignoreUnknownHeaders(true) // or the SDK's multipart requests are refused
                .stopTimeout(0)
                .build();
        proxy.start();
        for (int i = 0; i < 500 && !"STARTED".equals(proxy.getState()); i++) {
            Thread.sleep(10);
        }
        client = clientOf(endpoint());
        client.createBucket(b -> b.bucket(BUCKET));
        if (tls) {
            System.out.println("  S3 endpoint over TLS (-D" + TLS_PROPERTY + "=true): https://127.0.0.1:"
                    + proxy.getSecurePort());
        }
    }

    /** The server's endpoint: HTTPS with {@value #TLS_PROPERTY}, plain HTTP otherwise. */
    URI endpoint() {
        return tls ? URI.create("https://127.0.0.1:" + proxy.getSecurePort())
                : URI.create("http://127.0.0.1:" + proxy.getPort());
    }

    /** A client of the server at {@code endpoint} (its own, or a relay in front of it), with the SDK's defaults. */
    static S3Client clientOf(URI endpoint) {
        return S3Client.builder()
                .endpointOverride(endpoint)
                .region(Region.US_EAST_1)
                .forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                .overrideConfiguration(ClientOverrideConfiguration.builder()
                        .apiCallAttemptTimeout(Duration.ofMinutes(5)).build())
                .build();
    }

    /**
     * A TLS context with a new self-signed certificate for 127.0.0.1 (made by the JDK's
     * {@code keytool} in {@code directory}), which the JVM's default trust store is set to.
     */
    private static SSLContext selfSignedTls(Path directory) throws Exception {
        var file = directory.resolve("tls.p12");
        var keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        var process = new ProcessBuilder(keytool, "-genkeypair", "-alias", "s3", "-keyalg", "EC", "-groupname",
                "secp256r1", "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1", "-validity", "2", "-storetype",
                "PKCS12", "-keystore", file.toString(), "-storepass", KEYSTORE_PASSWORD, "-keypass", KEYSTORE_PASSWORD)
                .redirectErrorStream(true).start();
        var output = new String(process.getInputStream().readAllBytes());
        if (process.waitFor() != 0) {
            throw new IllegalStateException("keytool could not make the benchmark's TLS certificate: " + output);
        }
        var keys = KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(file)) {
            keys.load(in, KEYSTORE_PASSWORD.toCharArray());
        }
        var keyManagers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keyManagers.init(keys, KEYSTORE_PASSWORD.toCharArray());
        System.setProperty("javax.net.ssl.trustStore", file.toString());
        System.setProperty("javax.net.ssl.trustStorePassword", KEYSTORE_PASSWORD);
        System.setProperty("javax.net.ssl.trustStoreType", "PKCS12");
        var context = SSLContext.getInstance("TLS");
        context.init(keyManagers.getKeyManagers(), null, null);
        return context;
    }

    /**
     * The CPU time of this whole process (client, server and benchmark share it), or -1 where the
     * JVM cannot tell.
     */
    static long processCpuNanos() {
        var os = ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getProcessCpuTime() : -1;
    }

    /**
     * The CPU time of the server's threads alive now (S3Proxy names them {@value #SERVER_THREADS}*;
     * its Jetty pool keeps them between requests), or -1 where the JVM cannot tell: the difference
     * over a round tells the server's share of {@link #processCpuNanos()}.
     */
    static long serverCpuNanos() {
        var threads = ManagementFactory.getThreadMXBean();
        if (!threads.isThreadCpuTimeSupported() || !threads.isThreadCpuTimeEnabled()) {
            return -1;
        }
        long sum = 0;
        for (var info : threads.getThreadInfo(threads.getAllThreadIds())) {
            if (info != null && info.getThreadName().startsWith(SERVER_THREADS)) {
                sum += Math.max(0, threads.getThreadCpuTime(info.getThreadId()));
            }
        }
        return sum;
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

package io.laminar.storage.spring.autoconfigure;

import java.net.URI;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * An S3Proxy server in the test JVM on 127.0.0.1 (a free port), over an in-memory blob store, with
 * AWS signature authentication: started before the tests of a class, stopped after them. Register
 * it as a static field with {@code @RegisterExtension}.
 */
final class S3ProxyExtension implements BeforeAllCallback, AfterAllCallback {

    static final String ACCESS_KEY = "laminar-starter-access";
    static final String SECRET_KEY = "laminar-starter-secret";
    static final String REGION = "us-east-1";

    private final BlobStore blobStore = new TransientNio2BlobStore();
    private S3Proxy proxy;

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        this.proxy = S3Proxy.builder()
                .blobStore(this.blobStore)
                .endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                .ignoreUnknownHeaders(true) // the SDK's checksum headers on multipart requests
                .stopTimeout(0)
                .build();
        this.proxy.start();
        for (int i = 0; i < 500 && !"STARTED".equals(this.proxy.getState()); i++) {
            Thread.sleep(10);
        }
        if (!"STARTED".equals(this.proxy.getState())) {
            throw new IllegalStateException("S3Proxy did not start: " + this.proxy.getState());
        }
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        if (this.proxy != null) {
            this.proxy.stop();
        }
    }

    String endpoint() {
        return "http://127.0.0.1:" + this.proxy.getPort();
    }

    void createBucket(String bucket) {
        this.blobStore.createContainer(bucket);
    }

    /** The {@code spring.cloud.aws.*} properties that point Spring Cloud AWS's S3 client here. */
    String[] springCloudAwsProperties() {
        return new String[] {
                "spring.cloud.aws.s3.endpoint=" + endpoint(),
                "spring.cloud.aws.s3.path-style-access-enabled=true",
                "spring.cloud.aws.credentials.access-key=" + ACCESS_KEY,
                "spring.cloud.aws.credentials.secret-key=" + SECRET_KEY,
                "spring.cloud.aws.region.static=" + REGION};
    }
}

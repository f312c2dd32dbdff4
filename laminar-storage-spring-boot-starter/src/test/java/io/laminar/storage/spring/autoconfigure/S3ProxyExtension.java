package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.store.s3.S3ProxyServer;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The core's {@link S3ProxyServer} (in-memory, on 127.0.0.1) as a JUnit extension: started before
 * the tests of a class, stopped after them, plus the properties that point Spring Cloud AWS at it.
 * Register it as a static field with {@code @RegisterExtension}.
 */
final class S3ProxyExtension implements BeforeAllCallback, AfterAllCallback {

    private S3ProxyServer server;

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        this.server = S3ProxyServer.inMemory();
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        if (this.server != null) {
            this.server.close();
        }
    }

    /** The running server. */
    S3ProxyServer server() {
        return this.server;
    }

    /** The {@code spring.cloud.aws.*} properties that point Spring Cloud AWS's S3 client here. */
    String[] springCloudAwsProperties() {
        return new String[] {
                "spring.cloud.aws.s3.endpoint=" + this.server.endpoint(),
                "spring.cloud.aws.s3.path-style-access-enabled=true",
                "spring.cloud.aws.credentials.access-key=" + S3ProxyServer.ACCESS_KEY,
                "spring.cloud.aws.credentials.secret-key=" + S3ProxyServer.SECRET_KEY,
                "spring.cloud.aws.region.static=" + S3ProxyServer.REGION};
    }
}

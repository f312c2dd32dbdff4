package io.laminar.storage.sample;

import static io.laminar.storage.sample.SampleClient.batch;
import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.store.s3.S3ProxyServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged sample with the {@code s3} profile, configured exactly as its README says (endpoint,
 * bucket and credentials in environment variables), against an S3Proxy server in the test JVM on
 * 127.0.0.1: checkpoints land in the bucket, and a second instance with an empty data directory
 * restores the state from the bucket alone.
 */
class SampleS3IT {

    private static final String BUCKET = "laminar-sample-it";

    @TempDir
    Path dir;

    private S3ProxyServer s3;

    @BeforeEach
    void startS3Proxy() throws Exception {
        s3 = S3ProxyServer.inMemory();
        s3.createBucket(BUCKET);
    }

    @AfterEach
    void stopS3Proxy() throws Exception {
        if (s3 != null) {
            s3.close();
        }
    }

    private Map<String, String> environment() {
        return Map.of("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY,
                "AWS_REGION", S3ProxyServer.REGION, "LAMINAR_S3_ENDPOINT", s3.endpoint().toString(),
                "LAMINAR_S3_BUCKET", BUCKET);
    }

    private SampleProcess start(String name, Path data) throws Exception {
        return SampleProcess.start(dir.resolve(name + ".log"), environment(), "--spring.profiles.active=s3",
                "--laminar.storage.dir=" + data, "--laminar.storage.cores=2", "--laminar.storage.wal.segment-size=4MB");
    }

    @Test
    @Timeout(120)
    void theS3ProfileCheckpointsToTheBucketAndAnEmptyDataDirectoryRestoresFromIt() throws Exception {
        try (var first = start("first", dir.resolve("first"))) {
            assertThat(first.client.post("/api/events", batch("s3-1", "alice", 5, "bob", 7)).status()).isEqualTo(200);
            assertThat(first.client.post("/api/events", batch("s3-2", "alice", -2)).status()).isEqualTo(200);
            // A graceful stop takes the final checkpoint (laminar.storage.checkpoint.final-on-shutdown).
            assertThat(first.stop()).isIn(0, 143);
            assertThat(first.logTail()).contains("final checkpoint");
        }
        var names = new ArrayList<String>();
        s3.blobStore().list(BUCKET).contents().forEach(object -> names.add(object.key()));
        assertThat(names).as("objects in the bucket").isNotEmpty().allMatch(name -> name.startsWith("sample/"));

        try (var second = start("second", dir.resolve("second"))) {
            assertThat(second.client.get("/api/balances/alice").body().toString())
                    .isEqualTo("{\"key\":\"alice\",\"balance\":3,\"events\":2}");
            assertThat(second.client.get("/api/summary").body().toString())
                    .isEqualTo("{\"keys\":2,\"events\":3,\"sum\":10,\"batches\":2}");
            var again = second.client.post("/api/events", batch("s3-1", "alice", 5, "bob", 7));
            assertThat(again.body().get("applied").asBoolean()).as("a batch applied before the restore").isFalse();
        }
    }
}

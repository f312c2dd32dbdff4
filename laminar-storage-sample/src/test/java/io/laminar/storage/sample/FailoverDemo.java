package io.laminar.storage.sample;

import ch.qos.logback.classic.Level;
import io.laminar.storage.replication.kafka.KafkaCluster;
import io.laminar.storage.store.s3.S3ProxyServer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.slf4j.LoggerFactory;

/**
 * What the {@code replicated} profile needs, on one machine and without Docker: an S3Proxy server
 * (in memory) with the bucket, and one KRaft Kafka broker (with its controller), both in this JVM on
 * 127.0.0.1 on free ports. Prints the environment to give the two sample instances of the failover
 * demo (README.md, "Failover on one machine") and runs until Ctrl-C; then everything it held (the
 * bucket, the topic) is gone. Also the servers of {@link SampleFailoverIT}.
 */
public final class FailoverDemo implements AutoCloseable {

    static final String BUCKET = "laminar-sample";

    private final S3ProxyServer s3;
    private final KafkaCluster kafka;

    private FailoverDemo(S3ProxyServer s3, KafkaCluster kafka) {
        this.s3 = s3;
        this.kafka = kafka;
    }

    /** Starts S3Proxy with the bucket, then one broker; stops what started if the other fails. */
    static FailoverDemo start() throws Exception {
        var s3 = S3ProxyServer.inMemory();
        try {
            s3.createBucket(BUCKET);
            return new FailoverDemo(s3, KafkaCluster.start(1));
        } catch (Exception e) {
            s3.close();
            throw e;
        }
    }

    /** The environment of a sample with {@code --spring.profiles.active=replicated} against these servers. */
    Map<String, String> environment() {
        var environment = new LinkedHashMap<String, String>();
        environment.put("AWS_ACCESS_KEY_ID", S3ProxyServer.ACCESS_KEY);
        environment.put("AWS_SECRET_ACCESS_KEY", S3ProxyServer.SECRET_KEY);
        environment.put("AWS_REGION", S3ProxyServer.REGION);
        environment.put("LAMINAR_S3_ENDPOINT", s3.endpoint().toString());
        environment.put("LAMINAR_S3_BUCKET", BUCKET);
        environment.put("LAMINAR_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrapServers());
        // One broker: the topic cannot have more replicas than brokers.
        environment.put("LAMINAR_KAFKA_REPLICATION_FACTOR", "1");
        environment.put("LAMINAR_KAFKA_MIN_INSYNC_REPLICAS", "1");
        return environment;
    }

    S3ProxyServer s3() {
        return s3;
    }

    KafkaCluster kafka() {
        return kafka;
    }

    /** The broker and S3Proxy log at WARN: their INFO lines would bury the output that matters. */
    static void quietLogs() {
        var root = LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        if (root instanceof ch.qos.logback.classic.Logger logback) {
            logback.setLevel(Level.WARN);
        }
    }

    @Override
    public void close() throws Exception {
        try {
            kafka.close();
        } finally {
            s3.close();
        }
    }

    public static void main(String[] args) throws Exception {
        quietLogs();
        var demo = start();
        var stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                demo.close();
            } catch (Exception e) {
                System.err.println("stopping the demo servers: " + e);
            } finally {
                stopped.countDown();
            }
        }, "failover-demo-stop"));
        var out = new StringBuilder();
        out.append("\nS3Proxy (bucket ").append(BUCKET).append(") and a Kafka broker run on 127.0.0.1.\n")
                .append("In each shell that starts a sample instance, first run:\n\n");
        demo.environment().forEach((name, value) -> out.append("export ").append(name).append('=').append(value)
                .append('\n'));
        out.append("\nthen, for instance A (README.md, \"Failover on one machine\"):\n\n")
                .append("java -Xmx384m -jar laminar-storage-sample/target/laminar-storage-sample.jar ")
                .append("--spring.profiles.active=replicated --laminar.storage.cores=2 ")
                .append("--laminar.storage.dir=/tmp/laminar-a --server.port=8081\n\n")
                .append("Ctrl-C stops S3Proxy and the broker; the bucket and the topic are in memory and temporary ")
                .append("directories, and go with them.\n");
        System.out.println(out);
        stopped.await();
    }
}

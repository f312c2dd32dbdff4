package io.laminar.storage.replication.kafka;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.apache.kafka.common.utils.internals.Exit;
import org.apache.kafka.server.common.MetadataVersion;

/**
 * Real KRaft brokers in the test JVM (Kafka's own {@code KafkaClusterTestKit}): one controller and
 * {@code brokers} brokers, every listener bound to 127.0.0.1, the production metadata version, and a
 * short broker session so that a stopped broker can be restarted at once. Internal topics get
 * replication factor {@code min(3, brokers)} and {@code min.insync.replicas} {@code min(2, brokers)},
 * as a small production cluster. Keep one per test class: a start takes a few seconds and about
 * 300 MiB.
 */
public final class KafkaCluster implements AutoCloseable {

    private final KafkaClusterTestKit kit;

    private KafkaCluster(KafkaClusterTestKit kit) {
        this.kit = kit;
    }

    /** Starts a cluster and waits until every broker is ready. */
    public static KafkaCluster start(int brokers) throws Exception {
        return start(brokers, Map.of());
    }

    /**
     * As {@link #start(int)}, with broker settings that replace the defaults above (a benchmark
     * under load wants Kafka's default session timeout: a short one fences busy brokers).
     */
    public static KafkaCluster start(int brokers, Map<String, String> overrides) throws Exception {
        // A broker that meets a fatal error (say, while the JVM's shutdown hook stops the shared
        // cluster) calls Kafka's Exit: in a test JVM that must not end, or hang, the JVM that runs
        // the tests, so Exit only reports it (Kafka's own tests do the same).
        Exit.setExitProcedure((status, message) -> System.err.println(
                "kafka test cluster: Exit.exit(" + status + ") ignored: " + message));
        Exit.setHaltProcedure((status, message) -> System.err.println(
                "kafka test cluster: Exit.halt(" + status + ") ignored: " + message));
        var nodes = new TestKitNodes.Builder()
                .setNumControllerNodes(1)
                .setNumBrokerNodes(brokers)
                .setBootstrapMetadataVersion(MetadataVersion.latestProduction())
                .build();
        int replicas = Math.min(3, brokers);
        var builder = new KafkaClusterTestKit.Builder(nodes)
                .setConfigProp("broker.heartbeat.interval.ms", "250")
                .setConfigProp("broker.session.timeout.ms", "1500")
                .setConfigProp("offsets.topic.replication.factor", Integer.toString(replicas))
                .setConfigProp("offsets.topic.num.partitions", "2")
                .setConfigProp("transaction.state.log.replication.factor", Integer.toString(replicas))
                .setConfigProp("transaction.state.log.min.isr", Integer.toString(Math.min(2, brokers)))
                .setConfigProp("transaction.state.log.num.partitions", "2")
                .setConfigProp("group.initial.rebalance.delay.ms", "0")
                .setConfigProp("num.network.threads", "1")
                .setConfigProp("num.io.threads", "2")
                .setConfigProp("num.replica.fetchers", "1")
                .setConfigProp("log.segment.bytes", Integer.toString(8 << 20))
                .setConfigProp("replica.lag.time.max.ms", "3000")
                .setDeleteOnClose(true);
        overrides.forEach(builder::setConfigProp);
        bindToLoopback(builder, nodes);
        var kit = builder.build();
        try {
            kit.format();
            kit.startup();
            kit.waitForReadyBrokers();
        } catch (Exception e) {
            kit.close();
            throw e;
        }
        return new KafkaCluster(kit);
    }

    /**
     * The kit binds each listener to the wildcard address; hand it sockets bound to 127.0.0.1 instead
     * (its socket factory uses a socket it already holds for a node and listener).
     */
    @SuppressWarnings("unchecked")
    private static void bindToLoopback(KafkaClusterTestKit.Builder builder, TestKitNodes nodes) throws Exception {
        var managerField = KafkaClusterTestKit.Builder.class.getDeclaredField("socketFactoryManager");
        managerField.setAccessible(true);
        var manager = managerField.get(builder);
        var socketsField = manager.getClass().getDeclaredField("sockets");
        socketsField.setAccessible(true);
        var sockets = (Map<Integer, Map<String, ServerSocketChannel>>) socketsField.get(manager);
        for (int id : nodes.controllerNodes().keySet()) {
            sockets.computeIfAbsent(id, k -> new HashMap<>()).put(nodes.controllerListenerName().value(), loopback());
        }
        for (int id : nodes.brokerNodes().keySet()) {
            sockets.computeIfAbsent(id, k -> new HashMap<>()).put(nodes.brokerListenerName().value(), loopback());
        }
    }

    private static ServerSocketChannel loopback() throws IOException {
        var channel = ServerSocketChannel.open();
        channel.socket().setReuseAddress(true);
        channel.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        channel.configureBlocking(false); // as Kafka's own ServerSocketFactory leaves it
        return channel;
    }

    /** {@code bootstrap.servers} of the brokers. */
    public String bootstrapServers() {
        return kit.bootstrapServers();
    }

    /** An admin client (close it). */
    public Admin admin() {
        return kit.admin();
    }

    /** The broker ids. */
    public java.util.Set<Integer> brokerIds() {
        return kit.brokers().keySet();
    }

    /** Stops broker {@code id} (as a crash would, from the clients' view: it stops answering). */
    public void stopBroker(int id) {
        var broker = kit.brokers().get(id);
        broker.shutdown();
        broker.awaitShutdown();
    }

    /** Starts broker {@code id} again after {@link #stopBroker}. */
    public void restartBroker(int id) {
        kit.restartBroker(id, Map.of());
    }

    @Override
    public void close() throws Exception {
        kit.close();
    }
}

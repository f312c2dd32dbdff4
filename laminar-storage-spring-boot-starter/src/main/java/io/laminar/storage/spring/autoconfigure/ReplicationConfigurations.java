package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.replication.ChangeReplicator;
import io.laminar.storage.replication.kafka.KafkaChangeReplicator;
import io.laminar.storage.replication.kafka.KafkaReplicatorOptions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.kafka.autoconfigure.KafkaConnectionDetails;
import org.springframework.boot.kafka.autoconfigure.KafkaProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/**
 * The {@link ChangeReplicator} of {@code laminar.storage.durability=replicated}: a
 * {@link KafkaChangeReplicator} over Spring Boot's Kafka connection settings
 * ({@code spring.kafka.bootstrap-servers}, {@code spring.kafka.security.*}, {@code spring.kafka.ssl.*},
 * {@code spring.kafka.properties.*}, or a {@link KafkaConnectionDetails} bean such as a service
 * connection) and {@code laminar.storage.replication.*}. The replicator is closed when the context
 * closes, after the runtime that uses it.
 */
final class ReplicationConfigurations {

    static final String DURABILITY = LaminarStorageProperties.PREFIX + ".durability";
    static final String KAFKA_DEPENDENCY = "io.laminar:laminar-storage-kafka";
    private static final String BOOT_KAFKA = "org.springframework.boot.kafka.autoconfigure.KafkaConnectionDetails";
    private static final Logger log = LoggerFactory.getLogger(ReplicationConfigurations.class);

    private ReplicationConfigurations() {
    }

    /** Kafka client settings taken from Spring Boot's Kafka configuration. */
    record KafkaClientSettings(Map<String, Object> properties) {
    }

    /** With Spring Boot's Kafka module: its admin client settings and its connection details. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(name = {BOOT_KAFKA, "io.laminar.storage.replication.kafka.KafkaChangeReplicator"})
    @ConditionalOnProperty(name = DURABILITY, havingValue = "replicated")
    static final class BootKafkaSettings {

        @Bean
        KafkaClientSettings laminarReplicationKafkaSettings(ObjectProvider<KafkaProperties> kafkaProperties,
                                                           ObjectProvider<KafkaConnectionDetails> connectionDetails) {
            var properties = new HashMap<String, Object>();
            var boot = kafkaProperties.getIfAvailable();
            if (boot != null) {
                properties.putAll(boot.buildAdminProperties());
            }
            var details = connectionDetails.getIfAvailable();
            if (details != null) {
                properties.put("bootstrap.servers", String.join(",", details.getBootstrapServers()));
                if (details.getSecurityProtocol() != null) {
                    properties.put("security.protocol", details.getSecurityProtocol());
                }
            }
            return new KafkaClientSettings(properties);
        }
    }

    /** The replicator over Kafka. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass(KafkaChangeReplicator.class)
    @ConditionalOnMissingBean(ChangeReplicator.class)
    @ConditionalOnProperty(name = DURABILITY, havingValue = "replicated")
    static final class Kafka {

        @Bean
        KafkaChangeReplicator laminarChangeReplicator(LaminarStorageProperties properties, Environment environment,
                                                      ObjectProvider<KafkaClientSettings> bootSettings) {
            var client = new HashMap<String, Object>();
            var settings = bootSettings.getIfAvailable();
            if (settings != null) {
                client.putAll(settings.properties());
            }
            if (!client.containsKey("bootstrap.servers")) {
                // Without Spring Boot's Kafka module: its property, read directly.
                Binder.get(environment).bind("spring.kafka.bootstrap-servers", Bindable.listOf(String.class))
                        .ifBound(servers -> client.put("bootstrap.servers", String.join(",", servers)));
            }
            var servers = client.get("bootstrap.servers");
            if (servers == null || servers.toString().isBlank()) {
                throw new InvalidConfigurationPropertyValueException(DURABILITY, "replicated", "Replicated durability "
                        + "needs Kafka brokers: set spring.kafka.bootstrap-servers (and spring.kafka.security.* if "
                        + "they need it), or set " + DURABILITY + " to local");
            }
            if (properties.getShard() == null && environment.getProperty("spring.application.name") == null) {
                log.warn("neither {}.shard nor spring.application.name is set: the shard is called 'laminar'; two "
                        + "applications with that name would fence each other", LaminarStorageProperties.PREFIX);
            }
            var replication = properties.getReplication();
            var builder = KafkaReplicatorOptions.builder(properties.effectiveShard())
                    .partitions(replication.getPartitions())
                    .replicationFactor(replication.getReplicationFactor())
                    .minInSyncReplicas(replication.getMinInsyncReplicas())
                    .ackTimeout(replication.getAckTimeout())
                    .createTopic(replication.isCreateTopic());
            client.forEach((name, value) -> builder.clientProperty(name, value));
            if (replication.getTopic() != null) {
                builder.topic(replication.getTopic());
            }
            return new KafkaChangeReplicator(builder.build());
        }
    }

    /** Replicated durability was asked for, but the Kafka module is not on the classpath. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnMissingBean(ChangeReplicator.class)
    @ConditionalOnProperty(name = DURABILITY, havingValue = "replicated")
    @ConditionalOnMissingClass("io.laminar.storage.replication.kafka.KafkaChangeReplicator")
    static final class KafkaMissing {

        @Bean
        ChangeReplicator laminarChangeReplicator() {
            throw new InvalidConfigurationPropertyValueException(DURABILITY, "replicated", "Replicated durability "
                    + "needs the module " + KAFKA_DEPENDENCY + ", which is not on the classpath. Add the dependency "
                    + KAFKA_DEPENDENCY + " (and org.springframework.boot:spring-boot-kafka for the spring.kafka.* "
                    + "connection settings), or set " + DURABILITY + " to local");
        }
    }

}

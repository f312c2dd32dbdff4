package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.spring.autoconfigure.LaminarStorageProperties.StoreType;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.laminar.storage.store.s3.S3CheckpointStore;
import java.io.IOException;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingClass;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * One small configuration per {@link StoreType}, each active only for its type and only when the
 * application defines no {@link CheckpointStore} itself. Every store bean is closed when the
 * context closes, after the runtime that uses it.
 */
final class CheckpointStoreConfigurations {

    /** What to add to use the S3 store: Spring Cloud AWS's S3 starter brings the SDK and the client. */
    static final String S3_DEPENDENCY = "io.awspring.cloud:spring-cloud-aws-starter-s3";
    static final String S3_STORE_DEPENDENCY = "io.laminar:laminar-storage-s3";

    private CheckpointStoreConfigurations() {
    }

    /** The default: a directory of the local file system. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnMissingBean(CheckpointStore.class)
    @ConditionalOnCheckpointStoreType(StoreType.FILESYSTEM)
    static final class FileSystem {

        @Bean
        FileSystemCheckpointStore laminarCheckpointStore(LaminarStorageProperties properties) {
            var directory = properties.checkpointDirectory();
            try {
                return FileSystemCheckpointStore.open(directory);
            } catch (IOException ex) {
                // Name the property the directory comes from: its own, or laminar.storage.dir.
                var configured = properties.getCheckpoint().getFilesystem().getDir();
                throw (configured != null)
                        ? StorageDirectoryException.unusable(LaminarStorageProperties.PREFIX
                                + ".checkpoint.filesystem.dir", configured, directory, ex)
                        : StorageDirectoryException.unusable(LaminarStorageProperties.PREFIX + ".dir",
                                properties.getDir(), directory, ex);
            }
        }
    }

    /**
     * An S3 bucket, through the {@link S3Client} bean of Spring Cloud AWS's S3 auto-configuration
     * (credentials, region and endpoint from {@code spring.cloud.aws.*}) or of the application.
     * The client stays the context's: the store does not close it.
     */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnClass({S3CheckpointStore.class, S3Client.class})
    @ConditionalOnMissingBean(CheckpointStore.class)
    @ConditionalOnCheckpointStoreType(StoreType.S3)
    static final class S3 {

        @Bean
        S3CheckpointStore laminarCheckpointStore(LaminarStorageProperties properties, ObjectProvider<S3Client> clients,
                                                 ObjectProvider<S3CheckpointStoreCustomizer> customizers) {
            var client = clients.getIfUnique();
            if (client == null) {
                throw new InvalidConfigurationPropertyValueException(OnCheckpointStoreTypeCondition.PROPERTY, "s3",
                        "The S3 checkpoint store needs one S3Client bean, and the context has "
                        + (clients.stream().findAny().isPresent() ? "several" : "none") + ". Add the dependency "
                        + S3_DEPENDENCY + ", whose auto-configuration makes one from the spring.cloud.aws.* "
                        + "properties (credentials, region, spring.cloud.aws.s3.endpoint), or define a single "
                        + "S3Client bean");
            }
            var s3 = properties.getCheckpoint().getS3();
            var builder = S3CheckpointStore.builder(client, s3.getBucket()).prefix(s3.getPrefix())
                    .partSize(s3.getPartSize().toBytes())
                    .uploadThreads(s3.getUploadThreads())
                    .downloadRangeSize(s3.getDownloadRangeSize().toBytes())
                    .rangesAhead(s3.getRangesAhead())
                    .maxAttempts(s3.getMaxAttempts())
                    .retryBackoff(s3.getRetryBaseDelay(), s3.getRetryMaxDelay())
                    .incompleteUploadMaxAge(s3.getIncompleteUploadMaxAge());
            customizers.orderedStream().forEach(customizer -> customizer.customize(builder));
            // build() lists the bucket once, so a missing bucket or rejected credentials fail the
            // startup here, with a message naming the bucket.
            return builder.build();
        }
    }

    /**
     * The S3 store was asked for, but its module is not on the classpath: fail with what to add,
     * instead of a missing {@code CheckpointStore} bean.
     */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnMissingBean(CheckpointStore.class)
    @ConditionalOnCheckpointStoreType(StoreType.S3)
    @ConditionalOnMissingClass("io.laminar.storage.store.s3.S3CheckpointStore")
    static final class S3StoreMissing {

        @Bean
        CheckpointStore laminarCheckpointStore() {
            throw s3Missing("the module " + S3_STORE_DEPENDENCY + ", which is not on the classpath. Add the"
                    + " dependencies " + S3_STORE_DEPENDENCY + " and " + S3_DEPENDENCY);
        }
    }

    /** The S3 store was asked for and its module is there, but the AWS SDK was excluded. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnMissingBean(CheckpointStore.class)
    @ConditionalOnCheckpointStoreType(StoreType.S3)
    @ConditionalOnClass(name = "io.laminar.storage.store.s3.S3CheckpointStore")
    @ConditionalOnMissingClass("software.amazon.awssdk.services.s3.S3Client")
    static final class S3SdkMissing {

        @Bean
        CheckpointStore laminarCheckpointStore() {
            throw s3Missing("the AWS SDK for S3 and an S3Client, which are not on the classpath. Add the"
                    + " dependency " + S3_DEPENDENCY);
        }
    }

    private static InvalidConfigurationPropertyValueException s3Missing(String what) {
        return new InvalidConfigurationPropertyValueException(OnCheckpointStoreTypeCondition.PROPERTY, "s3",
                "The S3 checkpoint store needs " + what + " (it configures the client from the spring.cloud.aws.*"
                + " properties), or set " + OnCheckpointStoreTypeCondition.PROPERTY + " to filesystem");
    }
}

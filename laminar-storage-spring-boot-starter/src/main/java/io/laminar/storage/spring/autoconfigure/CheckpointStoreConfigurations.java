package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.checkpoint.CheckpointStore;
import io.laminar.storage.checkpoint.FileSystemCheckpointStore;
import io.laminar.storage.spring.autoconfigure.LaminarStorageProperties.StoreType;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingClass;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * One small configuration per {@link StoreType}, each active only for its type and only when the
 * application defines no {@link CheckpointStore} itself. Every store bean is closed when the
 * context closes, after the runtime that uses it.
 */
final class CheckpointStoreConfigurations {

    /** What to add to use the S3 store: Spring Cloud AWS's S3 starter brings the SDK and the client. */
    static final String S3_DEPENDENCY = "io.awspring.cloud:spring-cloud-aws-starter-s3";

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
                throw new UncheckedIOException("Cannot open the checkpoint store in " + directory.toAbsolutePath()
                        + " (laminar.storage.checkpoint.filesystem.dir, by default <laminar.storage.dir>/checkpoints): "
                        + ex.getMessage(), ex);
            }
        }
    }

    /**
     * The S3 store was asked for, but the AWS SDK is not on the classpath: fail with what to add,
     * instead of a missing {@code CheckpointStore} bean.
     */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnMissingBean(CheckpointStore.class)
    @ConditionalOnCheckpointStoreType(StoreType.S3)
    @ConditionalOnMissingClass("software.amazon.awssdk.services.s3.S3Client")
    static final class S3SdkMissing {

        @Bean
        CheckpointStore laminarCheckpointStore() {
            throw new InvalidConfigurationPropertyValueException(OnCheckpointStoreTypeCondition.PROPERTY, "s3",
                    "The S3 checkpoint store needs the AWS SDK for S3 and an S3Client, which are not on the "
                    + "classpath. Add the dependency " + S3_DEPENDENCY + " (it configures the client from the "
                    + "spring.cloud.aws.* properties), or set " + OnCheckpointStoreTypeCondition.PROPERTY
                    + " to filesystem");
        }
    }
}

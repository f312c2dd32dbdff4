package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.store.s3.S3CheckpointStore;

/**
 * Adjusts the auto-configured {@link S3CheckpointStore} (with {@code laminar.storage.checkpoint.store=s3})
 * before it is built, after the bucket and prefix properties were applied: part size, upload
 * threads, retries, the age at which incomplete uploads are aborted.
 *
 * <p>Every bean of this type is applied, in {@link org.springframework.core.Ordered} /
 * {@link org.springframework.core.annotation.Order @Order} order. Called once, on the thread that
 * creates the bean. Only used when the AWS SDK is on the classpath.
 */
@FunctionalInterface
public interface S3CheckpointStoreCustomizer {

    /** Adjusts {@code builder}, which already holds the bucket and the prefix. */
    void customize(S3CheckpointStore.Builder builder);
}

package io.laminar.storage.spring.autoconfigure;

import static io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfigurationTests.findCause;
import static io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfigurationTests.get;
import static io.laminar.storage.spring.autoconfigure.LaminarStorageAutoConfigurationTests.put;
import static org.assertj.core.api.Assertions.assertThat;

import io.awspring.cloud.autoconfigure.core.AwsAutoConfiguration;
import io.awspring.cloud.autoconfigure.core.CredentialsProviderAutoConfiguration;
import io.awspring.cloud.autoconfigure.core.RegionProviderAutoConfiguration;
import io.awspring.cloud.autoconfigure.s3.S3AutoConfiguration;
import io.laminar.storage.StorageException;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.laminar.storage.store.s3.S3CheckpointStore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * {@code laminar.storage.checkpoint.store=s3}: the S3 store over the {@link S3Client} that Spring
 * Cloud AWS configures, against S3Proxy on 127.0.0.1; and what happens when the AWS SDK or the
 * client is missing.
 */
class S3CheckpointStoreAutoConfigurationTests {

    @RegisterExtension
    static final S3ProxyExtension s3 = new S3ProxyExtension();

    private static final AtomicInteger buckets = new AtomicInteger();

    @TempDir
    Path dir;

    private final String bucket = "laminar-" + buckets.incrementAndGet();

    @BeforeEach
    void createBucket() {
        s3.server().createBucket(this.bucket);
    }

    /** The core auto-configuration alone, on the S3 store of this test's bucket. */
    private ApplicationContextRunner laminarOnly() {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LaminarStorageAutoConfiguration.class))
                .withPropertyValues(QuickStorage.properties(this.dir))
                .withPropertyValues("laminar.storage.checkpoint.store=s3",
                        "laminar.storage.checkpoint.s3.bucket=" + this.bucket, "laminar.storage.checkpoint.s3.prefix=orders/");
    }

    /** With Spring Cloud AWS's auto-configuration, pointed at S3Proxy. */
    private ApplicationContextRunner runner() {
        return laminarOnly()
                .withConfiguration(AutoConfigurations.of(AwsAutoConfiguration.class,
                        CredentialsProviderAutoConfiguration.class, RegionProviderAutoConfiguration.class,
                        S3AutoConfiguration.class))
                .withPropertyValues(s3.springCloudAwsProperties());
    }

    @Test
    void runWhenStoreIsS3ShouldCheckpointIntoTheBucketThroughSpringCloudAwsClient() {
        runner().run(context -> {
            assertThat(context).hasNotFailed().hasSingleBean(S3CheckpointStore.class)
                    .doesNotHaveBean(FileSystemCheckpointStore.class);
            var store = context.getBean(S3CheckpointStore.class);
            assertThat(store.bucket()).isEqualTo(this.bucket);
            assertThat(store.prefix()).isEqualTo("orders/");
            assertThat(store.partSize()).isEqualTo(S3CheckpointStore.DEFAULT_PART_SIZE);

            var runtime = context.getBean(LaminarRuntime.class);
            assertThat(runtime.store()).isSameAs(store);
            put(runtime, "order-1", "paid");
            var manifest = runtime.triggerCheckpoint().get(30, TimeUnit.SECONDS);

            // The objects are where the properties say, seen through the context's own client.
            var keys = context.getBean(S3Client.class)
                    .listObjectsV2(request -> request.bucket(this.bucket)).contents().stream()
                    .map(S3Object::key).toList();
            assertThat(keys).contains(String.format("orders/manifests/checkpoint-%020d.json", manifest.checkpointId()))
                    .allMatch(key -> key.startsWith("orders/"));
            // No checkpoint directory on the local disk.
            assertThat(this.dir.resolve("checkpoints")).doesNotExist();
        });
    }

    @Test
    void restartShouldRecoverFromTheFinalCheckpointInTheBucket() {
        runner().run(context -> {
            var runtime = context.getBean(LaminarRuntime.class);
            for (int i = 0; i < 10; i++) {
                put(runtime, "order-" + i, "state-" + i);
            }
        });
        runner().run(context -> {
            var runtime = context.getBean(LaminarRuntime.class);
            assertThat(runtime.recoveryReport()).hasValueSatisfying(report -> {
                assertThat(report.checkpointId()).isNotNull();
                assertThat(report.recordsReplayed()).isZero();
            });
            assertThat(get(runtime, "order-7")).isEqualTo("state-7");
        });
    }

    @Test
    void s3TuningPropertiesShouldReachTheStore() {
        runner().withPropertyValues("laminar.storage.checkpoint.s3.part-size=8MB",
                        "laminar.storage.checkpoint.s3.upload-threads=7", "laminar.storage.checkpoint.s3.max-attempts=9",
                        "laminar.storage.checkpoint.s3.download-range-size=16MB",
                        "laminar.storage.checkpoint.s3.ranges-ahead=0",
                        "laminar.storage.checkpoint.s3.retry-base-delay=20ms",
                        "laminar.storage.checkpoint.s3.retry-max-delay=2s",
                        "laminar.storage.checkpoint.s3.incomplete-upload-max-age=30m")
                .run(context -> {
                    var store = context.getBean(S3CheckpointStore.class);
                    assertThat(store.partSize()).isEqualTo(8 << 20);
                    assertThat(store).hasFieldOrPropertyWithValue("uploadThreads", 7)
                            .hasFieldOrPropertyWithValue("downloadRangeSize", 16 << 20)
                            .hasFieldOrPropertyWithValue("rangesAhead", 0)
                            .hasFieldOrPropertyWithValue("maxAttempts", 9)
                            .hasFieldOrPropertyWithValue("retryBaseDelay", Duration.ofMillis(20))
                            .hasFieldOrPropertyWithValue("retryMaxDelay", Duration.ofSeconds(2))
                            .hasFieldOrPropertyWithValue("incompleteUploadMaxAge", Duration.ofMinutes(30));
                });
    }

    @Test
    void s3CustomizersShouldBeAppliedAfterTheProperties() {
        runner().withPropertyValues("laminar.storage.checkpoint.s3.part-size=8MB")
                .withBean(S3CheckpointStoreCustomizer.class, () -> builder -> builder.partSize(5L << 20))
                .run(context -> assertThat(context.getBean(S3CheckpointStore.class).partSize()).isEqualTo(5 << 20));
    }

    @Test
    void s3CustomizersShouldBeApplied() {
        runner().withBean(S3CheckpointStoreCustomizer.class, () -> builder -> builder.partSize(5L << 20))
                .run(context -> assertThat(context.getBean(S3CheckpointStore.class).partSize()).isEqualTo(5 << 20));
    }

    @Test
    void missingBucketShouldFailStartupNamingTheBucket() {
        runner().withPropertyValues("laminar.storage.checkpoint.s3.bucket=no-such-bucket").run(context -> {
            assertThat(context).hasFailed();
            assertThat(findCause(context, StorageException.class)).hasMessageContaining("no-such-bucket");
        });
    }

    @Test
    void userDefinedS3ClientShouldBeUsedWithoutSpringCloudAws() {
        var client = s3.server().client();
        // Owned by the test, not the context: the context must not close it either.
        laminarOnly().withBean(S3Client.class, () -> client, definition -> definition.setDestroyMethodName(""))
                .run(context -> {
                    assertThat(context).hasNotFailed().hasSingleBean(S3Client.class);
                    var runtime = context.getBean(LaminarRuntime.class);
                    runtime.triggerCheckpoint().get(30, TimeUnit.SECONDS);
                    assertThat(context.getBean(CheckpointStore.class).listCheckpoints()).hasSize(1);
                });
        // The store left the client open: it is the context's (here, the test's) to close.
        assertThat(client.listBuckets().buckets()).isNotEmpty();
        client.close();
    }

    @Test
    void noS3ClientBeanShouldFailSayingWhichDependencyMakesOne() {
        laminarOnly().run(context -> {
            assertThat(context).hasFailed();
            var failure = findCause(context, InvalidConfigurationPropertyValueException.class);
            assertThat(failure.getName()).isEqualTo("laminar.storage.checkpoint.store");
            assertThat(failure.getReason()).contains("needs one S3Client bean, and the context has none")
                    .contains("io.awspring.cloud:spring-cloud-aws-starter-s3");
        });
    }

    @Test
    void userDefinedCheckpointStoreShouldMakeTheS3StoreBackOff() throws Exception {
        try (var userStore = FileSystemCheckpointStore.open(this.dir.resolve("user-store"))) {
            runner().withBean(CheckpointStore.class, () -> userStore).run(context -> {
                assertThat(context).hasNotFailed().doesNotHaveBean(S3CheckpointStore.class);
                assertThat(context.getBean(LaminarRuntime.class).store()).isSameAs(userStore);
            });
        }
    }

    @Test
    void withoutTheAwsSdkTheFileSystemStoreShouldStillWork() {
        new ApplicationContextRunner()
                .withClassLoader(new FilteredClassLoader(S3Client.class))
                .withConfiguration(AutoConfigurations.of(AwsAutoConfiguration.class,
                        CredentialsProviderAutoConfiguration.class, RegionProviderAutoConfiguration.class,
                        S3AutoConfiguration.class, LaminarStorageAutoConfiguration.class))
                .withPropertyValues("laminar.storage.dir=" + this.dir, "laminar.storage.cores=1",
                        "laminar.storage.wal.segment-size=2MB")
                .run(context -> {
                    assertThat(context).hasNotFailed().doesNotHaveBean(S3Client.class)
                            .hasSingleBean(FileSystemCheckpointStore.class);
                    var runtime = context.getBean(LaminarRuntime.class);
                    put(runtime, "k", "v");
                    runtime.triggerCheckpoint().get(30, TimeUnit.SECONDS);
                });
    }

    @Test
    void withoutTheS3ModuleTheS3StoreShouldFailSayingWhichDependenciesToAdd() {
        runner().withClassLoader(new FilteredClassLoader(S3CheckpointStore.class)).run(context -> {
            assertThat(context).hasFailed();
            var failure = findCause(context, InvalidConfigurationPropertyValueException.class);
            assertThat(failure.getName()).isEqualTo("laminar.storage.checkpoint.store");
            assertThat(failure.getReason()).contains("needs the module io.laminar:laminar-storage-s3")
                    .contains("io.awspring.cloud:spring-cloud-aws-starter-s3");
        });
    }

    @Test
    void withoutTheAwsSdkTheS3StoreShouldFailSayingWhichDependencyToAdd() {
        runner().withClassLoader(new FilteredClassLoader(S3Client.class)).run(context -> {
            assertThat(context).hasFailed();
            var failure = findCause(context, InvalidConfigurationPropertyValueException.class);
            assertThat(failure.getName()).isEqualTo("laminar.storage.checkpoint.store");
            assertThat(failure.getReason()).contains("needs the AWS SDK for S3")
                    .contains("Add the dependency io.awspring.cloud:spring-cloud-aws-starter-s3");
            var analysis = InvalidPropertiesTests.analyze(context.getStartupFailure());
            assertThat(analysis.getDescription()).contains("laminar.storage.checkpoint.store")
                    .contains("spring-cloud-aws-starter-s3");
        });
    }
}

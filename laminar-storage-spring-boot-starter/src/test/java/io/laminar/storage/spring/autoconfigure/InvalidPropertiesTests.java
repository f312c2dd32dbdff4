package io.laminar.storage.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatException;

import com.sun.nio.file.ExtendedOpenOption;
import io.laminar.storage.io.FaultyFileIO;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.wal.WalIoBackend;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.support.DefaultListableBeanFactory;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.context.properties.bind.validation.BindValidationException;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.diagnostics.FailureAnalyzer;
import org.springframework.boot.env.OriginTrackedMapPropertySource;
import org.springframework.boot.origin.OriginTrackedValue;
import org.springframework.boot.origin.TextResourceOrigin;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.io.ByteArrayResource;
import org.springframework.core.io.support.SpringFactoriesLoader;
import org.springframework.core.io.support.SpringFactoriesLoader.ArgumentResolver;
import org.springframework.core.io.support.SpringFactoriesLoader.FailureHandler;

/**
 * An invalid {@code laminar.storage.*} value fails startup, and both the exception and the failure
 * analysis Spring Boot prints name the property.
 */
@ExtendWith(OutputCaptureExtension.class)
class InvalidPropertiesTests {

    @TempDir
    Path dir;

    private ApplicationContextRunner runner() {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LaminarStorageAutoConfiguration.class))
                .withPropertyValues("laminar.storage.dir=" + this.dir, "laminar.storage.cores=1",
                        "laminar.storage.wal.segment-size=2MB");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            cores=0                           | cores                     | laminar.storage.cores must be at least 1, but was 0
            cores=10000                       | cores                     | laminar.storage.cores must be at most 9999
            key-groups=0                      | key-groups                | laminar.storage.key-groups must be between 1 and 32768, but was 0
            key-groups=40000                  | key-groups                | laminar.storage.key-groups must be between 1 and 32768, but was 40000
            wal.segment-size=1KB              | wal.segment-size          | laminar.storage.wal.segment-size must be a multiple of 8 bytes between 1048688B and 1GB (a segment holds at least one record of the largest size: 1MB ('wal.max-entry-size') and 112 bytes of headers), but was 1024B
            wal.segment-size=64KB             | wal.segment-size          | laminar.storage.wal.segment-size must be a multiple of 8 bytes between 1048688B and 1GB
            wal.segment-size=100KB            | wal.segment-size          | laminar.storage.wal.segment-size must be a multiple of 8 bytes between 1048688B and 1GB
            wal.segment-size=1048680          | wal.segment-size          | laminar.storage.wal.segment-size must be a multiple of 8 bytes between 1048688B and 1GB (a segment holds at least one record of the largest size: 1MB ('wal.max-entry-size') and 112 bytes of headers), but was 1048680B
            wal.segment-size=2GB              | wal.segment-size          | laminar.storage.wal.segment-size must be a multiple of 8 bytes between 1048688B and 1GB
            wal.segment-size=1048692          | wal.segment-size          | laminar.storage.wal.segment-size must be a multiple of 8 bytes
            wal.group-commit-max-wait=-1ms    | wal.group-commit-max-wait | laminar.storage.wal.group-commit-max-wait must not be negative, but was PT-0.001S
            wal.group-commit-max-wait=11s     | wal.group-commit-max-wait | laminar.storage.wal.group-commit-max-wait must be at most 10s, but was PT11S
            wal.sync-interval=0s              | wal.sync-interval         | laminar.storage.wal.sync-interval must be positive, but was PT0S
            checkpoint.interval=-10s          | checkpoint.interval       | laminar.storage.checkpoint.interval must not be negative, but was PT-10S
            checkpoint.retained=0             | checkpoint.retained       | laminar.storage.checkpoint.retained must be at least 1, but was 0
            checkpoint.store=s3               | checkpoint.s3.bucket      | laminar.storage.checkpoint.s3.bucket must be set when laminar.storage.checkpoint.store is s3
            changelog.queue-capacity=1        | changelog.queue-capacity  | laminar.storage.changelog.queue-capacity must be between 2 and 16777216, but was 1
            health.max-checkpoint-age=-1s     | health.max-checkpoint-age | laminar.storage.health.max-checkpoint-age must not be negative, but was PT-1S
            wal.max-entry-size=0              | wal.max-entry-size        | laminar.storage.wal.max-entry-size must be between 1B and 256MB, but was 0B
            wal.max-entry-size=2MB            | wal.segment-size          | laminar.storage.wal.segment-size must be a multiple of 8 bytes between 2097264B and 1GB (a segment holds at least one record of the largest size: 2MB ('wal.max-entry-size') and 112 bytes of headers), but was 2097152B
            checkpoint.s3.part-size=1MB       | checkpoint.s3.part-size   | laminar.storage.checkpoint.s3.part-size must be between 5MB (the S3 minimum) and 2147483639B, but was 1048576B
            checkpoint.s3.upload-threads=0    | checkpoint.s3.upload-threads | laminar.storage.checkpoint.s3.upload-threads must be between 1 and 64, but was 0
            checkpoint.s3.download-range-size=1KB | checkpoint.s3.download-range-size | laminar.storage.checkpoint.s3.download-range-size must be between 64KB and 1GB, but was 1024B
            checkpoint.s3.ranges-ahead=-1     | checkpoint.s3.ranges-ahead | laminar.storage.checkpoint.s3.ranges-ahead must be between 0 (one GET per file) and 64, but was -1
            checkpoint.s3.max-attempts=101    | checkpoint.s3.max-attempts | laminar.storage.checkpoint.s3.max-attempts must be between 1 and 100, but was 101
            checkpoint.s3.retry-base-delay=-1s | checkpoint.s3.retry-base-delay | laminar.storage.checkpoint.s3.retry-base-delay must not be negative, but was PT-1S
            checkpoint.s3.retry-max-delay=10ms | checkpoint.s3.retry-max-delay | laminar.storage.checkpoint.s3.retry-max-delay must be at least laminar.storage.checkpoint.s3.retry-base-delay (PT0.1S), but was PT0.01S
            checkpoint.s3.incomplete-upload-max-age=-1h | checkpoint.s3.incomplete-upload-max-age | laminar.storage.checkpoint.s3.incomplete-upload-max-age must not be negative, but was PT-1H
            recovery.fetch-threads=0          | recovery.fetch-threads    | laminar.storage.recovery.fetch-threads must be between 1 and 64, but was 0
            recovery.parse-threads=65         | recovery.parse-threads    | laminar.storage.recovery.parse-threads must be between 1 and 64, but was 65
            recovery.progress-interval=0s     | recovery.progress-interval | laminar.storage.recovery.progress-interval must be at least 1ms, but was PT0S
            """)
    void invalidValueShouldFailStartupNamingTheProperty(String assignment, String property, String message) {
        runner().withPropertyValues("laminar.storage." + assignment).run(context -> {
            assertThat(context).hasFailed();
            var failure = context.getStartupFailure();
            var validation = LaminarStorageAutoConfigurationTests.findCause(context, BindValidationException.class);
            assertThat(validation.getMessage()).contains(message);
            var analysis = analyze(failure);
            assertThat(analysis.getDescription())
                    .contains("Property: laminar.storage." + property)
                    .contains("Reason: " + message);
            assertThat(analysis.getAction()).contains("Update your application's configuration");
        });
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            cores                 | 0
            wal.segment-size      | 1KB
            wal.max-entry-size    | 0
            checkpoint.retained   | 0
            checkpoint.s3.part-size | 1MB
            health.max-checkpoint-age | -1s
            """)
    void theFailureAnalysisShouldNameWhereTheValueCameFromForNestedPropertiesToo(String property, String value) {
        var origin = new TextResourceOrigin(new ByteArrayResource(new byte[0], "application-test.yml"),
                new TextResourceOrigin.Location(6, 4));
        runner().withInitializer(context -> context.getEnvironment().getPropertySources().addFirst(
                        new OriginTrackedMapPropertySource("application-test.yml", Map.of("laminar.storage." + property,
                                OriginTrackedValue.of(value, origin)))))
                .run(context -> {
                    assertThat(context).hasFailed();
                    assertThat(analyze(context.getStartupFailure()).getDescription())
                            .contains("Property: laminar.storage." + property)
                            .contains("Origin: " + origin);
                });
    }

    @Test
    void aLargerMaxEntrySizeShouldReachTheWalAndRaiseTheSmallestSegmentSize() {
        runner().withPropertyValues("laminar.storage.wal.max-entry-size=2MB", "laminar.storage.wal.segment-size=4MB")
                .run(context -> assertThat(context.getBean(PerCoreWalManager.class).options().maxEntrySize())
                        .isEqualTo(2 << 20));
    }

    @Test
    void theSmallestSegmentSizeTheMessageStatesShouldBeAccepted() {
        // Just below it is refused above; the WAL itself accepts what the properties accept.
        runner().withPropertyValues("laminar.storage.wal.segment-size=1048688")
                .run(context -> assertThat(context).hasNotFailed());
    }

    @Test
    void severalInvalidValuesShouldAllBeReported() {
        runner().withPropertyValues("laminar.storage.cores=0", "laminar.storage.checkpoint.retained=0")
                .run(context -> assertThat(analyze(context.getStartupFailure()).getDescription())
                        .contains("Property: laminar.storage.cores")
                        .contains("Property: laminar.storage.checkpoint.retained"));
    }

    @Test
    void unknownStoreTypeShouldFailNamingThePropertyAndTheValidValues() {
        runner().withPropertyValues("laminar.storage.checkpoint.store=ftp").run(context -> {
            assertThat(context).hasFailed();
            var analysis = analyze(context.getStartupFailure());
            assertThat(analysis.getDescription()).contains("laminar.storage.checkpoint.store").contains("ftp");
            assertThat(analysis.getAction()).contains("FILESYSTEM").contains("S3");
        });
    }

    @Test
    void unknownIoBackendShouldFailNamingThePropertyAndTheValidValues() {
        runner().withPropertyValues("laminar.storage.wal.io-backend=uring").run(context -> {
            assertThat(context).hasFailed();
            var analysis = analyze(context.getStartupFailure());
            assertThat(analysis.getDescription()).contains("laminar.storage.wal.io-backend").contains("uring");
            assertThat(analysis.getAction()).contains("file-channel").contains("direct").contains("direct-or-fallback")
                    .contains("io-uring").contains("io-uring-or-fallback");
        });
    }

    /** The starter's tests run on Java 17 without laminar-storage-io-uring. */
    @Test
    void ioUringWithoutJava22OrItsModuleShouldFailNamingThePropertyTheReasonAndTheFix() {
        runner().withPropertyValues("laminar.storage.wal.io-backend=io-uring").run(context -> {
            assertThat(context).hasFailed();
            assertThat(analyze(context.getStartupFailure()).getDescription())
                    .contains("Invalid value 'io-uring' for configuration property 'laminar.storage.wal.io-backend'")
                    .contains(Runtime.version().feature() < 22 ? "needs Java 22 or newer" : "no provider")
                    .contains("io.laminar:laminar-storage-io-uring")
                    .contains("'io-uring-or-fallback'").contains("'file-channel'");
        });
    }

    @Test
    void ioUringOrFallbackWithoutJava22OrItsModuleShouldStartWithFileChannel() {
        runner().withPropertyValues("laminar.storage.wal.io-backend=io-uring-or-fallback").run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(PerCoreWalManager.class).ioBackend(0)).isEqualTo(WalIoBackend.FILE_CHANNEL);
        });
    }

    @Test
    void directIoBackendOnAFileSystemThatRefusesODirectShouldFailNamingThePropertyTheReasonAndTheFix() {
        var io = FaultyFileIO.overSystem().refuseOpenOption(ExtendedOpenOption.DIRECT);
        runner().withPropertyValues("laminar.storage.wal.io-backend=direct")
                .withBean(PerCoreWalOptionsCustomizer.class, () -> builder -> builder.wal(w -> w.fileIO(io)))
                .run(context -> {
                    assertThat(context).hasFailed();
                    var analysis = analyze(context.getStartupFailure());
                    assertThat(analysis.getDescription())
                            .contains("Invalid value 'direct' for configuration property 'laminar.storage.wal.io-backend'")
                            .contains("refuses O_DIRECT")
                            .contains("'direct-or-fallback'").contains("'file-channel'");
                });
    }

    @Test
    void directIoBackendWithASegmentSizeNotAMultipleOfTheBlockSizeShouldFailNamingBothProperties() {
        runner().withPropertyValues("laminar.storage.wal.io-backend=direct", "laminar.storage.wal.segment-size=1048696B")
                .run(context -> {
                    assertThat(context).hasFailed();
                    assertThat(analyze(context.getStartupFailure()).getDescription())
                            .contains("Invalid value 'direct' for configuration property 'laminar.storage.wal.io-backend'")
                            .contains("segmentSize (1048696 bytes) is not a multiple of the file system's block size")
                            .contains("laminar.storage.wal.segment-size");
                });
    }

    @Test
    void directOrFallbackOnAFileSystemThatRefusesODirectShouldStartWithFileChannel() {
        var io = FaultyFileIO.overSystem().refuseOpenOption(ExtendedOpenOption.DIRECT);
        runner().withPropertyValues("laminar.storage.wal.io-backend=direct-or-fallback")
                .withBean(PerCoreWalOptionsCustomizer.class, () -> builder -> builder.wal(w -> w.fileIO(io)))
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context.getBean(PerCoreWalManager.class).ioBackend(0))
                            .isEqualTo(WalIoBackend.FILE_CHANNEL);
                });
    }

    @Test
    void unparsableDurationShouldFailNamingTheProperty() {
        runner().withPropertyValues("laminar.storage.checkpoint.interval=often").run(context -> {
            assertThat(context).hasFailed();
            assertThat(analyze(context.getStartupFailure()).getDescription())
                    .contains("Property: laminar.storage.checkpoint.interval").contains("often");
        });
    }

    @Test
    void applicationStartupShouldPrintTheFailureAnalysisWithThePropertyName(CapturedOutput output) {
        var application = new SpringApplicationBuilder(Application.class).web(WebApplicationType.NONE)
                .properties("laminar.storage.dir=" + this.dir, "laminar.storage.cores=0");
        assertThatException().isThrownBy(application::run);
        assertThat(output).contains("APPLICATION FAILED TO START")
                .contains("Property: laminar.storage.cores")
                .contains("Value: \"0\"")
                .contains("Reason: laminar.storage.cores must be at least 1, but was 0");
    }

    private static final FailureHandler IGNORE_ANALYZERS_OF_ABSENT_MODULES =
            FailureHandler.handleMessage((message, failure) -> { });

    /** What Spring Boot's failure analyzers make of a startup failure (the first that knows it). */
    static FailureAnalysis analyze(Throwable failure) {
        var arguments = ArgumentResolver.of(BeanFactory.class, new DefaultListableBeanFactory())
                .and(Environment.class, new StandardEnvironment());
        var analyzers = SpringFactoriesLoader.forDefaultResourceLocation(InvalidPropertiesTests.class.getClassLoader())
                .load(FailureAnalyzer.class, arguments, IGNORE_ANALYZERS_OF_ABSENT_MODULES);
        return analyzers.stream()
                .map(analyzer -> analyzer.analyze(failure))
                .filter(Objects::nonNull)
                .findFirst()
                .orElseThrow(() -> new AssertionError("no failure analyzer knows " + failure));
    }

    @Configuration(proxyBeanMethods = false)
    @ImportAutoConfiguration(LaminarStorageAutoConfiguration.class)
    static class Application {
    }
}

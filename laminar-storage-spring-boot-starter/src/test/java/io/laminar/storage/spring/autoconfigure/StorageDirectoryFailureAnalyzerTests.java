package io.laminar.storage.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatException;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * A {@code laminar.storage.dir} that cannot be used, or that another write-ahead log holds, fails
 * startup with a failure analysis that names the property, the path, the reason and the fix.
 */
@ExtendWith(OutputCaptureExtension.class)
class StorageDirectoryFailureAnalyzerTests {

    @TempDir
    Path tmp;

    private ApplicationContextRunner runner(Path dir, String... more) {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(LaminarStorageAutoConfiguration.class))
                .withPropertyValues(QuickStorage.properties(dir, more));
    }

    /** What the real failure analyzers make of the startup failure of a context with {@code dir}. */
    private FailureAnalysis analysis(Path dir, String... more) {
        var analysis = new FailureAnalysis[1];
        runner(dir, more).run(context -> {
            assertThat(context).hasFailed();
            analysis[0] = InvalidPropertiesTests.analyze(context.getStartupFailure());
        });
        return analysis[0];
    }

    @Test
    void aRegularFileAsTheDirectoryNamesThePropertyTheFileAndTheFix() throws IOException {
        var file = Files.writeString(this.tmp.resolve("data"), "not a directory");
        var analysis = analysis(file);
        assertThat(analysis.getDescription()).contains("Property: laminar.storage.dir", "Value: \"" + file + "\"",
                "Reason: " + file + " is a file, not a directory");
        assertThat(analysis.getAction()).contains("Move away " + file,
                "or set laminar.storage.dir to a directory this application can create and write to");
        assertThat(Files.readString(file)).isEqualTo("not a directory");
    }

    @Test
    void aDirectoryBelowARegularFileNamesTheFileInTheWay() throws IOException {
        var file = Files.writeString(this.tmp.resolve("plain"), "x");
        var dir = file.resolve("data");
        var analysis = analysis(dir);
        assertThat(analysis.getDescription()).contains("Property: laminar.storage.dir", "Value: \"" + dir + "\"",
                "Reason: " + file + " is a file, not a directory");
        assertThat(analysis.getAction()).contains("Move away " + file);
    }

    @Test
    void aRegularFileInTheWayOfTheWalAloneNamesTheProperty() throws IOException {
        // The checkpoints elsewhere: the write-ahead log is the one that fails.
        var file = Files.writeString(this.tmp.resolve("data"), "x");
        var analysis = analysis(file, "laminar.storage.checkpoint.filesystem.dir=" + this.tmp.resolve("checkpoints"));
        assertThat(analysis.getDescription()).contains("cannot use the directory " + file.resolve("wal"),
                "Property: laminar.storage.dir", "Reason: " + file + " is a file, not a directory");
        assertThat(analysis.getAction()).contains("Move away " + file);
    }

    @Test
    void anUnusableCheckpointDirectoryNamesItsOwnProperty() throws IOException {
        var file = Files.writeString(this.tmp.resolve("a-file"), "x");
        var analysis = analysis(this.tmp.resolve("data"), "laminar.storage.checkpoint.filesystem.dir=" + file);
        assertThat(analysis.getDescription()).contains("Property: laminar.storage.checkpoint.filesystem.dir",
                "Value: \"" + file + "\"", "Reason: " + file + " is a file, not a directory");
        assertThat(analysis.getAction()).contains("or set laminar.storage.checkpoint.filesystem.dir to a directory");
    }

    @Test
    void aReadOnlyDirectoryNamesThePermissionToGrant() throws IOException {
        var dir = Files.createDirectory(this.tmp.resolve("read-only"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            assumeFalse(Files.isWritable(dir), "permissions are not enforced for this user (root)");
            var analysis = analysis(dir);
            assertThat(analysis.getDescription()).contains("Property: laminar.storage.dir",
                    "Reason: this application may not write to " + dir);
            assertThat(analysis.getAction()).contains("Give the user running this application write permission on "
                    + dir, "or set laminar.storage.dir");
        } finally {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void aDirectoryWhoseWalAnotherManagerHoldsNamesTheLockFileAndTheFix() throws IOException {
        var dir = this.tmp.resolve("data");
        var options = PerCoreWalOptions.builder().cores(2).wal(w -> w.segmentSize(2 << 20)).build();
        try (var other = PerCoreWalManager.open(dir.resolve("wal"), options)) {
            var analysis = analysis(dir);
            assertThat(analysis.getDescription()).contains("cannot use the directory " + dir.resolve("wal"),
                    "Property: laminar.storage.dir", "Value: \"" + dir + "\"",
                    "Reason: its write-ahead log is already open: the lock file " + dir.resolve("wal").resolve(
                            "core-0001.lock") + " is held");
            assertThat(analysis.getAction()).contains("Stop the other application that uses " + dir,
                    "or set laminar.storage.dir to a directory that only this application uses");
        }
    }

    @Test
    void applicationStartupPrintsTheAnalysis(CapturedOutput output) throws IOException {
        var dir = this.tmp.resolve("data");
        var options = PerCoreWalOptions.builder().cores(2).wal(w -> w.segmentSize(2 << 20)).build();
        try (var other = PerCoreWalManager.open(dir.resolve("wal"), options)) {
            var application = new SpringApplicationBuilder(InvalidPropertiesTests.Application.class)
                    .web(WebApplicationType.NONE).properties(QuickStorage.properties(dir));
            assertThatException().isThrownBy(application::run);
        }
        assertThat(output).contains("APPLICATION FAILED TO START", "Property: laminar.storage.dir",
                "Stop the other application that uses " + dir);
    }
}

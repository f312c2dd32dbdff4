package io.laminar.storage.test;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.runtime.LaminarRuntime;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * What the test classes that use {@link AutoConfigureLaminarStorage} with different properties saw,
 * in one JVM: the TestContext framework keeps each of their contexts open (cached) while the next
 * class runs, so their directories must differ and stay usable.
 */
final class OpenContexts {

    /** The quick start's {@code laminar.storage.dir}, which the annotation replaces. */
    static final Path QUICK_START_DIR = Path.of("/var/lib/orders");

    /** Test class name to the data directory of its context. */
    static final Map<String, Path> DIRECTORIES = new ConcurrentHashMap<>();

    private OpenContexts() {
    }

    /** Checks {@code runtime} in {@code directory} for {@code testClass}, against every context seen before. */
    static void check(Class<?> testClass, LaminarRuntime runtime, TemporaryDataDirectory directory, int cores)
            throws Exception {
        var dir = directory.path();
        assertThat(dir.getFileName().toString()).startsWith("laminar-storage-test-");
        assertThat(dir).isNotEqualTo(QUICK_START_DIR);
        assertThat(runtime.wal().directory()).isEqualTo(dir.resolve("wal"));
        assertThat(runtime.cores()).isEqualTo(cores);
        assertThat(dir.resolve("wal/core-0000.lock")).exists();
        var key = testClass.getSimpleName().getBytes(StandardCharsets.UTF_8);
        runtime.submitDurable(runtime.coreOf(key), c -> {
            c.store().put(key, key);
            return null;
        }).get(10, TimeUnit.SECONDS);

        // Every other class's context is still open (cached), in a directory of its own.
        DIRECTORIES.forEach((other, otherDir) -> {
            if (!other.equals(testClass.getName())) {
                assertThat(otherDir).as(other).isNotEqualTo(dir);
                assertThat(otherDir.resolve("wal/core-0000.lock")).as(other + "'s lock").exists();
            }
        });
        DIRECTORIES.put(testClass.getName(), dir);
        assertThat(Files.isDirectory(QUICK_START_DIR)).as("the shared directory is never used")
                .isFalse();
    }
}

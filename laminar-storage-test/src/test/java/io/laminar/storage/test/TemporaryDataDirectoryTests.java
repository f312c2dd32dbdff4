package io.laminar.storage.test;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.util.unit.DataSize;

/**
 * The customizer behind {@link AutoConfigureLaminarStorage}, on contexts started by hand: a new
 * directory per context, deleted after the storage closed (its final checkpoint included).
 */
class TemporaryDataDirectoryTests {

    private static ConfigurableApplicationContext start(boolean keep, String... properties) {
        return new SpringApplicationBuilder(LaminarStorageTestApplication.class).web(WebApplicationType.NONE)
                .properties("spring.main.banner-mode=off")
                .properties(properties)
                .initializers(context -> new LaminarStorageTestContextCustomizer("2MB", keep)
                        .customizeContext(context, null))
                .run();
    }

    @Test
    void eachContextGetsItsOwnDirectoryWhichIsDeletedAfterTheFinalCheckpoint() throws Exception {
        var first = start(false, "laminar.storage.checkpoint.final-on-shutdown=true");
        var second = start(false);
        var firstDir = first.getBean(TemporaryDataDirectory.class).path();
        var secondDir = second.getBean(TemporaryDataDirectory.class).path();
        assertThat(firstDir).isNotEqualTo(secondDir);
        assertThat(first.getBean(LaminarRuntime.class).wal().options().wal().segmentSize())
                .isEqualTo(DataSize.ofMegabytes(2).toBytes());
        var runtime = first.getBean(LaminarRuntime.class);
        var store = (FileSystemCheckpointStore) runtime.store();
        var key = "k".getBytes(StandardCharsets.UTF_8);
        runtime.submitDurable(0, c -> {
            c.store().put(key, key);
            return null;
        }).get(10, TimeUnit.SECONDS);

        first.close();
        assertThat(runtime.isRunning()).isFalse();
        assertThat(store.root()).doesNotExist();
        assertThat(firstDir).doesNotExist();
        assertThat(secondDir.resolve("wal")).isDirectory();
        second.close();
        assertThat(secondDir).doesNotExist();
    }

    @Test
    void keepLeavesTheDirectoryToLookAt() throws Exception {
        var context = start(true);
        var dir = context.getBean(TemporaryDataDirectory.class).path();
        context.close();
        try {
            assertThat(dir.resolve("wal")).isDirectory();
            assertThat(dir.resolve("checkpoints/manifests")).isDirectory();
        } finally {
            new TemporaryDataDirectory(dir, false).destroy();
        }
        assertThat(dir).doesNotExist();
    }

    @Test
    void theFactoryCustomizesOnlyAnnotatedTestsAndEqualAnnotationsShareAContext() {
        var factory = new LaminarStorageTestContextCustomizerFactory();
        assertThat(factory.createContextCustomizer(Plain.class, List.of())).isNull();
        var annotated = factory.createContextCustomizer(Annotated.class, List.of());
        assertThat(annotated).isNotNull().isEqualTo(factory.createContextCustomizer(Inheriting.class, List.of()))
                .hasSameHashCodeAs(factory.createContextCustomizer(Inheriting.class, List.of()))
                .isNotEqualTo(factory.createContextCustomizer(Kept.class, List.of()));
    }

    @Test
    void theFactoryIsRegisteredForTheTestContextFramework() throws Exception {
        var factories = new String(LaminarStorageTestContextCustomizerFactory.class.getClassLoader()
                .getResourceAsStream("META-INF/spring.factories").readAllBytes(), StandardCharsets.UTF_8);
        assertThat(factories).contains("org.springframework.test.context.ContextCustomizerFactory")
                .contains(LaminarStorageTestContextCustomizerFactory.class.getName());
        assertThat(Files.exists(OpenContexts.QUICK_START_DIR)).isFalse();
    }

    static class Plain {
    }

    @AutoConfigureLaminarStorage
    static class Annotated {
    }

    static class Inheriting extends Annotated {
    }

    @AutoConfigureLaminarStorage(keep = true)
    static class Kept {
    }
}

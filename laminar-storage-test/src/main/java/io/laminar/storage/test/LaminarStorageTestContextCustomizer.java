package io.laminar.storage.test;

import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.CheckpointStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Objects;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.beans.factory.support.BeanDefinitionRegistry;
import org.springframework.beans.factory.support.RootBeanDefinition;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.core.env.MapPropertySource;
import org.springframework.test.context.ContextCustomizer;
import org.springframework.test.context.MergedContextConfiguration;

/**
 * Creates a temporary data directory for each application context it customizes, puts it first in
 * the environment as {@code laminar.storage.dir} (with the test's segment size), and registers a {@link TemporaryDataDirectory} bean
 * that deletes it when the context closes. Every bean of the storage (the WAL, the checkpoint store,
 * the runtime) is made to depend on that bean, so Spring destroys them, closing the logs and taking
 * the final checkpoint, before the directory is deleted.
 *
 * <p>Equal for equal annotation attributes, which is what the context cache needs: the customizer
 * is part of the cache key, the directory is not (a new one is made for each context).
 */
final class LaminarStorageTestContextCustomizer implements ContextCustomizer {

    /** The name of the bean that owns a context's directory. */
    static final String BEAN_NAME = "laminarStorageTestDirectory";
    static final String PROPERTY_SOURCE = "laminarStorageTest";

    private final String segmentSize;
    private final boolean keep;

    LaminarStorageTestContextCustomizer(String segmentSize, boolean keep) {
        this.segmentSize = Objects.requireNonNull(segmentSize, "segmentSize");
        this.keep = keep;
    }

    @Override
    public void customizeContext(ConfigurableApplicationContext context, MergedContextConfiguration mergedConfig) {
        java.nio.file.Path directory;
        try {
            directory = Files.createTempDirectory("laminar-storage-test-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary laminar.storage.dir", e);
        }
        var properties = new java.util.HashMap<String, Object>();
        properties.put("laminar.storage.dir", directory.toString());
        if (!this.segmentSize.isEmpty()) {
            properties.put("laminar.storage.wal.segment-size", this.segmentSize);
        }
        context.getEnvironment().getPropertySources().addFirst(new MapPropertySource(PROPERTY_SOURCE, properties));
        var owner = new TemporaryDataDirectory(directory, this.keep);
        if (!(context instanceof BeanDefinitionRegistry registry)) {
            throw new IllegalStateException("@AutoConfigureLaminarStorage needs a context that takes bean definitions, "
                    + "but got " + context.getClass().getName());
        }
        var definition = new RootBeanDefinition(TemporaryDataDirectory.class, () -> owner);
        registry.registerBeanDefinition(BEAN_NAME, definition);
        context.addBeanFactoryPostProcessor(LaminarStorageTestContextCustomizer::destroyStorageBeforeDirectory);
    }

    /** Makes the storage's beans depend on the directory's owner: destroyed first, so closed before it is deleted. */
    private static void destroyStorageBeforeDirectory(ConfigurableListableBeanFactory beanFactory) {
        for (var type : new Class<?>[] {PerCoreWalManager.class, CheckpointStore.class, LaminarRuntime.class}) {
            for (var name : beanFactory.getBeanNamesForType(type, true, false)) {
                if (!beanFactory.containsBeanDefinition(name)) {
                    continue; // a singleton registered as an instance: not destroyed by the context anyway
                }
                var definition = beanFactory.getBeanDefinition(name);
                var dependsOn = new LinkedHashSet<String>();
                if (definition.getDependsOn() != null) {
                    dependsOn.addAll(Arrays.asList(definition.getDependsOn()));
                }
                dependsOn.add(BEAN_NAME);
                definition.setDependsOn(dependsOn.toArray(String[]::new));
            }
        }
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof LaminarStorageTestContextCustomizer that && this.keep == that.keep
                && this.segmentSize.equals(that.segmentSize);
    }

    @Override
    public int hashCode() {
        return Objects.hash(this.segmentSize, this.keep);
    }
}

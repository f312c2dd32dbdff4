package io.laminar.storage.test;

import java.util.List;
import org.springframework.test.context.ContextConfigurationAttributes;
import org.springframework.test.context.ContextCustomizer;
import org.springframework.test.context.ContextCustomizerFactory;
import org.springframework.test.context.TestContextAnnotationUtils;

/**
 * Finds {@link AutoConfigureLaminarStorage} on a test class (or an enclosing or super class) and
 * customizes its application context with a temporary data directory. Registered in
 * {@code META-INF/spring.factories}.
 */
public final class LaminarStorageTestContextCustomizerFactory implements ContextCustomizerFactory {

    @Override
    public ContextCustomizer createContextCustomizer(Class<?> testClass,
                                                     List<ContextConfigurationAttributes> configAttributes) {
        var annotation = TestContextAnnotationUtils.findMergedAnnotation(testClass, AutoConfigureLaminarStorage.class);
        return annotation == null ? null
                : new LaminarStorageTestContextCustomizer(annotation.segmentSize(), annotation.keep());
    }
}

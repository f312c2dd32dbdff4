package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.spring.autoconfigure.LaminarStorageProperties.StoreType;
import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.springframework.context.annotation.Conditional;

/**
 * Matches when {@code laminar.storage.checkpoint.store} is the given type ({@code filesystem} when
 * it is not set). The property is bound like the properties class binds it, so every spelling the
 * binder accepts ({@code s3}, {@code S3}, {@code file-system}...) selects the same configuration.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@Documented
@Conditional(OnCheckpointStoreTypeCondition.class)
@interface ConditionalOnCheckpointStoreType {

    /** The store type that matches. */
    StoreType value();
}

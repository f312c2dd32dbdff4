package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.spring.autoconfigure.LaminarStorageProperties.StoreType;
import org.springframework.boot.autoconfigure.condition.ConditionMessage;
import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * The condition of {@link ConditionalOnCheckpointStoreType}. A value that is not a store type fails
 * here with the binder's error, which names the property and lists the valid values.
 */
class OnCheckpointStoreTypeCondition extends SpringBootCondition {

    static final String PROPERTY = LaminarStorageProperties.PREFIX + ".checkpoint.store";

    @Override
    public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
        var attributes = metadata.getAnnotationAttributes(ConditionalOnCheckpointStoreType.class.getName());
        var required = (StoreType) attributes.get("value");
        var configured = Binder.get(context.getEnvironment())
                .bind(PROPERTY, StoreType.class)
                .orElse(StoreType.FILESYSTEM);
        var message = ConditionMessage.forCondition(ConditionalOnCheckpointStoreType.class, required);
        return (configured == required)
                ? ConditionOutcome.match(message.because(PROPERTY + " is " + configured))
                : ConditionOutcome.noMatch(message.because(PROPERTY + " is " + configured));
    }
}

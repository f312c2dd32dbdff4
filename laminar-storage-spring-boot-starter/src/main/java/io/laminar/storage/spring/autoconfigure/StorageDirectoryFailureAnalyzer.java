package io.laminar.storage.spring.autoconfigure;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;

/**
 * Shows a {@link StorageDirectoryException} at startup as Spring Boot shows an invalid property:
 * the property, its value and the reason, then what to do, instead of a long stack trace.
 */
class StorageDirectoryFailureAnalyzer extends AbstractFailureAnalyzer<StorageDirectoryException> {

    @Override
    protected FailureAnalysis analyze(Throwable rootFailure, StorageDirectoryException cause) {
        var description = "Laminar storage cannot use the directory " + cause.directory() + ":\n\n"
                + "    Property: " + cause.property() + "\n"
                + "    Value: \"" + cause.value() + "\"\n"
                + "    Reason: " + cause.reason() + "\n";
        return new FailureAnalysis(description, cause.action(), cause);
    }
}

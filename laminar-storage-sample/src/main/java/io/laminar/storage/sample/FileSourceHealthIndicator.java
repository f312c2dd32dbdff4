package io.laminar.storage.sample;

import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.stereotype.Component;

/**
 * The file source in {@code /actuator/health} (component {@code fileSource}): DOWN once the source
 * stopped on an error (a truncated or unreadable file), with the error; UP otherwise, with where
 * it stands. Thread-safe.
 */
@Component("fileSource")
final class FileSourceHealthIndicator implements HealthIndicator {

    private final FileEventSource source;

    FileSourceHealthIndicator(FileEventSource source) {
        this.source = source;
    }

    @Override
    public Health health() {
        var status = source.status();
        if (!status.enabled()) {
            return Health.up().withDetail("enabled", false).build();
        }
        var health = status.error() == null ? Health.up() : Health.down().withDetail("error", status.error());
        return health.withDetail("file", status.file()).withDetail("resumedFrom", status.resumedFrom())
                .withDetail("offset", status.offset()).withDetail("linesApplied", status.linesApplied())
                .withDetail("linesRejected", status.linesRejected()).build();
    }
}

package io.laminar.storage.spring.autoconfigure;

import java.nio.file.Path;
import java.util.stream.Stream;

/** Properties for a storage that starts quickly in a test: two cores, small segments, no periodic checkpoints. */
public final class QuickStorage {

    private QuickStorage() {
    }

    /** The properties of such a storage in {@code dir}, followed by {@code more}. */
    public static String[] properties(Path dir, String... more) {
        return Stream.concat(Stream.of("laminar.storage.dir=" + dir, "laminar.storage.cores=2",
                "laminar.storage.wal.segment-size=2MB", "laminar.storage.checkpoint.interval=0"), Stream.of(more))
                .toArray(String[]::new);
    }
}

package io.laminar.storage.cli;

import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/**
 * The common setup of the ITs: once per test class, the real runtime writes {@link #data} (a
 * {@code laminar.storage.dir} with {@code wal/} and {@code checkpoints/}): three rounds of 40 keys,
 * a checkpoint after each of the first two, so the WAL holds a round after the last checkpoint.
 * Runs before the subclass's own {@code @BeforeAll} methods.
 */
abstract class RuntimeDataIT {

    @TempDir
    static Path shared;
    static Path data;
    /** The checkpoints in {@code data/checkpoints}, oldest first. */
    static List<Long> ids;

    @TempDir
    Path temp;

    @BeforeAll
    static void produceData() throws Exception {
        data = shared.resolve("data");
        RuntimeData.run(data, 3, 2, 40);
        try (var store = FileSystemCheckpointStore.openReadOnly(data.resolve("checkpoints"))) {
            ids = store.listCheckpoints();
        }
    }
}

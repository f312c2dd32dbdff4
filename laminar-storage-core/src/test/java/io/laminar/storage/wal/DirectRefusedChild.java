package io.laminar.storage.wal;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.TimeUnit;

/**
 * The child JVM of {@link DirectRefusedByRamfsTest}, started in a mount namespace of its own where
 * {@code args[0]} is a ramfs, which refuses O_DIRECT (EINVAL at open). Prints on stdout
 * {@code REFUSED <message>} for the open with {@code direct} (or {@code OPENED <backend>} if the file
 * system took O_DIRECT after all), then for each of two logs opened with {@code direct-or-fallback}
 * {@code BACKEND <name> <backend>} and {@code ACK <name> <records>} once its records are durable, and
 * copies the log's files to {@code args[1]} (outside the ramfs, which ends with the namespace) before
 * printing {@code COPIED}. The WARN goes to stderr.
 */
public final class DirectRefusedChild {

    public static final int RECORDS = 200;

    private DirectRefusedChild() {
    }

    public static void main(String[] args) throws Exception {
        var dir = Path.of(args[0]);
        var copy = Path.of(args[1]);
        openRefusedThenFallback(dir, WalIoBackend.DIRECT, WalIoBackend.DIRECT_OR_FALLBACK);
        try (var files = Files.list(dir)) {
            for (var file : files.toList()) {
                Files.copy(file, copy.resolve(file.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        System.out.println("COPIED");
        System.out.flush();
        System.exit(0);
    }

    /**
     * Opens a log in {@code dir} with {@code strict} (prints {@code OPENED <backend>} or
     * {@code REFUSED <message>}), then logs core-0000 and core-0001 with {@code fallback}, each
     * acknowledging {@link #RECORDS} durable records (prints {@code BACKEND <name> <backend>} and
     * {@code ACK <name> <RECORDS>}). Shared by the children of the backend refusal tests.
     */
    public static void openRefusedThenFallback(Path dir, WalIoBackend strict, WalIoBackend fallback) throws Exception {
        try (var wal = WriteAheadLog.open(dir, options(strict, "core-0000"))) {
            System.out.println("OPENED " + wal.ioBackend());
        } catch (WalIoBackendUnavailableException e) {
            System.out.println("REFUSED " + e.getMessage().replace('\n', ' '));
        }
        for (var name : new String[] {"core-0000", "core-0001"}) {
            try (var wal = WriteAheadLog.open(dir, options(fallback, name))) {
                System.out.println("BACKEND " + name + " " + wal.ioBackend());
                for (int i = 0; i < RECORDS; i++) {
                    wal.appendDurable(record(name, i)).get(30, TimeUnit.SECONDS);
                }
                System.out.println("ACK " + name + " " + RECORDS);
            }
        }
    }

    public static WalOptions options(WalIoBackend backend, String name) {
        return WalOptions.builder().name(name).ioBackend(backend).segmentSize(1 << 20).maxRecordSize(4096)
                .syncPolicy(SyncPolicy.everyAppend()).build();
    }

    public static byte[] record(String name, int i) {
        return (name + " record " + i).getBytes(StandardCharsets.UTF_8);
    }
}

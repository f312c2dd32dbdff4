package io.laminar.storage.cli;

import io.laminar.storage.percore.CoreRecord;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalView;
import io.laminar.storage.wal.WalInspection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The logs of a WAL directory, looked at read-only through {@link WalInspection} (the library's
 * own classification): no lock is taken and nothing is changed.
 */
final class WalDirectory {

    /** One log of the directory: its name, its core (-1 if the name is no core's) and the inspection. */
    record Log(String name, int core, WalInspection inspection) {

        /** A record of this log decoded as the core's entry, or null (with why) if it is not one. */
        Decoded decode(io.laminar.storage.wal.WalRecord record) {
            if (core < 0) {
                return new Decoded(null, "not a per-core log");
            }
            try {
                return new Decoded(PerCoreWalManager.decodeRecord(core, record), null);
            } catch (IllegalArgumentException e) {
                return new Decoded(null, e.getMessage());
            }
        }
    }

    record Decoded(CoreRecord record, String problem) {
    }

    private WalDirectory() {
    }

    /**
     * The logs in {@code dir}, inspected. A directory whose {@code wal} subdirectory holds the logs
     * (a {@code laminar.storage.dir}) is accepted too.
     */
    static Path resolve(Path dir) {
        if (!Files.exists(dir)) {
            throw new CliException("no such directory: " + dir);
        }
        if (!Files.isDirectory(dir)) {
            throw new CliException(dir + " is a file, not a WAL directory");
        }
        if (names(dir).isEmpty() && Files.isDirectory(dir.resolve("wal")) && !names(dir.resolve("wal")).isEmpty()) {
            return dir.resolve("wal");
        }
        if (names(dir).isEmpty()) {
            throw new CliException(dir + " is not a laminar WAL directory: it holds no WAL segment "
                    + "(core-NNNN-<position>.wal) and no lock file.\nPoint at the WAL directory, e.g. <laminar.storage.dir>/wal.");
        }
        return dir;
    }

    private static boolean hasSegment(Path dir, String name) throws IOException {
        try (var files = Files.newDirectoryStream(dir, name + "-*.wal")) {
            for (var file : files) {
                if (io.laminar.storage.wal.WalFileNames.segmentBase(name, file.getFileName().toString()) >= 0) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * The per-core WAL in {@code dir} as recovery would read it, read-only ({@link PerCoreWalView#inspect}):
     * no lock, no repair. A directory that holds no log yet (a new machine's) is {@code cores} empty
     * logs, as opening it would create them.
     *
     * @throws io.laminar.storage.StorageException if a log holds corruption on which open would fail
     */
    static PerCoreWalView view(Path dir, java.util.function.IntSupplier cores) {
        if (!Files.isDirectory(dir)) {
            throw new CliException(Files.exists(dir) ? dir + " is a file, not a WAL directory" : "no such directory: " + dir);
        }
        var resolved = dir;
        if (names(dir).isEmpty() && Files.isDirectory(dir.resolve("wal"))) {
            resolved = dir.resolve("wal");
        }
        if (names(resolved).isEmpty()) {
            return PerCoreWalView.empty(cores.getAsInt());
        }
        return PerCoreWalView.inspect(resolved);
    }

    static List<Log> open(Path dir, Integer onlyCore) {
        var resolved = resolve(dir);
        var logs = new ArrayList<Log>();
        for (var name : names(resolved)) {
            int core = PerCoreWalManager.coreOfLog(name);
            if (onlyCore != null && core != onlyCore) {
                continue;
            }
            logs.add(new Log(name, core, WalInspection.of(resolved, name)));
        }
        if (onlyCore != null && logs.isEmpty()) {
            throw new CliException("the WAL directory " + resolved + " holds no log of core " + onlyCore);
        }
        return logs;
    }

    /** The logs of {@code dir} that are a core's or have a segment (a stray lock file is no log). */
    private static List<String> names(Path dir) {
        try {
            var names = new ArrayList<String>();
            for (var name : WalInspection.logNames(dir)) {
                if (PerCoreWalManager.coreOfLog(name) >= 0 || hasSegment(dir, name)) {
                    names.add(name);
                }
            }
            return names;
        } catch (IOException e) {
            throw new CliException("cannot read the WAL directory " + dir + ": " + LaminarCli.message(e), e);
        }
    }
}

package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.wal.WalLockedException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A directory that a {@code laminar.storage} property points at cannot be used: the auto-configured
 * write-ahead log or file-system checkpoint store cannot be opened in it. Names the property, its
 * value, the reason and what to do; {@link StorageDirectoryFailureAnalyzer} shows them at startup.
 */
final class StorageDirectoryException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private static final String DIR = LaminarStorageProperties.PREFIX + ".dir";

    private final String property;
    private final transient Path value;
    private final transient Path directory;
    private final String reason;
    private final String action;

    private StorageDirectoryException(String property, Path value, Path directory, String reason, String action,
                                      Throwable cause) {
        super("Cannot use the directory " + directory + " (" + property + "=" + value + "): " + reason + ". "
                + action, cause);
        this.property = property;
        this.value = value;
        this.directory = directory;
        this.reason = reason;
        this.action = action;
    }

    /**
     * {@code directory}, which {@code property} set to {@code value} makes, cannot be created or
     * written to, as {@code cause} says.
     */
    static StorageDirectoryException unusable(String property, Path value, Path directory, Throwable cause) {
        String reason;
        String fix;
        var existing = nearestExisting(directory);
        var denied = accessDenied(cause);
        if (existing != null && !Files.isDirectory(existing)) {
            reason = existing + " is a file, not a directory";
            fix = "Move away " + existing;
        } else if (denied != null) {
            reason = "this application may not write to " + denied;
            fix = "Give the user running this application write permission on " + denied;
        } else {
            reason = cause.getMessage();
            fix = "Check that " + directory + " is on a mounted, writable file system";
        }
        return new StorageDirectoryException(property, value, directory, reason,
                fix + ", or set " + property + " to a directory this application can create and write to", cause);
    }

    /** The write-ahead log in {@code laminar.storage.dir}, set to {@code value}, is open elsewhere. */
    static StorageDirectoryException locked(Path value, WalLockedException cause) {
        return new StorageDirectoryException(DIR, value, cause.lockFile().getParent(),
                "its write-ahead log is already open: the lock file " + cause.lockFile() + " is held by another "
                        + "process, or by another PerCoreWalManager in this one",
                "Stop the other application that uses " + value + ", or set " + DIR + " to a directory that only "
                        + "this application uses: two applications must never write to the same write-ahead log",
                cause);
    }

    /** The path itself or its nearest ancestor that exists: the one to fix. */
    private static Path nearestExisting(Path path) {
        for (var p = path.toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.exists(p)) {
                return p;
            }
        }
        return null;
    }

    /** What permission is missing on, if the file system denied access anywhere in the causes. */
    private static Path accessDenied(Throwable cause) {
        for (var t = cause; t != null; t = t.getCause()) {
            if (t instanceof AccessDeniedException denied && denied.getFile() != null) {
                return nearestExisting(Path.of(denied.getFile()));
            }
        }
        return null;
    }

    /** The property that points at the directory. */
    String property() {
        return this.property;
    }

    /** The property's value. */
    Path value() {
        return this.value;
    }

    /** The directory that cannot be used: the value, or the subdirectory of it the storage needs. */
    Path directory() {
        return this.directory;
    }

    /** Why it cannot be used. */
    String reason() {
        return this.reason;
    }

    /** What the user can do. */
    String action() {
        return this.action;
    }
}

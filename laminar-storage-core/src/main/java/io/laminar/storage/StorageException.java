package io.laminar.storage;

/**
 * Base of the unchecked exceptions that laminar-storage throws at its API boundary.
 *
 * <p>Inside the I/O layer the library works with checked {@link java.io.IOException}s; where an
 * operation crosses into user code, they are wrapped in a subclass of this type whose message names
 * the file, the offset or the setting involved and says what the user can do.
 */
public class StorageException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public StorageException(String message) {
        super(message);
    }

    public StorageException(String message, Throwable cause) {
        super(message, cause);
    }
}

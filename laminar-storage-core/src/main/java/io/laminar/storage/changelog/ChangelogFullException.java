package io.laminar.storage.changelog;

import io.laminar.storage.StorageException;

/** A change was refused because its core's changelog queue was full and the policy is {@link OverflowPolicy#FAIL}. */
public class ChangelogFullException extends StorageException {

    private static final long serialVersionUID = 1L;

    public ChangelogFullException(String message) {
        super(message);
    }
}

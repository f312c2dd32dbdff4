package io.laminar.storage.store;

import io.laminar.storage.StorageException;

/** A manifest with this id was already published (by this or another writer): the later publish lost. */
public class CheckpointConflictException extends StorageException {

    private static final long serialVersionUID = 1L;

    public CheckpointConflictException(String message) {
        super(message);
    }
}

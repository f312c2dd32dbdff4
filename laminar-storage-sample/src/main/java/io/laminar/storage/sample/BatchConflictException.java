package io.laminar.storage.sample;

/** A batch reuses the id of another batch with other events (answered with HTTP 409). */
final class BatchConflictException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    BatchConflictException(String message) {
        super(message);
    }
}

package io.laminar.storage.checkpoint;

import java.io.IOException;

/** The cause of a failed task of a checkpoint or restore pool, rethrown as what it is. Stateless. */
final class Causes {

    private Causes() {
    }

    /**
     * Throws {@code cause} itself if it is unchecked (a {@link RuntimeException} or an {@link Error});
     * otherwise returns it as an {@link IOException} (itself, or wrapping it) for the caller to throw.
     */
    static IOException asIOException(Throwable cause) {
        if (cause instanceof IOException io) {
            return io;
        }
        if (cause instanceof RuntimeException re) {
            throw re;
        }
        if (cause instanceof Error error) {
            throw error;
        }
        return new IOException(cause);
    }
}

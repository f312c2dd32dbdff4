package io.laminar.storage.percore;

import io.laminar.storage.StorageException;
import java.util.List;

/**
 * {@link EpochCoordinator#prepareCheckpoint} gave up: some cores did not write their barrier,
 * or did not make it durable, in time. Nothing was half-done: no cut was returned, and the next
 * attempt advances the epoch again; barriers some cores already wrote are harmless markers.
 */
public final class CheckpointTimeoutException extends StorageException {

    private static final long serialVersionUID = 1L;

    private final long epoch;
    private final List<Integer> cores;

    CheckpointTimeoutException(String message, long epoch, List<Integer> cores) {
        super(message);
        this.epoch = epoch;
        this.cores = List.copyOf(cores);
    }

    /** The epoch whose barriers were awaited. */
    public long epoch() {
        return epoch;
    }

    /** The cores that did not answer. */
    public List<Integer> cores() {
        return cores;
    }
}

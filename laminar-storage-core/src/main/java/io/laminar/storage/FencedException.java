package io.laminar.storage;

/**
 * Another owner has taken over this shard: its replicator (Kafka's producer fencing) or its
 * checkpoint store (a newer owner epoch, {@code CheckpointStore#claimOwnership}) fenced this one,
 * so nothing this process writes from now on may count. The runtime that hears it fails for
 * good (its health is DOWN with this reason) and acknowledges nothing more; stop the process. The
 * new owner holds every change this one acknowledged.
 */
public class FencedException extends StorageException {

    private static final long serialVersionUID = 1L;

    public FencedException(String message) {
        super(message);
    }

    public FencedException(String message, Throwable cause) {
        super(message, cause);
    }
}

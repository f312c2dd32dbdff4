package io.laminar.storage.replication;

import io.laminar.storage.StorageException;

/**
 * A durable change was fsynced locally but its replica was not acknowledged within the
 * replicator's {@link ChangeReplicator#ackTimeout()}: the durable future fails with this instead
 * of completing on the local fsync alone. The outcome of the change is unknown, as after any
 * timeout: the replicator keeps retrying it in order (a later change is never replicated without
 * it), so once the replicas answer again it may still become durable. The caller may retry the
 * task (its changes should be idempotent) or report the failure.
 */
public class ReplicationTimeoutException extends StorageException {

    private static final long serialVersionUID = 1L;

    public ReplicationTimeoutException(String message) {
        super(message);
    }
}

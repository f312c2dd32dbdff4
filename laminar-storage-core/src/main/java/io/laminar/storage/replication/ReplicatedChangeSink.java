package io.laminar.storage.replication;

import java.nio.ByteBuffer;
import java.util.function.Predicate;

/**
 * Where {@link ChangeReplicator#restore} delivers the replicated changes of a shard, in an order
 * that gives every key its last value: the changes of one key in the order they were made.
 * Implemented by the runtime; called on the thread that runs the restore.
 */
public interface ReplicatedChangeSink {

    /**
     * One change made on core {@code core} of the old owner.
     *
     * @param change a {@link io.laminar.storage.state.StateChangeFormat} put or delete, from its
     *               position to its limit; valid only during the call
     */
    void change(int core, ByteBuffer change);

    /**
     * A clear of core {@code core}'s store, restricted to the keys {@code scope} accepts: a
     * replicator that spreads one core's keys over several streams delivers one scoped clear per
     * stream, each at its place among that stream's changes.
     */
    void clear(int core, Predicate<byte[]> scope);
}

package io.laminar.storage.replication;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Copies every durable change of a shard to a replicated log (Kafka in {@code laminar-storage-kafka})
 * so that another machine can take the shard over, and fences the previous owner when it does.
 * With a replicator, the runtime acknowledges a durable change only once it is fdatasync'd in the
 * local WAL <em>and</em> {@link #replicatedSequence} covers it.
 *
 * <h2>The calls, in order</h2>
 * <ol>
 *   <li>{@link #open(int)} at the start of the runtime, before recovery: checks the replicated log
 *       and fences every earlier owner (after it returns, nothing an earlier owner sends counts).</li>
 *   <li>{@link #restore} at a takeover (an empty data directory), after the checkpoint is restored:
 *       every change replicated after that checkpoint's {@link #positions()} (into the checkpoint's
 *       number of cores, even when the new owner has another and rescales).</li>
 *   <li>From then on, on the changelog drainer thread: {@link #append} for each data record written
 *       to a core's WAL, and {@link #endBatch()} after each drain pass. The batches are acknowledged
 *       in order ({@link #replicatedSequence}): a batch that cannot be replicated is retried, never
 *       skipped, so what a takeover reads of each core is a prefix of what its WAL holds, holding
 *       every acknowledged change and perhaps some later ones, as a local recovery would.</li>
 *   <li>{@link #positions()} right before each checkpoint's cut (stored in the manifest's
 *       {@link #SOURCE_NAME} source entry) and {@link #truncateBefore} once the oldest retained
 *       checkpoint has moved on.</li>
 * </ol>
 *
 * <p>Thread-safety: {@link #append} and {@link #endBatch()} belong to one thread (the drainer);
 * every other method may be called from any thread.
 */
public interface ChangeReplicator extends AutoCloseable {

    /**
     * The name of the reserved entry in a manifest's {@code sources} whose offsets are this
     * replicator's {@link #positions()} at the checkpoint's cut. No connector may use it.
     */
    String SOURCE_NAME = "laminar.replication";

    /**
     * Prepares to replicate a shard of {@code cores} cores: checks (or creates) the replicated log
     * and fences every earlier owner of the shard.
     *
     * @throws io.laminar.storage.StorageException with what is wrong and what to do, if the log
     *                                             cannot be used (unreachable, misconfigured)
     */
    void open(int cores);

    /**
     * Delivers to {@code sink} every change replicated after {@code from} (positions a previous
     * {@link #positions()} returned; empty: from the beginning) that is not already in the
     * checkpoint of epoch {@code checkpointEpoch} (-1: no checkpoint), each exactly once and each
     * core's changes in order: per core a prefix of what its WAL held, which includes every change
     * the previous owner saw acknowledged ({@link #replicatedSequence}).
     *
     * <p>{@code cores} is the number of cores the shard had when it wrote those changes: the
     * checkpoint's (a rescale publishes a checkpoint at the log's end, so every change after a
     * checkpoint was written with that checkpoint's number of cores), which may differ from the
     * {@link #open(int)} count of this replicator when the new owner rescales. The sink's core
     * numbers are that writer's, and a clear covers that writer's core's keys (of one stream).
     *
     * @return how many changes were delivered
     * @throws io.laminar.storage.StorageException naming the stream and offsets if the log no longer
     *                                             holds all of them (retention ran ahead), cannot be
     *                                             read, or holds a change written with another number
     *                                             of cores than {@code cores}; the sink may then have
     *                                             seen some changes
     */
    long restore(Map<String, String> from, long checkpointEpoch, int cores, ReplicatedChangeSink sink);

    /**
     * Drainer thread: the data record {@code sequence} of core {@code core}, written to its WAL in
     * epoch {@code epoch}, with its {@link io.laminar.storage.state.StateChangeFormat} body from the
     * buffer's position to its limit (the buffer is not changed, and not used after the call).
     */
    void append(int core, long epoch, long sequence, ByteBuffer change);

    /** Drainer thread: the records appended since the last call form one batch, acknowledged as a whole. */
    void endBatch();

    /** The highest sequence of core {@code core} whose batch is acknowledged (and all before it); -1 if none. */
    long replicatedSequence(int core);

    /**
     * Why this replicator can replicate nothing more, for good: a {@link io.laminar.storage.FencedException} once another
     * owner took over, or another unrecoverable error. Empty while it works (or retries).
     */
    Optional<RuntimeException> failure();

    /**
     * What goes wrong right now while the replicator retries (e.g. "3 of 3 brokers unreachable"), or
     * empty; for health checks.
     */
    Optional<String> problem();

    /** How long a durable change may wait for its replica before its future fails. */
    Duration ackTimeout();

    /**
     * Where the replicated log stands: every record before these positions was acknowledged, and
     * belongs to an epoch earlier than any epoch begun after this call.
     */
    Map<String, String> positions();

    /**
     * Deletes what lies before {@code positions} (those of the oldest checkpoint still retained).
     *
     * @throws io.laminar.storage.StorageException if the log refuses
     */
    void truncateBefore(Map<String, String> positions);

    /** Stops replicating; pending batches are abandoned (their futures fail or time out). */
    @Override
    void close();
}

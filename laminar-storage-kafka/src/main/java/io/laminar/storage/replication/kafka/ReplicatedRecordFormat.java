package io.laminar.storage.replication.kafka;

import io.laminar.storage.StorageException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The value of every Kafka record the replicator writes: one state change of one core, with what a
 * takeover needs to apply it once and in order. Big-endian (Kafka's own order):
 * <pre>
 * byte  0        format version, 2
 * bytes 1..4     core: the core of the writer that made the change (int32)
 * bytes 5..8     cores: how many cores the writer had (int32); a takeover refuses another count
 * bytes 9..16    epoch: the WAL epoch the change was written in (int64); a change of an epoch
 *                earlier than the restored checkpoint's is in that checkpoint and is skipped
 * bytes 17..24   sequence: the change's sequence number in the writer's WAL of that core (int64),
 *                increasing within a session
 * bytes 25..32   session: a random non-zero id of the replicator that wrote it, new at each
 *                {@link KafkaChangeReplicator#open} (int64). A record of the same session and core as
 *                the one read before it, with a sequence not above that one's, is a copy that a
 *                retry wrote again and is skipped
 * bytes 33..     the change, in {@link io.laminar.storage.state.StateChangeFormat} (little-endian
 *                inside, as in the WAL): put, delete or clear
 * </pre>
 * The record key is the state key (none for a clear), for inspection only: the partition is the
 * core's ({@link KafkaReplicatorOptions#partitionOfCore}). A value shorter than 34 bytes or of
 * another version is refused. Version 1 (key-group partitions, read only once committed) is
 * refused too: its records were not written to be read this way.
 *
 * <p>Stateless; thread-safe.
 */
public final class ReplicatedRecordFormat {

    /** The version this library writes and reads. */
    public static final byte VERSION = 2;
    /** The bytes before the change. */
    public static final int HEADER_BYTES = 33;

    private ReplicatedRecordFormat() {
    }

    /** One decoded record; {@code change} is a view of the value from byte 33 to its end. */
    public record Decoded(int core, int cores, long epoch, long sequence, long session, ByteBuffer change) {
    }

    /** Encodes a change (the buffer's position to its limit; not changed) as a record value. */
    public static byte[] encode(int core, int cores, long epoch, long sequence, long session, ByteBuffer change) {
        var value = ByteBuffer.allocate(HEADER_BYTES + change.remaining()).order(ByteOrder.BIG_ENDIAN);
        value.put(VERSION).putInt(core).putInt(cores).putLong(epoch).putLong(sequence).putLong(session)
                .put(change.duplicate());
        return value.array();
    }

    /**
     * Decodes a record value.
     *
     * @param where the topic, partition and offset, for the message of a refusal
     * @throws StorageException if the value is too short or of another version
     */
    public static Decoded decode(byte[] value, String where) {
        if (value != null && value.length > 0 && value[0] == 1) {
            throw new StorageException("the replicated record at " + where + " has format version 1, written by an "
                    + "earlier laminar-storage that partitioned changes by key group and let a takeover read only "
                    + "committed transactions; this version cannot replay it in order. Start the shard's last owner "
                    + "with this version on its own data directory and let it take a checkpoint (the changes after "
                    + "that checkpoint are version " + VERSION + "), or take the shard over with the earlier version");
        }
        if (value == null || value.length < HEADER_BYTES + 1) {
            throw new StorageException("the replicated record at " + where + " has " + (value == null ? "no" : value.length)
                    + " value bytes, fewer than the " + (HEADER_BYTES + 1) + " of the smallest change: it was not "
                    + "written by laminar-storage, or the topic is shared with another application");
        }
        var buffer = ByteBuffer.wrap(value).order(ByteOrder.BIG_ENDIAN);
        byte version = buffer.get();
        if (version != VERSION) {
            throw new StorageException("the replicated record at " + where + " has format version " + version
                    + "; this library reads version " + VERSION + ": upgrade it, or check that the topic belongs "
                    + "to laminar-storage");
        }
        int core = buffer.getInt();
        int cores = buffer.getInt();
        long epoch = buffer.getLong();
        long sequence = buffer.getLong();
        long session = buffer.getLong();
        var change = buffer.slice().order(ByteOrder.LITTLE_ENDIAN);
        return new Decoded(core, cores, epoch, sequence, session, change);
    }
}

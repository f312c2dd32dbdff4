package io.laminar.storage.replication.kafka;

import io.laminar.storage.StorageException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The value of every Kafka record the replicator writes: one state change of one core, with what a
 * takeover needs to apply it exactly once. Big-endian (Kafka's own order):
 * <pre>
 * byte  0        format version, 1
 * bytes 1..4     core: the core of the writer that made the change (int32)
 * bytes 5..8     cores: how many cores the writer had (int32); a takeover refuses another count
 * bytes 9..16    epoch: the WAL epoch the change was written in (int64); a change of an epoch
 *                earlier than the restored checkpoint's is in that checkpoint and is skipped
 * bytes 17..24   sequence: the change's sequence number in the writer's WAL of that core (int64),
 *                for inspection; order comes from the partition's offsets
 * bytes 25..     the change, in {@link io.laminar.storage.state.StateChangeFormat} (little-endian
 *                inside, as in the WAL): put, delete or clear
 * </pre>
 * The record key is the state key (none for a clear). A clear of a core is written to every
 * partition, each copy clearing that core's keys of that partition only, at its place among the
 * partition's records. A value shorter than 26 bytes or of another version is refused.
 *
 * <p>Stateless; thread-safe.
 */
public final class ReplicatedRecordFormat {

    /** The version this library writes and reads. */
    public static final byte VERSION = 1;
    /** The bytes before the change. */
    public static final int HEADER_BYTES = 25;

    private ReplicatedRecordFormat() {
    }

    /** One decoded record; {@code change} is a view of the value from byte 25 to its end. */
    public record Decoded(int core, int cores, long epoch, long sequence, ByteBuffer change) {
    }

    /** Encodes a change (the buffer's position to its limit; not changed) as a record value. */
    public static byte[] encode(int core, int cores, long epoch, long sequence, ByteBuffer change) {
        var value = ByteBuffer.allocate(HEADER_BYTES + change.remaining()).order(ByteOrder.BIG_ENDIAN);
        value.put(VERSION).putInt(core).putInt(cores).putLong(epoch).putLong(sequence).put(change.duplicate());
        return value.array();
    }

    /**
     * Decodes a record value.
     *
     * @param where the topic, partition and offset, for the message of a refusal
     * @throws StorageException if the value is too short or of another version
     */
    public static Decoded decode(byte[] value, String where) {
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
        var change = buffer.slice().order(ByteOrder.LITTLE_ENDIAN);
        return new Decoded(core, cores, epoch, sequence, change);
    }
}

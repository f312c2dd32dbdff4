package io.laminar.storage.state;

import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalOptions;
import io.laminar.storage.wal.WalRecord;
import io.laminar.storage.wal.WriteAheadLog;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * A keyed state store that writes every put, delete and clear to a {@link WriteAheadLog} before
 * applying it, and rebuilds itself from that log when opened: for users who do not run the Ring 0 /
 * Ring 1 split.
 *
 * <h2>Thread-safety</h2>
 * Not thread-safe: one thread at a time (a single writer that also reads). Its
 * {@link #snapshot() snapshots} are immutable and may be read by any thread.
 *
 * <h2>Durability</h2>
 * A plain {@link #put}, {@link #delete} or {@link #clear} returns once the record is in the log's
 * write buffer; it is durable when the log's {@link SyncPolicy} says: before the call returns under
 * {@code everyAppend()}, within the group-commit linger (default about a millisecond) under
 * {@code groupCommit()}, within the period under {@code interval()}, and only on {@link #sync()} or
 * close under {@code none()}. The {@code *Durable} variants return the log's future, which completes
 * once an fdatasync covers the record. Either way the change is visible to {@link #get} at once: a
 * reader may see a change that a crash then loses unless it waits for the future.
 *
 * <h2>Record format</h2>
 * One WAL record per change, encoded as {@link StateChangeFormat} documents (the same encoding the
 * changelog drainer writes to the per-core WAL); the WAL frames it with a length and a CRC32C. A
 * record whose bytes are not exactly one valid change fails the open with a
 * {@link StateCorruptionException}. Replaying the records in order rebuilds the map exactly, clears
 * included.
 *
 * <h2>The log belongs to the store</h2>
 * The log is the store's only copy of its state: there is no checkpoint yet, so never call
 * {@link WriteAheadLog#truncateBefore} on it, and append nothing else to it.
 */
public final class WalStateStore implements StateStore, AutoCloseable {


    private final WriteAheadLog wal;
    private final boolean ownsWal;
    private final CowTree tree;
    /** The encoding buffer, reused so that the put path does not allocate; the WAL copies from it. */
    private ByteBuffer scratch = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);

    private WalStateStore(WriteAheadLog wal, boolean ownsWal, CowTree tree) {
        this.wal = wal;
        this.ownsWal = ownsWal;
        this.tree = tree;
    }

    /**
     * Opens (or creates) the log in {@code directory} and rebuilds the store from it. The store owns
     * the log: {@link #close()} closes it.
     *
     * @throws StateCorruptionException if a record is not a valid state record
     * @throws io.laminar.storage.wal.WalCorruptionException if the log itself is damaged
     */
    public static WalStateStore open(Path directory, WalOptions options) {
        var wal = WriteAheadLog.open(directory, options);
        try {
            return new WalStateStore(wal, true, replay(wal));
        } catch (RuntimeException e) {
            try {
                wal.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /**
     * Rebuilds a store from every record of an open log, which the caller keeps owning (closing the
     * store does not close it). Records appended but not yet written to the segment files would be
     * invisible to a reader, so this first waits for a sync of everything appended so far.
     *
     * @throws StateCorruptionException if a record is not a valid state record
     */
    public static WalStateStore recover(WriteAheadLog wal) {
        try {
            wal.sync().join();
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof RuntimeException cause ? cause : e; // say, WalFailedException
        }
        return new WalStateStore(wal, false, replay(wal));
    }

    private static CowTree replay(WriteAheadLog wal) {
        var tree = new CowTree();
        try (var reader = wal.reader()) {
            for (WalRecord record; (record = reader.next()) != null; ) {
                apply(tree, record, wal);
            }
        }
        return tree;
    }

    private static void apply(CowTree tree, WalRecord record, WriteAheadLog wal) {
        try {
            StateChangeFormat.apply(record.payload(), new ChangelogSink() {
                @Override
                public void onPut(byte[] key, byte[] value) {
                    tree.put(key, value, true);
                }

                @Override
                public void onDelete(byte[] key) {
                    tree.remove(key);
                }

                @Override
                public void onClear() {
                    tree.clear();
                }
            });
        } catch (IllegalArgumentException e) {
            throw new StateCorruptionException("the WAL in " + wal.directory(), wal.segmentFile(record.position()),
                    record.position(), record.payload().remaining(), e.getMessage());
        }
    }

    // ---- reads ---------------------------------------------------------------------------------

    @Override
    public byte[] get(byte[] key) {
        return tree.getCopy(key);
    }

    @Override
    public int get(byte[] key, byte[] into) {
        return tree.copyValue(key, into);
    }

    @Override
    public boolean containsKey(byte[] key) {
        return tree.containsKey(key);
    }

    @Override
    public long size() {
        return tree.size();
    }

    @Override
    public void forEach(EntryVisitor visitor) {
        tree.forEach(visitor);
    }

    @Override
    public Iterator<StateEntry> iterator() {
        return tree.iterator();
    }

    @Override
    public StateSnapshot snapshot() {
        return tree.snapshot();
    }

    // ---- writes --------------------------------------------------------------------------------

    /**
     * Logs the put, then applies it. Durable as the log's sync policy says (see the class comment).
     *
     * @throws IllegalArgumentException if the record exceeds the log's {@code maxRecordSize}
     * @throws io.laminar.storage.wal.WalFailedException if the log has failed (nothing is applied)
     */
    @Override
    public void put(byte[] key, byte[] value) {
        wal.append(encodePut(key, value));
        tree.put(key, value, false);
    }

    /** Logs and applies the put; the future completes with the record's position once it is durable. */
    public CompletableFuture<Long> putDurable(byte[] key, byte[] value) {
        var durable = wal.appendDurable(encodePut(key, value));
        tree.put(key, value, false);
        return durable;
    }

    /** If {@code key} is present, logs the deletion, then applies it. */
    @Override
    public boolean delete(byte[] key) {
        if (!tree.containsKey(key)) {
            return false;
        }
        wal.append(encodeDelete(key));
        return tree.remove(key);
    }

    /**
     * Logs and applies the deletion of {@code key}; the future completes once it is durable. If the
     * key is absent nothing is logged and the future completes once everything before is durable.
     */
    public CompletableFuture<Long> deleteDurable(byte[] key) {
        if (!tree.containsKey(key)) {
            return wal.sync();
        }
        var durable = wal.appendDurable(encodeDelete(key));
        tree.remove(key);
        return durable;
    }

    /** Logs the clear, then removes every key. Cleared keys stay cleared after a reopen. */
    @Override
    public void clear() {
        wal.append(encodeClear());
        tree.clear();
    }

    /** Logs and applies the clear; the future completes once it is durable. */
    public CompletableFuture<Long> clearDurable() {
        var durable = wal.appendDurable(encodeClear());
        tree.clear();
        return durable;
    }

    /** A future that completes once every change made so far is durable. */
    public CompletableFuture<Long> sync() {
        return wal.sync();
    }

    /** The log under the store (for statistics; do not append to it or truncate it). */
    public WriteAheadLog wal() {
        return wal;
    }

    /** Closes the log if the store opened it (syncing everything), otherwise does nothing. */
    @Override
    public void close() {
        if (ownsWal) {
            wal.close();
        }
    }

    private ByteBuffer encodePut(byte[] key, byte[] value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        return encode(StateChangeFormat.PUT, key, value);
    }

    private ByteBuffer encodeDelete(byte[] key) {
        return encode(StateChangeFormat.DELETE, key, null);
    }

    private ByteBuffer encodeClear() {
        return encode(StateChangeFormat.CLEAR, null, null);
    }

    private ByteBuffer encode(byte op, byte[] key, byte[] value) {
        int keyLength = key == null ? 0 : key.length;
        int valueLength = value == null ? 0 : value.length;
        var out = buffer(1L + Integer.BYTES + keyLength + Integer.BYTES + valueLength);
        StateChangeFormat.encode(out, op, key, keyLength, value, valueLength);
        return out.flip();
    }

    private ByteBuffer buffer(long needed) {
        if (needed > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a state record of " + needed + " bytes is too large");
        }
        if (needed > scratch.capacity()) {
            int capacity = (int) Math.min(Integer.MAX_VALUE - 8, Long.highestOneBit(needed - 1) << 1);
            scratch = ByteBuffer.allocate(capacity).order(ByteOrder.LITTLE_ENDIAN);
        }
        return scratch.clear();
    }

    @Override
    public String toString() {
        return "WalStateStore[size=" + tree.size() + ", wal=" + wal.directory() + "]";
    }
}

package io.laminar.storage.replication;

import io.laminar.storage.FencedException;
import io.laminar.storage.state.StateChangeFormat;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A {@link ChangeReplicator} whose replicated log is a list in memory ({@link Log}), shared by the
 * owners of one shard in a test, so that the runtime's side of the contract (acknowledge only what
 * is replicated, time out, fail when fenced, restore at a takeover) is tested without a broker. The
 * test holds and releases acknowledgements; {@link #open} fences the previous owner of the log as a
 * transactional Kafka producer does. The Kafka implementation is tested against real brokers in
 * {@code laminar-storage-kafka}. Thread-safe (one lock).
 */
public final class MemoryReplicator implements ChangeReplicator {

    /** One replicated change. */
    public record Record(int owner, int core, long epoch, long sequence, byte[] change) {
    }

    /** The replicated log of a shard: committed batches, in order, and the current owner. */
    public static final class Log {
        final List<Record> records = new ArrayList<>();
        int owner;
        long start;

        /** Every committed record. */
        public synchronized List<Record> records() {
            return List.copyOf(records);
        }

        /** How many owners opened the log (0: nobody fenced anyone yet). */
        public synchronized int owner() {
            return owner;
        }

        /** Makes the records before {@code offset} unavailable, as retention would. */
        public synchronized void dropBefore(long offset) {
            while (start < offset && !records.isEmpty()) {
                records.remove(0);
                start++;
            }
        }
    }

    private final Log log;
    private final Duration ackTimeout;
    private final List<Record> open = new ArrayList<>();
    private final List<List<Record>> held = new ArrayList<>();
    private long[] replicated;
    private int owner;
    private boolean holding;
    private RuntimeException failure;
    private int truncations;

    public MemoryReplicator(Log log, Duration ackTimeout) {
        this.log = log;
        this.ackTimeout = ackTimeout;
    }

    @Override
    public synchronized void open(int cores) {
        replicated = new long[cores];
        Arrays.fill(replicated, -1);
        synchronized (log) {
            owner = ++log.owner;
        }
    }

    @Override
    public long restore(Map<String, String> from, long checkpointEpoch, int cores, ReplicatedChangeSink sink) {
        long offset = Long.parseLong(from.getOrDefault("0", "0"));
        List<Record> tail;
        synchronized (log) {
            if (offset < log.start) {
                throw new io.laminar.storage.StorageException("memory log: offsets " + offset + " to " + log.start
                        + " are gone");
            }
            tail = List.copyOf(log.records.subList((int) (offset - log.start), log.records.size()));
        }
        long delivered = 0;
        for (var record : tail) {
            if (record.epoch() < checkpointEpoch) {
                continue; // in the checkpoint
            }
            if (record.core() >= cores) {
                throw new io.laminar.storage.StorageException("memory log: a record of core " + record.core()
                        + " after a checkpoint of " + cores + " cores");
            }
            var change = ByteBuffer.wrap(record.change());
            if (change.get(0) == StateChangeFormat.CLEAR) {
                sink.clear(record.core(), key -> true);
            } else {
                sink.change(record.core(), change);
            }
            delivered++;
        }
        return delivered;
    }

    @Override
    public synchronized void append(int core, long epoch, long sequence, ByteBuffer change) {
        var bytes = new byte[change.remaining()];
        change.duplicate().get(bytes);
        open.add(new Record(owner, core, epoch, sequence, bytes));
    }

    @Override
    public synchronized void endBatch() {
        var batch = List.copyOf(open);
        open.clear();
        held.add(batch);
        if (!holding) {
            commitHeld();
        }
    }

    private void commitHeld() {
        for (var batch : held) {
            synchronized (log) {
                if (log.owner != owner) {
                    failure = new FencedException("memory log: owner " + owner + " was fenced by owner " + log.owner);
                    return;
                }
                log.records.addAll(batch);
            }
            for (var record : batch) {
                replicated[record.core()] = Math.max(replicated[record.core()], record.sequence());
            }
        }
        held.clear();
    }

    /** Acknowledges nothing until {@link #release()}. */
    public synchronized void hold() {
        holding = true;
    }

    /** Commits what was held and acknowledges from now on. */
    public synchronized void release() {
        holding = false;
        commitHeld();
    }

    @Override
    public synchronized long replicatedSequence(int core) {
        return replicated[core];
    }

    @Override
    public synchronized Optional<RuntimeException> failure() {
        if (failure == null && !held.isEmpty()) {
            synchronized (log) {
                if (log.owner != owner) {
                    failure = new FencedException("memory log: owner " + owner + " was fenced by owner " + log.owner);
                }
            }
        }
        return Optional.ofNullable(failure);
    }

    @Override
    public synchronized Optional<String> problem() {
        return holding ? Optional.of("held by the test") : Optional.empty();
    }

    @Override
    public Duration ackTimeout() {
        return ackTimeout;
    }

    @Override
    public Map<String, String> positions() {
        synchronized (log) {
            return Map.of("0", Long.toString(log.start + log.records.size()));
        }
    }

    @Override
    public synchronized void truncateBefore(Map<String, String> positions) {
        truncations++;
        log.dropBefore(Long.parseLong(positions.get("0")));
    }

    /** How often {@link #truncateBefore} was called. */
    public synchronized int truncations() {
        return truncations;
    }

    @Override
    public void close() {
    }
}

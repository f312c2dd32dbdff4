package io.laminar.storage.percore;

import io.laminar.storage.StorageException;
import io.laminar.storage.wal.WalInspection;
import io.laminar.storage.wal.WalReader;
import io.laminar.storage.wal.WalRecord;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * Reads one core's records below a limit with a one-record look-ahead, checking their headers
 * (sequence without gaps, epochs that never go back, a barrier at each new epoch); and merges the
 * cursors of every core into the deterministic replay order. Shared by {@link PerCoreWalManager}
 * (over a {@link WalReader}) and the read-only {@link PerCoreWalView#inspect} (over a
 * {@link WalInspection.Cursor}), so both replay alike. Not thread-safe.
 */
final class CoreCursor {

    /** Where the records come from. */
    interface Source {
        WalRecord next();

        long position();

        void close();

        /** An empty log's. */
        Source EMPTY = new Source() {
            @Override
            public WalRecord next() {
                return null;
            }

            @Override
            public long position() {
                return 0;
            }

            @Override
            public void close() {
            }
        };

        static Source of(WalReader reader) {
            return new Source() {
                @Override
                public WalRecord next() {
                    return reader.next();
                }

                @Override
                public long position() {
                    return reader.position();
                }

                @Override
                public void close() {
                    reader.close();
                }
            };
        }

        static Source of(WalInspection.Cursor cursor) {
            return new Source() {
                @Override
                public WalRecord next() {
                    return cursor.next();
                }

                @Override
                public long position() {
                    return cursor.position();
                }

                @Override
                public void close() {
                }
            };
        }
    }

    final int core;
    final Source source;
    private final Path directory;
    private final long limit;
    CoreRecord head;
    private long lastSequence = Long.MIN_VALUE;
    private long lastEpoch = Long.MIN_VALUE;

    CoreCursor(Path directory, int core, Source source, long limit) {
        this.directory = directory;
        this.core = core;
        this.source = source;
        this.limit = limit;
    }

    void advance() {
        WalRecord record = source.position() < limit ? source.next() : null;
        if (record == null) {
            head = null;
            return;
        }
        head = decode(directory, core, record);
        if (lastSequence != Long.MIN_VALUE && head.sequence() != lastSequence + 1) {
            throw inconsistent(directory, core, record, "sequence " + head.sequence() + " follows sequence "
                    + lastSequence);
        }
        if (head.epoch() < lastEpoch) {
            throw inconsistent(directory, core, record, "epoch " + head.epoch() + " follows epoch " + lastEpoch);
        }
        if (lastEpoch != Long.MIN_VALUE && head.epoch() > lastEpoch && head.kind() != RecordKind.BARRIER) {
            throw inconsistent(directory, core, record, "epoch " + head.epoch() + " starts without a barrier");
        }
        lastSequence = head.sequence();
        lastEpoch = head.epoch();
    }

    long nextPosition() {
        return head != null ? head.position() : source.position();
    }

    /** The merge of {@link PerCoreWalManager#replay(CorePositions, long, Consumer)}; each cursor advanced once. */
    static ReplayResult merge(CoreCursor[] cursors, long throughEpoch, Consumer<CoreRecord> visitor) {
        long records = 0;
        long lastEpoch = -1;
        while (true) {
            long next = Long.MAX_VALUE;
            for (var cursor : cursors) {
                if (cursor.head != null) {
                    next = Math.min(next, cursor.head.epoch());
                }
            }
            if (next == Long.MAX_VALUE || next > throughEpoch) {
                break;
            }
            for (var cursor : cursors) {
                while (cursor.head != null && cursor.head.epoch() == next) {
                    visitor.accept(cursor.head);
                    records++;
                    cursor.advance();
                }
            }
            lastEpoch = next;
        }
        var nextPositions = new long[cursors.length];
        for (int core = 0; core < cursors.length; core++) {
            nextPositions[core] = cursors[core].nextPosition();
        }
        return new ReplayResult(records, lastEpoch, CorePositions.of(nextPositions));
    }

    static void closeAll(CoreCursor[] cursors) {
        for (var cursor : cursors) {
            if (cursor != null) {
                cursor.source.close();
            }
        }
    }

    static StorageException inconsistent(Path directory, int core, WalRecord record, String problem) {
        return new StorageException("the log of core " + core + " in " + directory + " is inconsistent at position "
                + record.position() + ": " + problem + ". The checksums are intact, so the files were probably "
                + "mixed up (copied, restored or renamed); restore the directory as a whole");
    }

    static CoreRecord decode(Path directory, int core, WalRecord record) {
        var problem = CoreRecordFormat.check(record.payload(), core);
        if (problem != null) {
            throw new StorageException("the log of core " + core + " in " + directory + " holds a record at position "
                    + record.position() + " that is not a valid per-core entry: " + problem);
        }
        var payload = record.payload();
        return new CoreRecord(core, CoreRecordFormat.kind(payload), CoreRecordFormat.epoch(payload),
                CoreRecordFormat.sequence(payload), record.position(), record.nextPosition(),
                CoreRecordFormat.body(payload));
    }
}

package io.laminar.storage.bench;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteOptions;

/**
 * The RocksDB comparison: {@code put} of a unique key and the record as value with
 * {@code WriteOptions.setSync(true)}, so each put returns only after its WAL entry is fsynced.
 * Concurrent puts share fsyncs through RocksDB's own write-group commit.
 */
public final class RocksDbSync implements AutoCloseable {

    static {
        RocksDB.loadLibrary();
    }

    private final Options options;
    private final WriteOptions writeOptions;
    private final RocksDB db;

    public RocksDbSync(Path directory) throws RocksDBException {
        this.options = new Options().setCreateIfMissing(true);
        this.writeOptions = new WriteOptions().setSync(true);
        this.db = RocksDB.open(options, directory.toString());
    }

    /** A writer for one thread: keys are (thread, sequence), so every put inserts a new key. */
    public ClosedLoop.Op writer(int thread, byte[] value) {
        var key = new byte[16];
        var keyView = ByteBuffer.wrap(key);
        keyView.putLong(0, thread);
        long[] sequence = {0};
        return () -> {
            keyView.putLong(8, sequence[0]++);
            db.put(writeOptions, key, value);
        };
    }

    @Override
    public void close() {
        db.close();
        writeOptions.close();
        options.close();
    }
}

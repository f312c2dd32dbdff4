package io.laminar.storage.crash;

import io.laminar.storage.io.FileIO;
import io.laminar.storage.io.ForwardingFileChannel;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.util.Set;

/**
 * The real file system without fsync: what the power-loss suite recovers its crash images with,
 * since the durability of a scratch copy on the test machine's disk is beside the point and the
 * fsyncs would cost most of the time.
 */
final class NoSyncFileIO implements FileIO {
    static final NoSyncFileIO INSTANCE = new NoSyncFileIO();
    private final FileIO real = FileIO.system();

    @Override
    public FileChannel open(Path path, Set<? extends OpenOption> options) throws IOException {
        return new ForwardingFileChannel(real.open(path, options)) {
            @Override
            public void force(boolean metaData) {
            }
        };
    }

    @Override
    public void atomicMove(Path source, Path target) throws IOException {
        real.atomicMove(source, target);
    }

    @Override
    public void deleteIfExists(Path path) throws IOException {
        real.deleteIfExists(path);
    }

    @Override
    public void syncDirectory(Path directory) {
    }
}

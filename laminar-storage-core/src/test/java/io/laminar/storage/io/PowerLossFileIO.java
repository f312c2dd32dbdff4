package io.laminar.storage.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

/**
 * A {@link FileIO} for tests that simulates power loss: files are real (every call goes to the
 * real file system under {@code root}, so the library reads back what it wrote), and beside them
 * it records every mutating call as a {@link PowerLossTrace} of {@link PowerLossTrace.Op}s, from
 * which a {@link DiskModel} tells at any point of the trace what had been made durable and what had
 * not. {@link DiskModel#crash(long)} then produces a file system a real machine could show after a
 * power cut at that point, in the {@link PowerCut} mode the seed chooses. Part of the core's
 * test-jar, beside {@link FaultyFileIO} (which makes calls <em>fail</em>; this one makes
 * unsynced effects <em>vanish</em>; the two compose: {@code new FaultyFileIO(new PowerLossFileIO(root))}).
 *
 * <h2>What is recorded</h2>
 * Through the channels {@link #open} returns: every {@code write} (at the channel position, at an
 * explicit position, gathering, {@code transferFrom}, {@code APPEND}), {@code truncate}, a
 * {@code TRUNCATE_EXISTING} open, and {@code force} (either flag). Through this FileIO: the
 * creation of a file by {@code open}, {@link #atomicMove}, {@link #createLink},
 * {@link #deleteIfExists} and {@link #syncDirectory}. Writable memory maps are refused
 * ({@link UnsupportedOperationException}): their writes could not be seen. {@code force} and
 * {@link #syncDirectory} do <em>not</em> call the real fsync: durability is what the model says,
 * not what the test machine's disk does, and the trace stays cheap. Files and directories
 * found under {@code root} when this FileIO is made are taken as durable ({@link PowerLossTrace.Op.Adopt}).
 *
 * <h2>What a power cut can do (the model)</h2>
 * Per file (inode, so a hard link shares it): the bytes and size as of its last {@code force} are
 * durable; every write and size change since is pending. Per directory: the entries as of its last
 * {@link #syncDirectory} are durable; every creation, rename, link and deletion since is pending.
 * A power cut, per {@link PowerCut}:
 * <ul>
 *   <li>data of each file: pending writes {@linkplain PowerCut.Data#LOST lost}, {@linkplain
 *       PowerCut.Data#KEPT kept}, or {@linkplain PowerCut.Data#TORN_SECTORS torn}: each 512-byte
 *       sector (or {@linkplain PowerCut.Data#TORN_PAGES 4 KiB page}) a pending write touched holds,
 *       independently of every other, its durable content or its content after any one of the pending
 *       writes that touched it (so writes persist out of order and a sector may hold an older
 *       version); the size is the durable size, the current one or any size the file had in between,
 *       and a sector inside the size that none of its persisted versions reached is zeros; or
 *       {@linkplain PowerCut.Data#GROWN_ZEROS grown with zeros}: the size change persisted, the data
 *       did not (ext4's delayed allocation, the famous zero-length/zero-filled files); {@linkplain
 *       PowerCut.Data#MIXED mixed}: each file picks one of those on its own;</li>
 *   <li>entries of each directory: pending operations {@linkplain PowerCut.Dir#UNDONE all undone},
 *       {@linkplain PowerCut.Dir#KEPT all kept}, {@linkplain PowerCut.Dir#EACH each kept or undone
 *       on its own} (applied in order to the durable entries, an operation whose source is gone
 *       skipped: a renamed file back under its old name, a created file missing, a deleted file
 *       back, a link there without the deletion of its temporary name, or the reverse), or
 *       {@linkplain PowerCut.Dir#PREFIX a prefix}, in the global order of all directories:
 *       metadata journaled in order, as ext4 ({@code data=ordered}) and xfs commit it.</li>
 * </ul>
 * Data and directory entries are decided independently: a rename may persist while the renamed
 * file's unsynced data does not, and the reverse (ext4 without {@code auto_da_alloc}, xfs).
 * {@code force} makes a file's data and size durable, never its name: a new file needs a sync of its
 * directory, as POSIX says (ext4 and xfs usually persist the name on the file's fsync anyway, so
 * this is stricter). A file whose name did not survive is gone with its data.
 *
 * <h2>Faithfulness to ext4/xfs, and what is not modelled</h2>
 * <ul>
 *   <li>{@link PowerCut.Data#TORN_SECTORS}, {@link PowerCut.Dir#EACH} and per-file independence are
 *       <em>more</em> adversarial than ext4 {@code data=ordered} (which writes a file's newly allocated
 *       data before the metadata that exposes it, and commits metadata in order): a library that
 *       survives them survives ext4 and xfs. {@link PowerCut.Dir#PREFIX} with any data mode is
 *       within what ext4 and xfs can show.</li>
 *   <li>Sectors are atomic: a 512-byte sector is never half old, half new (drives guarantee it).
 *       Bytes a write never touched are never damaged (no bit rot, no misdirected writes: that is
 *       {@code WalCorruptionTest}'s business).</li>
 *   <li>Directory creation is not seen: the library creates directories with {@code Files}, not
 *       through this seam, so every directory is taken as durable once it holds an entry.</li>
 *   <li>File metadata other than size (times, permissions), locks, and reads are not modelled;
 *       nor is a power cut <em>during</em> a single call (a call is either in the trace or not; a
 *       torn write is modelled by its sectors, not by a half-recorded call).</li>
 *   <li>Files outside {@code root} pass through unrecorded and are not part of a crash.</li>
 *   <li>I/O errors are {@link FaultyFileIO}'s job; after a failed fsync Linux may drop the dirty
 *       pages, which a crash here also covers ({@link PowerCut.Data#LOST}).</li>
 * </ul>
 *
 * <p>Thread-safe: every recorded call runs under one lock, so the trace is the order in which the
 * calls reached the real file system.
 */
public final class PowerLossFileIO implements FileIO {

    private final Path root;
    private final FileIO real = FileIO.system();
    private final Object lock = new Object();
    private final PowerLossTrace trace = new PowerLossTrace();
    /** The live model: inode of each current path, sizes. Only touched under {@link #lock}. */
    private final DiskModel live = new DiskModel();
    private final List<Path> outsideRoot = new CopyOnWriteArrayList<>();

    /** Models the files under {@code root} (which is created if missing); whatever is there now is durable. */
    public PowerLossFileIO(Path root) {
        this.root = root.toAbsolutePath().normalize();
        try {
            Files.createDirectories(this.root);
            adoptExisting();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The modelled directory. */
    public Path root() {
        return root;
    }

    /** The calls so far, in order. A copy: later calls do not show up in it. */
    public PowerLossTrace trace() {
        synchronized (lock) {
            return trace.copy();
        }
    }

    /** The number of recorded operations so far: a point of the trace. */
    public int position() {
        synchronized (lock) {
            return trace.size();
        }
    }

    /**
     * Adds a note of the workload (an acknowledgement, say) to the trace, ordered with the calls:
     * a crash at any later point happened after it.
     */
    public void mark(Object note) {
        synchronized (lock) {
            record(new PowerLossTrace.Op.Mark(note));
        }
    }

    /** Paths outside the root that calls touched (not modelled). */
    public List<Path> outsideRoot() {
        return List.copyOf(outsideRoot);
    }

    /** A power cut now: the model of the trace so far, cut with the mode {@code seed} chooses. */
    public CrashImage crash(long seed) {
        synchronized (lock) {
            return DiskModel.replay(trace, trace.size()).crash(seed);
        }
    }

    private void adoptExisting() throws IOException {
        try (Stream<Path> walk = Files.walk(root)) {
            for (var path : (Iterable<Path>) walk::iterator) {
                var rel = relative(path);
                if (rel.isEmpty()) {
                    continue;
                }
                if (Files.isDirectory(path)) {
                    record(new PowerLossTrace.Op.Adopt(rel, null));
                } else if (Files.isRegularFile(path)) {
                    record(new PowerLossTrace.Op.Adopt(rel, Files.readAllBytes(path)));
                }
            }
        }
    }

    private void record(PowerLossTrace.Op op) {
        trace.add(op);
        live.apply(op);
    }

    /** The path relative to the root with '/' separators, "" for the root, or null if outside. */
    private String relative(Path path) {
        var normal = path.toAbsolutePath().normalize();
        if (!normal.startsWith(root)) {
            return null;
        }
        var rel = root.relativize(normal).toString();
        return rel.replace(normal.getFileSystem().getSeparator(), "/");
    }

    private String modelled(Path path) {
        var rel = relative(path);
        if (rel == null) {
            outsideRoot.add(path);
        }
        return rel;
    }

    @Override
    public FileChannel open(Path path, Set<? extends OpenOption> options) throws IOException {
        if (options.contains(StandardOpenOption.DELETE_ON_CLOSE) || options.contains(StandardOpenOption.SYNC)
                || options.contains(StandardOpenOption.DSYNC)) {
            throw new UnsupportedOperationException("PowerLossFileIO does not model " + options);
        }
        var rel = modelled(path);
        if (rel == null) {
            return real.open(path, options);
        }
        synchronized (lock) {
            boolean existed = Files.exists(path);
            var channel = real.open(path, options);
            int inode;
            if (!existed) {
                inode = live.newInode();
                record(new PowerLossTrace.Op.Link(rel, inode, true));
            } else {
                Integer known = live.inodeOf(rel);
                if (known == null) {
                    // Created outside this FileIO (or before it): take what is there as durable.
                    record(new PowerLossTrace.Op.Adopt(rel, Files.readAllBytes(path)));
                    known = live.inodeOf(rel);
                }
                inode = known;
                if (options.contains(StandardOpenOption.TRUNCATE_EXISTING) && options.contains(StandardOpenOption.WRITE)
                        && live.size(inode) != 0) {
                    record(new PowerLossTrace.Op.SetSize(inode, 0));
                }
            }
            return new Channel(channel, inode, options.contains(StandardOpenOption.APPEND));
        }
    }

    @Override
    public void atomicMove(Path source, Path target) throws IOException {
        var from = modelled(source);
        var to = modelled(target);
        if (from == null || to == null) {
            if (from != null || to != null) {
                throw new UnsupportedOperationException("a move across the modelled root: " + source + " -> " + target);
            }
            real.atomicMove(source, target);
            return;
        }
        synchronized (lock) {
            real.atomicMove(source, target);
            Integer inode = live.inodeOf(from);
            if (inode == null) {
                throw new IllegalStateException("moved a file the model does not know: " + source);
            }
            if (!from.equals(to)) {
                record(new PowerLossTrace.Op.Rename(from, to, inode));
            }
        }
    }

    @Override
    public void createLink(Path link, Path existing) throws IOException {
        var to = modelled(link);
        var from = modelled(existing);
        if (to == null || from == null) {
            FileIO.super.createLink(link, existing);
            return;
        }
        synchronized (lock) {
            FileIO.super.createLink(link, existing);
            Integer inode = live.inodeOf(from);
            if (inode == null) {
                throw new IllegalStateException("linked a file the model does not know: " + existing);
            }
            record(new PowerLossTrace.Op.Link(to, inode, false));
        }
    }

    @Override
    public void deleteIfExists(Path path) throws IOException {
        var rel = modelled(path);
        if (rel == null) {
            real.deleteIfExists(path);
            return;
        }
        synchronized (lock) {
            if (Files.isDirectory(path)) {
                // An empty directory (the library never deletes non-empty ones through here).
                real.deleteIfExists(path);
                return;
            }
            if (Files.exists(path)) {
                if (live.inodeOf(rel) == null) {
                    record(new PowerLossTrace.Op.Adopt(rel, Files.readAllBytes(path)));
                }
                int inode = live.inodeOf(rel);
                real.deleteIfExists(path);
                record(new PowerLossTrace.Op.Unlink(rel, inode));
            }
        }
    }

    @Override
    public void syncDirectory(Path directory) throws IOException {
        var rel = modelled(directory);
        if (rel == null) {
            real.syncDirectory(directory);
            return;
        }
        if (!Files.isDirectory(directory)) {
            throw new NoSuchFileException(directory.toString());
        }
        synchronized (lock) {
            record(new PowerLossTrace.Op.SyncDir(rel));
        }
    }

    /** Runs the write, then records it as a write through the channel would be. */
    @Override
    public void writeThroughDescriptor(FileChannel channel, ByteBuffer data, long position, DescriptorIo write)
            throws IOException {
        if (!(channel instanceof Channel ours)) {
            write.run();
            return;
        }
        synchronized (lock) {
            write.run();
            ours.recordWrite(position, data, data.position(), data.remaining());
        }
    }

    /**
     * Runs the fdatasync (the backend's own, unlike a channel's {@code force}, which this FileIO only
     * records), then records it.
     */
    @Override
    public void syncThroughDescriptor(FileChannel channel, DescriptorIo sync) throws IOException {
        if (!(channel instanceof Channel ours)) {
            sync.run();
            return;
        }
        if (!ours.isOpen()) {
            throw new java.nio.channels.ClosedChannelException();
        }
        synchronized (lock) {
            sync.run();
            record(new PowerLossTrace.Op.Sync(ours.inode));
        }
    }

    /** Runs the linked writes and fdatasync, then records the writes and the sync, in that order. */
    @Override
    public void writeAndSyncThroughDescriptor(FileChannel channel, ByteBuffer[] data, long position,
            DescriptorIo writeAndSync) throws IOException {
        if (!(channel instanceof Channel ours)) {
            writeAndSync.run();
            return;
        }
        if (!ours.isOpen()) {
            throw new java.nio.channels.ClosedChannelException();
        }
        synchronized (lock) {
            writeAndSync.run();
            long at = position;
            for (var buffer : data) {
                ours.recordWrite(at, buffer, buffer.position(), buffer.remaining());
                at += buffer.remaining();
            }
            record(new PowerLossTrace.Op.Sync(ours.inode));
        }
    }

    /** A channel that records what changes the file. */
    private final class Channel extends ForwardingFileChannel {
        private final int inode;
        private final boolean append;

        Channel(FileChannel delegate, int inode, boolean append) {
            super(delegate);
            this.inode = inode;
            this.append = append;
        }

        private void recordWrite(long position, ByteBuffer written, int start, int count) {
            if (count <= 0) {
                return;
            }
            var bytes = new byte[count];
            written.duplicate().position(start).get(bytes, 0, count);
            record(new PowerLossTrace.Op.Write(inode, position, bytes));
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            synchronized (lock) {
                long position = append ? delegate().size() : delegate().position();
                int start = src.position();
                int n = delegate().write(src);
                recordWrite(position, src, start, n);
                return n;
            }
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            synchronized (lock) {
                long total = 0;
                for (int i = offset; i < offset + length; i++) {
                    while (srcs[i].hasRemaining()) {
                        int n = write(srcs[i]);
                        if (n == 0) {
                            return total;
                        }
                        total += n;
                    }
                }
                return total;
            }
        }

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            synchronized (lock) {
                int start = src.position();
                int n = delegate().write(src, position);
                recordWrite(position, src, start, n);
                return n;
            }
        }

        @Override
        public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
            var buffer = ByteBuffer.allocate((int) Math.min(count, 1 << 20));
            long done = 0;
            while (done < count) {
                buffer.clear().limit((int) Math.min(buffer.capacity(), count - done));
                int n = src.read(buffer);
                if (n <= 0) {
                    break;
                }
                buffer.flip();
                while (buffer.hasRemaining()) {
                    done += write(buffer, position + done);
                }
            }
            return done;
        }

        @Override
        public FileChannel truncate(long size) throws IOException {
            synchronized (lock) {
                long before = delegate().size();
                delegate().truncate(size);
                if (size < before) {
                    record(new PowerLossTrace.Op.SetSize(inode, size));
                }
                return this;
            }
        }

        @Override
        public void force(boolean metaData) throws IOException {
            if (!isOpen()) {
                throw new java.nio.channels.ClosedChannelException();
            }
            synchronized (lock) {
                record(new PowerLossTrace.Op.Sync(inode));
            }
        }

        @Override
        public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
            if (mode != MapMode.READ_ONLY) {
                throw new UnsupportedOperationException("PowerLossFileIO cannot see writes through a " + mode + " map");
            }
            return super.map(mode, position, size);
        }
    }

    /** A file system after a power cut: the directories and the files with their bytes. */
    public record CrashImage(PowerCut cut, List<String> directories, java.util.Map<String, byte[]> files) {

        /** Writes the image under {@code target} (an empty or missing directory). */
        public void writeTo(Path target) throws IOException {
            Files.createDirectories(target);
            for (var dir : directories) {
                Files.createDirectories(target.resolve(dir));
            }
            for (var file : files.entrySet()) {
                var path = target.resolve(file.getKey());
                Files.createDirectories(path.getParent());
                try {
                    Files.write(path, file.getValue(), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                } catch (FileAlreadyExistsException e) {
                    throw new IllegalStateException("two files at " + path, e);
                }
            }
        }

        /** The bytes of a file, or null if it is not there. */
        public byte[] file(String path) {
            return files.get(path);
        }

        @Override
        public String toString() {
            return cut + " " + new java.util.TreeSet<>(files.keySet());
        }
    }

}

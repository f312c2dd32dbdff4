package io.laminar.storage.store;

import io.laminar.storage.FencedException;
import io.laminar.storage.io.FileIO;
import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

/**
 * A {@link CheckpointStore} in a directory of a local POSIX file system.
 *
 * <h2>On-disk layout</h2>
 * <pre>
 * &lt;root&gt;/
 *   state/&lt;path&gt;                                  the state file of store path &lt;path&gt;, e.g.
 *                                                  state/join/42-0.sst for "join/42-0.sst"
 *   manifests/checkpoint-&lt;id, 20 digits&gt;.json     the published manifest of a checkpoint ({@link ManifestCodec})
 *   .../.&lt;name&gt;.&lt;random&gt;.tmp                    a file being written; never listed or read,
 *                                                  deleted when a store is opened
 *   owner/epoch-&lt;n, 20 digits&gt;                     an owner epoch claimed ({@link #claimOwnership()}); empty
 *   owner/fence-&lt;n, 20 digits&gt;                     its fence point: the newest checkpoint id when it was
 *                                                  claimed, decimal ASCII and a newline, -1 if none ({@link OwnerFences})
 *   owner/.lock                                    locked (fcntl) around a claim and around each
 *                                                  publish or delete of a store that claimed
 * </pre>
 * State files live under {@code state/} so that no store path can name a manifest. A segment of a
 * store path must not start with '.' (those names are the store's temporary files).
 *
 * <h2>Durability</h2>
 * Every file is written under a temporary name in its final directory, forced to disk
 * ({@code force(true)}), then given its final name, and then the directory is forced: when a
 * method returns, what it wrote survives a crash, and a reader never sees part of a file. A newly
 * created directory is made durable in its parent before anything is written into it.
 *
 * <h2>Create-only publishing</h2>
 * The final name is given with a hard link ({@link FileIO#createLink}), not a rename: {@code link(2)}
 * fails if the name exists, atomically, where {@code rename(2)} would replace it silently. So of
 * two writers publishing the same checkpoint id, whether threads of one store, two stores or two
 * processes, exactly one link succeeds and the other gets {@link CheckpointConflictException}
 * (unless it published the very same bytes: a retry, which succeeds); a state file written twice is
 * accepted only if the bytes are the same. The temporary name is then
 * removed. There is no "latest" pointer file: the newest checkpoint is the largest id listed in
 * {@code manifests/}, so nothing can disagree with what exists. The store therefore needs a file
 * system with hard links (any local POSIX one; not FAT or some network mounts), and says so if it
 * has none.
 *
 * <p>After an {@code IOException} from {@link #publishManifest} the manifest may or may not be
 * published (if only the final directory sync failed, it is visible and complete):
 * {@link #readManifest} tells.
 *
 * <p>Opening a store deletes the temporary files that a crash left behind; do not open a store
 * over a directory that another process is writing to at that moment (its write would fail).
 *
 * <h2>Ownership</h2>
 * {@link #claimOwnership()} creates {@code owner/epoch-<n+1>} with {@code O_CREAT|O_EXCL} (so two
 * claimants never get the same epoch), fsyncs it and its directory. A store that claimed epoch
 * {@code e} checks, before each publish and delete, that no epoch above {@code e} exists, and does
 * the check and the operation while holding an exclusive lock on {@code owner/.lock}, which a claim
 * holds too: a claim and a fenced owner's publish or delete are never interleaved, so once a claim
 * has returned, no older owner changes the store (among processes that lock on the same host or
 * on a file system with working {@code fcntl} locks). The claim also records its fence point
 * ({@link OwnerFences}), so that where locks do not work (some network file systems) a fenced
 * owner's late manifest is still void for recovery and retention, as on S3.
 *
 * <p>Thread-safe: its mutable state is a cache of directories known to be durable and the epoch
 * it claimed.
 */
public final class FileSystemCheckpointStore implements CheckpointStore {

    static final String STATE_DIRECTORY = "state";
    static final String MANIFEST_DIRECTORY = "manifests";
    static final String OWNER_DIRECTORY = "owner";
    private static final Pattern EPOCH_NAME = Pattern.compile("epoch-(\\d{20})");
    private static final Pattern FENCE_NAME = Pattern.compile("fence-(\\d{20})");
    /** One lock per store root in this JVM: fcntl locks do not exclude threads of one process. */
    private static final ConcurrentHashMap<Path, ReentrantLock> OWNER_LOCKS = new ConcurrentHashMap<>();
    private static final Pattern MANIFEST_NAME = Pattern.compile("checkpoint-(\\d{20})\\.json");
    private static final String TEMP_PREFIX = ".";
    private static final String TEMP_SUFFIX = ".tmp";
    private static final int BUFFER_SIZE = 64 * 1024;
    /** Large writes: a state file of a checkpoint is hundreds of MB. */
    private static final int WRITE_BUFFER_SIZE = 1 << 20;

    private final Path root;
    private final Path stateRoot;
    private final Path manifestRoot;
    private final FileIO io;
    private final Set<Path> durableDirectories = ConcurrentHashMap.newKeySet();
    private volatile boolean readOnly;
    private volatile long ownerEpoch = -1;
    private volatile java.util.function.Consumer<String> pausePoint = at -> { };

    private FileSystemCheckpointStore(Path root, FileIO io) {
        this.root = root;
        this.stateRoot = root.resolve(STATE_DIRECTORY);
        this.manifestRoot = root.resolve(MANIFEST_DIRECTORY);
        this.io = io;
    }

    /** Opens (creating it if needed) the store in {@code root} on the real file system. */
    public static FileSystemCheckpointStore open(Path root) throws IOException {
        return open(root, FileIO.system());
    }

    /**
     * Opens the existing store in {@code root} for reading only: it creates, deletes and writes
     * nothing (temporary files are left alone), so it is safe beside a process that is writing to
     * the store. Its write and delete methods throw {@link UnsupportedOperationException}.
     *
     * @throws java.nio.file.NoSuchFileException if {@code root} or its {@code manifests} directory does not exist
     */
    public static FileSystemCheckpointStore openReadOnly(Path root) throws IOException {
        var store = new FileSystemCheckpointStore(root.toAbsolutePath().normalize(), FileIO.system());
        store.readOnly = true;
        if (!Files.isDirectory(store.root)) {
            throw new NoSuchFileException(store.root.toString(), null, "no such directory");
        }
        if (!Files.isDirectory(store.manifestRoot)) {
            throw new NoSuchFileException(store.manifestRoot.toString(), null,
                    "no manifests directory: not a checkpoint store");
        }
        return store;
    }

    private void checkWritable() {
        if (readOnly) {
            throw new UnsupportedOperationException("the checkpoint store in " + root + " was opened read-only");
        }
    }

    /**
     * Opens (creating it if needed) the store in {@code root}, doing every file operation through
     * {@code io}, and deletes the temporary files a crash left behind.
     *
     * @throws IOException naming the directory if it cannot be created or used
     */
    public static FileSystemCheckpointStore open(Path root, FileIO io) throws IOException {
        var store = new FileSystemCheckpointStore(root.toAbsolutePath().normalize(), Objects.requireNonNull(io, "io"));
        try {
            store.ensureDirectory(store.root);
            store.ensureDirectory(store.stateRoot);
            store.ensureDirectory(store.manifestRoot);
            store.deleteTemporaryFiles();
        } catch (IOException e) {
            throw failure("cannot open the checkpoint store in " + store.root, store.root, e);
        }
        return store;
    }

    /** The root directory. */
    public Path root() {
        return root;
    }

    /** Streams the producer's bytes straight into the temp file: no staging copy. */
    @Override
    public StateFileRef writeFile(String path, ContentWriter content) throws IOException {
        checkWritable();
        Objects.requireNonNull(content, "content");
        var target = stateFile(path);
        var directory = target.getParent();
        var temp = temporaryFileFor(target);
        var crc = new CRC32C();
        long size;
        try {
            ensureDirectory(directory);
            try (var channel = io.open(temp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))) {
                var out = new ChecksummedOutputStream(Channels.newOutputStream(channel), crc);
                var buffered = new BufferedOutputStream(out, WRITE_BUFFER_SIZE);
                content.writeTo(buffered);
                buffered.flush();
                size = out.size;
                channel.force(true);
            }
            try {
                io.createLink(target, temp);
            } catch (FileAlreadyExistsException e) {
                // Same bytes: a retry of a write that succeeded (perhaps before a crash). Other bytes: refuse,
                // since checkpoints that reference the file by its CRC32C must keep finding those bytes.
                if (!sameContent(target, temp)) {
                    throw new FileAlreadyExistsException(target.toString(), null, "state file '" + path
                            + "' already exists with other content; state files are immutable: write the new"
                            + " content under a new path");
                }
            }
            io.deleteIfExists(temp);
            io.syncDirectory(directory);
        } catch (FileAlreadyExistsException | ContentReadException e) {
            deleteQuietly(temp, e);
            throw e;
        } catch (IOException e) {
            deleteQuietly(temp, e);
            throw failure("cannot write state file '" + path + "' to " + target, directory, e);
        } catch (RuntimeException e) {
            deleteQuietly(temp, e);
            throw e;
        }
        return new StateFileRef(path, size, String.format("%08x", crc.getValue()));
    }

    /** Counts and checksums the bytes on their way to the file. */
    private static final class ChecksummedOutputStream extends FilterOutputStream {
        private final CRC32C crc;
        long size;

        ChecksummedOutputStream(OutputStream out, CRC32C crc) {
            super(out);
            this.crc = crc;
        }

        @Override
        public void write(int b) throws IOException {
            crc.update(b);
            size++;
            out.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            crc.update(b, off, len);
            size += len;
            out.write(b, off, len);
        }
    }

    @Override
    public InputStream openFile(String path) throws IOException {
        var file = stateFile(path);
        try {
            return Channels.newInputStream(io.open(file, Set.of(StandardOpenOption.READ)));
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "the checkpoint store in " + root
                    + " has no state file '" + path + "'");
        }
    }

    @Override
    public Optional<Long> fileSize(String path) throws IOException {
        return sizeOf(stateFile(path));
    }

    @Override
    public List<String> listFiles() throws IOException {
        var files = new ArrayList<String>();
        Files.walkFileTree(stateRoot, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) {
                if (attributes.isRegularFile() && !isTemporary(file)) {
                    files.add(storePathOf(file));
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE; // deleted while we listed
                }
                throw e;
            }
        });
        files.sort(null);
        return files;
    }

    @Override
    public void deleteFile(String path) throws IOException {
        checkWritable();
        var file = stateFile(path);
        asOwner("delete state file '" + path + "'", () -> {
            io.deleteIfExists(file);
            if (Files.isDirectory(file.getParent())) {
                io.syncDirectory(file.getParent());
            }
            return null;
        });
    }

    @Override
    public void publishManifest(CheckpointManifest manifest) throws IOException {
        checkWritable();
        asOwner("publish checkpoint " + manifest.checkpointId(), () -> {
            publish(manifest);
            return null;
        });
    }

    private void publish(CheckpointManifest manifest) throws IOException {
        var bytes = ManifestCodec.encode(manifest);
        long id = manifest.checkpointId();
        for (var ref : manifest.files()) {
            var file = stateFile(ref.path());
            var size = sizeOf(file);
            if (size.isEmpty()) {
                throw new NoSuchFileException(file.toString(), null, "checkpoint " + id + " references state file '"
                        + ref.path() + "', which is not in the store; write every file with writeFile before"
                        + " publishing the manifest that references it");
            }
            if (size.get() != ref.size()) {
                throw new CheckpointCorruptException(id, "Checkpoint " + id + " cannot be published: it records "
                        + ref.size() + " bytes for state file '" + ref.path() + "', but " + file + " has " + size.get()
                        + " bytes. Use the StateFileRef that writeFile returned for this file.");
            }
        }
        var target = manifestFile(id);
        var temp = temporaryFileFor(target);
        try {
            try (var channel = io.open(temp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))) {
                writeFully(channel, ByteBuffer.wrap(bytes));
                channel.force(true);
            }
            io.createLink(target, temp);
            io.deleteIfExists(temp);
            io.syncDirectory(manifestRoot);
        } catch (FileAlreadyExistsException e) {
            deleteQuietly(temp, e);
            if (hasBytes(target, bytes)) {
                // A retry of a publish that landed (its directory sync may not have): make it durable now.
                io.syncDirectory(manifestRoot);
                return;
            }
            var conflict = new CheckpointConflictException("Checkpoint " + id + " is already published (" + target
                    + ") with other content; a checkpoint id is published once. Another writer published it first:"
                    + " make sure only one coordinator writes checkpoints to " + root + ", and give each new"
                    + " checkpoint a larger id.");
            conflict.initCause(e);
            throw conflict;
        } catch (IOException e) {
            deleteQuietly(temp, e);
            throw failure("cannot publish the manifest of checkpoint " + id + " to " + target, manifestRoot, e);
        }
    }

    /** Whether {@code file} holds exactly {@code bytes} (false if it is gone). */
    private boolean hasBytes(Path file, byte[] bytes) throws IOException {
        try (var channel = io.open(file, Set.of(StandardOpenOption.READ))) {
            return channel.size() == bytes.length && Arrays.equals(readFully(channel, bytes.length, file), bytes);
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    @Override
    public Optional<CheckpointManifest> readManifest(long checkpointId) throws IOException {
        var file = manifestFile(checkpointId);
        byte[] bytes;
        try (var channel = io.open(file, Set.of(StandardOpenOption.READ))) {
            long size = channel.size();
            var oversized = ManifestCodec.refuseOversized(checkpointId, file.toString(), size);
            if (oversized != null) {
                throw oversized;
            }
            bytes = readFully(channel, (int) size, file);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        return Optional.of(ManifestCodec.decode(bytes, file.toString(), checkpointId));
    }

    @Override
    public List<Long> listCheckpoints() throws IOException {
        var ids = new ArrayList<Long>();
        try (var entries = Files.newDirectoryStream(manifestRoot)) {
            for (var entry : entries) {
                var matcher = MANIFEST_NAME.matcher(entry.getFileName().toString());
                if (matcher.matches()) {
                    try {
                        ids.add(Long.parseLong(matcher.group(1)));
                    } catch (NumberFormatException e) {
                        // 20 digits beyond Long.MAX_VALUE: not a name this store writes.
                    }
                }
            }
        }
        ids.sort(null);
        return ids;
    }

    @Override
    public void deleteManifest(long checkpointId) throws IOException {
        checkWritable();
        asOwner("delete the manifest of checkpoint " + checkpointId, () -> {
            io.deleteIfExists(manifestFile(checkpointId));
            // Durable, so that a crash cannot resurrect a manifest whose files are deleted next.
            io.syncDirectory(manifestRoot);
            return null;
        });
    }

    // ---- ownership -----------------------------------------------------------------------------

    @Override
    public long claimOwnership() throws IOException {
        checkWritable();
        var directory = root.resolve(OWNER_DIRECTORY);
        ensureDirectory(directory);
        long claimed = underOwnerLock(() -> {
            long epoch = newestOwnerEpoch() + 1;
            while (true) {
                var file = directory.resolve(String.format("epoch-%020d", epoch));
                try (var channel = io.open(file, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))) {
                    channel.force(true);
                } catch (FileAlreadyExistsException e) {
                    epoch++; // another claimant took it (a store that does not lock, or another host)
                    continue;
                }
                io.syncDirectory(directory);
                writeFence(directory, epoch);
                ownerEpoch = epoch;
                return epoch;
            }
        });
        pausePoint.accept("claimed: " + claimed);
        return claimed;
    }

    /**
     * Records the fence point of {@code epoch} (see {@link OwnerFences}): the newest manifest id now,
     * as decimal text in {@code owner/fence-<epoch>}, written to a temporary file, forced, linked to
     * its name and the directory forced. Runs under the owner lock, right after the epoch's file.
     */
    private void writeFence(Path directory, long epoch) throws IOException {
        var ids = listCheckpoints();
        long fence = ids.isEmpty() ? -1 : ids.get(ids.size() - 1);
        var target = directory.resolve(String.format("fence-%020d", epoch));
        var temp = temporaryFileFor(target);
        try (var channel = io.open(temp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))) {
            writeFully(channel, ByteBuffer.wrap((fence + "\n").getBytes(StandardCharsets.US_ASCII)));
            channel.force(true);
        }
        try {
            io.createLink(target, temp);
        } finally {
            io.deleteIfExists(temp);
        }
        io.syncDirectory(directory);
    }

    @Override
    public Map<Long, Long> ownerFences() throws IOException {
        var directory = root.resolve(OWNER_DIRECTORY);
        var fences = new TreeMap<Long, Long>();
        if (!Files.isDirectory(directory)) {
            return fences;
        }
        try (var entries = Files.newDirectoryStream(directory)) {
            for (var entry : entries) {
                var matcher = FENCE_NAME.matcher(entry.getFileName().toString());
                if (matcher.matches()) {
                    fences.put(Long.parseLong(matcher.group(1)), parseFence(entry, Files.readString(entry,
                            StandardCharsets.US_ASCII)));
                }
            }
        }
        return fences;
    }

    /** The fence point in a fence file's text; refuses anything else loudly (a fence protects data). */
    static long parseFence(Object where, String text) {
        var trimmed = text.strip();
        try {
            long fence = Long.parseLong(trimmed);
            if (fence >= -1) {
                return fence;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new CheckpointCorruptException(-1, "the owner fence " + where + " holds '" + trimmed + "', not a "
                + "checkpoint id: it is damaged, and without it a fenced owner's late checkpoint could not be told apart."
                + " Restore it, or write into it the newest checkpoint id that existed when that epoch was claimed");
    }

    @Override
    public long ownerEpoch() {
        return ownerEpoch;
    }

    @Override
    public long newestOwnerEpoch() throws IOException {
        var directory = root.resolve(OWNER_DIRECTORY);
        if (!Files.isDirectory(directory)) {
            return 0;
        }
        long newest = 0;
        try (var entries = Files.newDirectoryStream(directory)) {
            for (var entry : entries) {
                var matcher = EPOCH_NAME.matcher(entry.getFileName().toString());
                if (matcher.matches()) {
                    newest = Math.max(newest, Long.parseLong(matcher.group(1)));
                }
            }
        }
        return newest;
    }

    private interface OwnerAction<T> {
        T run() throws IOException;
    }

    /** Runs {@code action}, after checking (under the owner lock) that no newer owner claimed the store. */
    private <T> T asOwner(String what, OwnerAction<T> action) throws IOException {
        long mine = ownerEpoch;
        if (mine < 0) {
            return action.run();
        }
        return underOwnerLock(() -> {
            long newest = newestOwnerEpoch();
            if (newest > mine) {
                throw new FencedException("cannot " + what + " in the checkpoint store " + root + ": this process "
                        + "owned it with epoch " + mine + ", but owner epoch " + newest + " was claimed since (another "
                        + "process took the shard over). Nothing was changed; stop this process");
            }
            pausePoint.accept("checked: " + what);
            return action.run();
        });
    }

    /**
     * Tests: {@code hook} runs at the points where a zombie owner is paused in a test: between a
     * claimed owner's check and its operation, under the owner lock ({@code "checked: <what>"}),
     * and right after a claim, outside it ({@code "claimed: <epoch>"}).
     */
    void pausePoints(java.util.function.Consumer<String> hook) {
        this.pausePoint = Objects.requireNonNull(hook, "hook");
    }

    private <T> T underOwnerLock(OwnerAction<T> action) throws IOException {
        var directory = root.resolve(OWNER_DIRECTORY);
        ensureDirectory(directory);
        var local = OWNER_LOCKS.computeIfAbsent(root, r -> new ReentrantLock());
        local.lock();
        try (var channel = FileChannel.open(directory.resolve(".lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE); var lock = channel.lock()) {
            return action.run();
        } finally {
            local.unlock();
        }
    }

    @Override
    public String toString() {
        return "FileSystemCheckpointStore[" + root + "]";
    }

    /**
     * Where the state file with store path {@code path} lives, for operators' tools and tests.
     *
     * @throws IllegalArgumentException if the path could leave {@code state/} or name a temporary file
     */
    public Path stateFile(String path) {
        var problem = StorePaths.problemWith(path);
        if (problem == null) {
            for (var segment : path.split("/")) {
                if (segment.startsWith(TEMP_PREFIX)) {
                    problem = "the path '" + path + "' has a segment starting with '.', which the store"
                            + " reserves for its temporary files";
                }
            }
        }
        if (problem != null) {
            throw new IllegalArgumentException("invalid state file path: " + problem
                    + "; use a relative path of plain names separated by '/'");
        }
        return stateRoot.resolve(path);
    }

    /** Where the manifest of {@code checkpointId} lives, for operators' tools and tests. */
    public Path manifestFile(long checkpointId) {
        if (checkpointId < 0) {
            throw new IllegalArgumentException("checkpoint ids are not negative, but got " + checkpointId);
        }
        return manifestRoot.resolve(String.format("checkpoint-%020d.json", checkpointId));
    }

    /** Store path of a file under {@code state/}: '/' separated whatever the platform. */
    private String storePathOf(Path file) {
        var relative = stateRoot.relativize(file);
        var sb = new StringBuilder();
        for (var segment : relative) {
            if (sb.length() > 0) {
                sb.append('/');
            }
            sb.append(segment);
        }
        return sb.toString();
    }

    private static Path temporaryFileFor(Path target) {
        return target.resolveSibling(TEMP_PREFIX + target.getFileName() + "." + UUID.randomUUID() + TEMP_SUFFIX);
    }

    private static boolean isTemporary(Path file) {
        var name = file.getFileName().toString();
        return name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX);
    }

    private static Optional<Long> sizeOf(Path file) throws IOException {
        try {
            var attributes = Files.readAttributes(file, BasicFileAttributes.class);
            return attributes.isRegularFile() ? Optional.of(attributes.size()) : Optional.empty();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    /**
     * Makes {@code directory} exist durably: creates it (and missing parents) if needed, and syncs
     * its parent once per store, whoever created it, since another thread may have created it and
     * not synced the parent yet.
     */
    private void ensureDirectory(Path directory) throws IOException {
        if (durableDirectories.contains(directory)) {
            return;
        }
        var parent = directory.getParent();
        if (!Files.isDirectory(directory)) {
            // No separate check for a file in the way: another thread may create the directory at any
            // moment, so only createDirectory's own answer tells the two apart.
            if (parent != null) {
                ensureDirectory(parent);
            }
            try {
                Files.createDirectory(directory);
            } catch (FileAlreadyExistsException e) {
                if (!Files.isDirectory(directory)) {
                    throw new FileAlreadyExistsException(directory.toString(), null,
                            "a file is in the way of a directory the checkpoint store needs; move it away or"
                                    + " choose another checkpoint directory");
                }
            }
        }
        if (parent != null) {
            io.syncDirectory(parent);
        }
        durableDirectories.add(directory);
    }

    /** Deletes what a crash left between writing a temporary file and removing its name. */
    private void deleteTemporaryFiles() throws IOException {
        var directories = new ArrayList<Path>();
        for (var tree : List.of(stateRoot, manifestRoot)) {
            Files.walkFileTree(tree, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attributes) throws IOException {
                    if (attributes.isRegularFile() && isTemporary(file)) {
                        io.deleteIfExists(file);
                        if (!directories.contains(file.getParent())) {
                            directories.add(file.getParent());
                        }
                    }
                    return FileVisitResult.CONTINUE;
                }
            });
        }
        for (var directory : directories) {
            io.syncDirectory(directory);
        }
    }

    private boolean sameContent(Path a, Path b) throws IOException {
        try (var left = io.open(a, Set.of(StandardOpenOption.READ));
             var right = io.open(b, Set.of(StandardOpenOption.READ))) {
            if (left.size() != right.size()) {
                return false;
            }
            var l = ByteBuffer.allocate(BUFFER_SIZE);
            var r = ByteBuffer.allocate(BUFFER_SIZE);
            for (long position = 0, size = left.size(); position < size; ) {
                l.clear();
                r.clear();
                int n = (int) Math.min(BUFFER_SIZE, size - position);
                l.limit(n);
                r.limit(n);
                readFully(left, l, position, a);
                readFully(right, r, position, b);
                if (!l.flip().equals(r.flip())) {
                    return false;
                }
                position += n;
            }
            return true;
        }
    }

    private static void readFully(FileChannel channel, ByteBuffer buffer, long position, Path file) throws IOException {
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, position + buffer.position()) < 0) {
                throw new IOException(file + " became shorter while it was read; something other than the"
                        + " checkpoint store is changing its files");
            }
        }
    }

    /** The first {@code size} bytes of a file. */
    private static byte[] readFully(FileChannel channel, int size, Path file) throws IOException {
        var buffer = ByteBuffer.allocate(size);
        readFully(channel, buffer, 0, file);
        return buffer.array();
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    private void deleteQuietly(Path temp, Exception failure) {
        try {
            io.deleteIfExists(temp);
        } catch (IOException | RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    /** Describes a failed file-system operation: which file, what happened, what the user can do. */
    private static IOException failure(String what, Path directory, IOException e) {
        var reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        String advice;
        if (e instanceof AccessDeniedException) {
            advice = "give this process read and write permission on " + directory;
        } else if (reason.contains("No space left") || reason.contains("Disk quota exceeded")) {
            advice = "free space on the file system of " + directory + " or move the checkpoint directory";
        } else if (e instanceof FileAlreadyExistsException) {
            advice = "move away the file in the way, or choose another checkpoint directory";
        } else {
            advice = "check the file system of " + directory + " (mounted, writable, healthy)";
        }
        return new IOException(what + ": " + reason + "; " + advice, e);
    }
}

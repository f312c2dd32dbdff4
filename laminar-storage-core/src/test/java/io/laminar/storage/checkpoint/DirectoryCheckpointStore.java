package io.laminar.storage.checkpoint;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * A test-only {@link CheckpointStore} over a directory, so that checkpoint tests do not wait for the
 * real {@code FileSystemCheckpointStore}: files are written to a temporary name, fsynced and renamed;
 * manifests are a trivial binary format (DataOutputStream fields) followed by the CRC32C of those
 * bytes, in {@code manifests/<id, 20 digits>.manifest}. Thread-safe enough for one writer.
 */
final class DirectoryCheckpointStore implements CheckpointStore {

    private static final int MAGIC = 0x4C4D4E46;
    private final Path root;

    DirectoryCheckpointStore(Path root) throws IOException {
        this.root = root;
        Files.createDirectories(root.resolve("manifests"));
    }

    Path root() {
        return root;
    }

    Path manifestPath(long id) {
        return root.resolve("manifests").resolve(String.format("%020d.manifest", id));
    }

    private Path resolve(String path) throws IOException {
        if (path.isEmpty() || path.startsWith("/") || Arrays.asList(path.split("/")).contains("..")) {
            throw new IOException("path outside the store: " + path);
        }
        return root.resolve(path);
    }

    @Override
    public synchronized StateFileRef writeFile(String path, InputStream content) throws IOException {
        var target = resolve(path);
        Files.createDirectories(target.getParent());
        var temp = target.resolveSibling(target.getFileName() + ".tmp-" + UUID.randomUUID());
        var crc = new CRC32C();
        long size = 0;
        try (var out = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            var buffer = new byte[64 * 1024];
            for (int n; (n = content.read(buffer)) > 0; ) {
                crc.update(buffer, 0, n);
                size += n;
                var bb = java.nio.ByteBuffer.wrap(buffer, 0, n);
                while (bb.hasRemaining()) {
                    out.write(bb);
                }
            }
            out.force(true);
        }
        var ref = new StateFileRef(path, size, String.format("%08x", crc.getValue()));
        if (Files.exists(target)) {
            boolean same = Arrays.equals(Files.readAllBytes(target), Files.readAllBytes(temp));
            Files.delete(temp);
            if (!same) {
                throw new FileAlreadyExistsException(path + " exists with other content: files are immutable");
            }
            return ref;
        }
        move(temp, target);
        return ref;
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
        try (var dir = FileChannel.open(to.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        }
    }

    @Override
    public InputStream openFile(String path) throws IOException {
        return Files.newInputStream(resolve(path));
    }

    @Override
    public Optional<Long> fileSize(String path) throws IOException {
        var p = resolve(path);
        return Files.isRegularFile(p) ? Optional.of(Files.size(p)) : Optional.empty();
    }

    @Override
    public List<String> listFiles() throws IOException {
        var out = new ArrayList<String>();
        try (var walk = Files.walk(root)) {
            walk.filter(Files::isRegularFile).forEach(p -> {
                var rel = root.relativize(p).toString().replace('\\', '/');
                if (!rel.startsWith("manifests/") && !rel.contains(".tmp-")) {
                    out.add(rel);
                }
            });
        }
        out.sort(null);
        return out;
    }

    @Override
    public void deleteFile(String path) throws IOException {
        Files.deleteIfExists(resolve(path));
    }

    @Override
    public synchronized void publishManifest(CheckpointManifest manifest) throws IOException {
        for (var ref : manifest.files()) {
            var size = fileSize(ref.path());
            if (size.isEmpty() || size.get() != ref.size()) {
                throw new IOException("manifest " + manifest.checkpointId() + " references " + ref.path()
                        + " which does not exist with " + ref.size() + " bytes");
            }
        }
        var target = manifestPath(manifest.checkpointId());
        if (Files.exists(target)) {
            throw new CheckpointConflictException("manifest " + manifest.checkpointId() + " was already published");
        }
        var temp = target.resolveSibling(target.getFileName() + ".tmp-" + UUID.randomUUID());
        try (var out = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            var bb = java.nio.ByteBuffer.wrap(encode(manifest));
            while (bb.hasRemaining()) {
                out.write(bb);
            }
            out.force(true);
        }
        move(temp, target);
    }

    /** Writes raw manifest bytes, bypassing every check (tests of damaged or hostile manifests). */
    void writeRawManifest(CheckpointManifest manifest) throws IOException {
        Files.write(manifestPath(manifest.checkpointId()), encode(manifest));
    }

    static byte[] encode(CheckpointManifest m) throws IOException {
        var bytes = new ByteArrayOutputStream();
        var out = new DataOutputStream(bytes);
        out.writeInt(MAGIC);
        out.writeLong(m.checkpointId());
        out.writeLong(m.epoch());
        out.writeLong(m.createdAt().getEpochSecond());
        out.writeInt(m.createdAt().getNano());
        out.writeInt(m.walPositions().size());
        for (long p : m.walPositions()) {
            out.writeLong(p);
        }
        out.writeInt(m.sources().size());
        for (var e : m.sources().entrySet()) {
            out.writeUTF(e.getKey());
            writeMap(out, e.getValue().offsets());
            writeMap(out, e.getValue().metadata());
        }
        out.writeInt(m.operators().size());
        for (var e : m.operators().entrySet()) {
            out.writeUTF(e.getKey());
            var inline = e.getValue().inline();
            out.writeInt(inline.length);
            out.write(inline);
            out.writeInt(e.getValue().stateFiles().size());
            for (var f : e.getValue().stateFiles()) {
                out.writeUTF(f);
            }
        }
        out.writeInt(m.files().size());
        for (var f : m.files()) {
            out.writeUTF(f.path());
            out.writeLong(f.size());
            out.writeUTF(f.crc32c());
        }
        out.writeLong(m.parentCheckpointId() == null ? -1 : m.parentCheckpointId());
        out.writeLong(m.stateBytes());
        out.writeLong(m.writtenBytes());
        out.writeLong(m.watermark());
        out.flush();
        var crc = new CRC32C();
        crc.update(bytes.toByteArray());
        out.writeLong(crc.getValue());
        out.flush();
        return bytes.toByteArray();
    }

    private static void writeMap(DataOutputStream out, Map<String, String> map) throws IOException {
        out.writeInt(map.size());
        for (var e : map.entrySet()) {
            out.writeUTF(e.getKey());
            out.writeUTF(e.getValue());
        }
    }

    private static Map<String, String> readMap(DataInputStream in) throws IOException {
        int n = in.readInt();
        var map = new LinkedHashMap<String, String>();
        for (int i = 0; i < n; i++) {
            map.put(in.readUTF(), in.readUTF());
        }
        return map;
    }

    @Override
    public Optional<CheckpointManifest> readManifest(long id) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(manifestPath(id));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        try {
            if (bytes.length < 12) {
                throw new IOException("too short");
            }
            var crc = new CRC32C();
            crc.update(bytes, 0, bytes.length - 8);
            long stored = java.nio.ByteBuffer.wrap(bytes, bytes.length - 8, 8).getLong();
            if (stored != crc.getValue()) {
                throw new IOException("checksum mismatch");
            }
            var in = new DataInputStream(new ByteArrayInputStream(bytes, 0, bytes.length - 8));
            if (in.readInt() != MAGIC) {
                throw new IOException("bad magic");
            }
            long checkpointId = in.readLong();
            long epoch = in.readLong();
            var createdAt = Instant.ofEpochSecond(in.readLong(), in.readInt());
            var positions = new ArrayList<Long>();
            for (int i = in.readInt(); i > 0; i--) {
                positions.add(in.readLong());
            }
            var sources = new LinkedHashMap<String, ConnectorCheckpoint>();
            for (int i = in.readInt(); i > 0; i--) {
                var name = in.readUTF();
                sources.put(name, new ConnectorCheckpoint(readMap(in), readMap(in)));
            }
            var operators = new LinkedHashMap<String, OperatorCheckpoint>();
            for (int i = in.readInt(); i > 0; i--) {
                var name = in.readUTF();
                var inline = new byte[in.readInt()];
                in.readFully(inline);
                var files = new ArrayList<String>();
                for (int j = in.readInt(); j > 0; j--) {
                    files.add(in.readUTF());
                }
                operators.put(name, new OperatorCheckpoint(inline, files));
            }
            var files = new ArrayList<StateFileRef>();
            for (int i = in.readInt(); i > 0; i--) {
                var path = in.readUTF();
                files.add(new StateFileRef(path, in.readLong(), in.readUTF()));
                resolve(path);
            }
            long parent = in.readLong();
            var manifest = new CheckpointManifest(checkpointId, epoch, createdAt, positions, sources, operators, files,
                    parent < 0 ? null : parent, in.readLong(), in.readLong(), in.readLong());
            if (checkpointId != id) {
                throw new IOException("it holds the id " + checkpointId);
            }
            return Optional.of(manifest);
        } catch (IOException | RuntimeException e) {
            throw new CheckpointCorruptException(id, "the manifest of checkpoint " + id + " is unusable: "
                    + e.getMessage(), e);
        }
    }

    @Override
    public List<Long> listCheckpoints() throws IOException {
        var out = new ArrayList<Long>();
        try (var list = Files.list(root.resolve("manifests"))) {
            list.map(p -> p.getFileName().toString()).filter(n -> n.matches("\\d{20}\\.manifest"))
                    .forEach(n -> out.add(Long.parseLong(n.substring(0, 20))));
        }
        out.sort(null);
        return out;
    }

    @Override
    public void deleteManifest(long id) throws IOException {
        Files.deleteIfExists(manifestPath(id));
    }
}

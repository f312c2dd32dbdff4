package io.laminar.storage.percore;

import io.laminar.storage.KeyGroups;
import io.laminar.storage.StorageException;
import io.laminar.storage.io.FileIO;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.EnumSet;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * The layout of a per-core WAL directory: how many cores it has logs for and how many key groups
 * its keys are spread over ({@link KeyGroups}). Kept in the file {@value #FILE_NAME} of the
 * directory, written once when the directory is created (after every core's log exists) and never
 * changed: a directory with another layout is a new directory (a rescale writes one beside the old
 * one and switches over, see {@code io.laminar.storage.checkpoint.Rescaler}). Immutable.
 *
 * <h2>The file, byte by byte (little-endian, 20 bytes)</h2>
 * <pre>
 * offset size field
 *  0     4    magic 'L' 'K' 'G' 'L' (0x4C474B4C read as a little-endian int)
 *  4     2    format version, 1
 *  6     2    reserved, 0
 *  8     4    cores: the number of logs, core-0000 to core-(cores - 1)
 * 12     4    keyGroups: key group g of the {@link KeyGroups} hash belongs to core g * cores / keyGroups
 * 16     4    CRC32C of bytes 0..15
 * </pre>
 * It is written to {@value #FILE_NAME}{@code .tmp}, forced, renamed over {@value #FILE_NAME} and the
 * directory is synced, so it is either absent or complete. A file of another length, magic, version
 * or checksum is damage, never guessed around: opening fails naming the file.
 *
 * <h2>A directory without the file</h2>
 * Directories written before key groups existed have logs but no layout file. Their keys were placed
 * by {@code floorMod(mix(hash), cores)}, which is not the key-group assignment, so every key has to be
 * re-placed (a rescale, even to the same number of cores) before such a directory serves keys. A
 * directory whose logs hold no record at all is new, whatever else it holds, and gets the file.
 *
 * @param cores     the number of cores (1 to {@link CoreRecordFormat#MAX_CORES})
 * @param keyGroups the number of key groups (at least {@code cores})
 */
public record WalLayout(int cores, int keyGroups) {

    /** The name of the layout file in a per-core WAL directory. */
    public static final String FILE_NAME = "per-core.layout";

    static final int MAGIC = 0x4C474B4C;
    static final short VERSION = 1;
    static final int LENGTH = 20;

    public WalLayout {
        if (cores < 1 || cores > CoreRecordFormat.MAX_CORES) {
            throw new IllegalArgumentException("cores must be between 1 and " + CoreRecordFormat.MAX_CORES
                    + ", but was " + cores);
        }
        KeyGroups.checkKeyGroups(keyGroups);
        if (keyGroups < cores) {
            throw new IllegalArgumentException("keyGroups must be at least cores (" + cores + "), but was "
                    + keyGroups);
        }
    }

    /** The bytes of the file. */
    byte[] encode() {
        var buffer = ByteBuffer.allocate(LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(MAGIC).putShort(VERSION).putShort((short) 0).putInt(cores).putInt(keyGroups);
        var crc = new CRC32C();
        crc.update(buffer.array(), 0, LENGTH - 4);
        buffer.putInt((int) crc.getValue());
        return buffer.array();
    }

    /**
     * The layout of the directory, or empty if it has no layout file (or is no directory).
     *
     * @throws StorageException naming the file if it cannot be read or is damaged
     */
    public static Optional<WalLayout> read(Path directory) {
        if (!Files.isDirectory(directory)) {
            return Optional.empty(); // no directory yet, or something else in its way: opening it says which
        }
        var file = directory.resolve(FILE_NAME);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new StorageException("cannot read the per-core WAL layout file " + file + ": " + e, e);
        }
        var problem = problemWith(bytes);
        if (problem != null) {
            throw new StorageException("the per-core WAL layout file " + file + " is damaged: " + problem
                    + ". It records the number of cores and of key groups of the logs beside it. Restore it from a"
                    + " backup; or delete it: the directory is then treated as one written before key groups, and the"
                    + " next start through the runtime re-places every key (a rescale), which is always correct");
        }
        var buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        try {
            return Optional.of(new WalLayout(buffer.getInt(8), buffer.getInt(12)));
        } catch (IllegalArgumentException e) {
            throw new StorageException("the per-core WAL layout file " + file + " holds impossible values (its"
                    + " checksum matches, so they were written so): " + e.getMessage(), e);
        }
    }

    private static String problemWith(byte[] bytes) {
        if (bytes.length != LENGTH) {
            return "it has " + bytes.length + " bytes instead of " + LENGTH;
        }
        var buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        var crc = new CRC32C();
        crc.update(bytes, 0, LENGTH - 4);
        int stored = buffer.getInt(LENGTH - 4);
        if (stored != (int) crc.getValue()) {
            return String.format("its checksum does not match: stored CRC32C 0x%08x, computed 0x%08x", stored,
                    (int) crc.getValue());
        }
        if (buffer.getInt(0) != MAGIC) {
            return String.format("its magic is 0x%08x instead of 0x%08x", buffer.getInt(0), MAGIC);
        }
        if (buffer.getShort(4) != VERSION) {
            return "its format version is " + buffer.getShort(4) + ", this library reads " + VERSION;
        }
        return null;
    }

    /**
     * Whether {@code directory} holds a file of some core's log (a segment or a lock file); false if
     * it does not exist.
     */
    public static boolean holdsCoreLogs(Path directory) throws IOException {
        if (!Files.isDirectory(directory)) {
            return false;
        }
        try (var files = Files.list(directory)) {
            return files.anyMatch(p -> io.laminar.storage.wal.WalFileNames.logName(p.getFileName().toString())
                    .map(CoreRecordFormat::core).orElse(-1) >= 0);
        }
    }

    /**
     * Whether {@code name} is a file of a per-core WAL's own: its layout file, or a file of a core's
     * log (segment, lock, spare segment, dropped bytes), named {@code core-NNNN...}.
     */
    public static boolean isLayoutFile(String name) {
        return name.equals(FILE_NAME) || name.equals(FILE_NAME + ".tmp")
                || name.length() >= 9 && CoreRecordFormat.core(name.substring(0, 9)) >= 0;
    }

    /**
     * Deletes every file of the core logs in {@code directory} (segments, lock files, spare segments)
     * and its layout file, and syncs the directory: for a directory whose logs hold no record (a
     * creation a crash interrupted, or one never written to), which is then created afresh with
     * another number of cores. The caller checks that no log holds a record.
     */
    public static void deleteEmptyLogs(Path directory, FileIO io) throws IOException {
        try (var files = Files.list(directory)) {
            for (var path : files.toList()) {
                if (isLayoutFile(path.getFileName().toString())) {
                    io.deleteIfExists(path);
                }
            }
        }
        io.syncDirectory(directory);
    }

    /**
     * Writes this layout as the layout file of {@code directory}, atomically: temporary file, force,
     * rename, directory sync.
     */
    public void write(Path directory, FileIO io) throws IOException {
        var file = directory.resolve(FILE_NAME);
        var temporary = directory.resolve(FILE_NAME + ".tmp");
        try (var channel = io.open(temporary, EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING))) {
            var buffer = ByteBuffer.wrap(encode());
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            channel.force(true);
        }
        io.atomicMove(temporary, file);
        io.syncDirectory(directory);
    }
}

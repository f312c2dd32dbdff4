package io.laminar.storage.store;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where checkpoints live: immutable state files and the manifests that reference them, on a file
 * system or in an object store. Every implementation passes the same contract test suite.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>{@link #writeFile} makes a file durable under its final name atomically: a reader sees the
 *       whole file or none. Files are immutable: writing an existing path with other content fails.</li>
 *   <li>{@link #publishManifest} publishes a manifest atomically, and only once every file it
 *       references exists with the recorded size. A manifest id is written once: a publish of an id
 *       that is published with other bytes fails with {@link CheckpointConflictException} (two
 *       writers never overwrite each other's manifest); publishing the very same manifest again
 *       succeeds and changes nothing (a retry whose earlier attempt landed, its answer lost).</li>
 *   <li>{@link #readManifest} refuses a malformed manifest, one of a newer major format, or one
 *       naming a path outside the store, with a {@link CheckpointCorruptException} that names the
 *       checkpoint; unknown fields of a newer minor format are ignored.</li>
 *   <li>Listing returns what is published, in id order; deleting is idempotent.</li>
 *   <li>Ownership: {@link #claimOwnership()} makes this store object the owner of the store with a
 *       new, larger owner epoch, created only if absent (two claimants never get the same epoch).
 *       From then on, once another store object has claimed a newer epoch, {@link #publishManifest},
 *       {@link #deleteFile} and {@link #deleteManifest} of this one fail with
 *       {@link io.laminar.storage.FencedException} and change nothing: a fenced owner cannot publish
 *       a checkpoint, and its retention or orphan cleanup cannot delete a file of the new owner.
 *       A store object that never claimed is not checked (one owner, or read-only tools).
 *       Where the check and the operation cannot be one step (S3), a fenced owner paused between
 *       them completes that one operation after the claim: the claim's fence point
 *       ({@link OwnerFences}) makes such a late manifest void for every later owner, and state
 *       file names carry their writer's epoch so that a late delete never names a newer
 *       owner's file.</li>
 * </ul>
 * Paths are relative to the store root with '/' separators. Implementations are thread-safe.
 */
public interface CheckpointStore extends AutoCloseable {

    /**
     * Writes an immutable file durably and returns its reference (size and CRC32C). Writing the
     * same bytes to an existing path again succeeds (a retry); other bytes fail with
     * {@link java.nio.file.FileAlreadyExistsException} and leave the file as it was. The default
     * streams {@code content} through {@link #writeFile(String, ContentWriter)}; a failure to read
     * {@code content} is a {@link ContentReadException}, never described as a problem of the store.
     *
     * @throws IllegalArgumentException if the path is not a relative path of plain names (see
     *                                  {@link StateFileRef#path()})
     */
    default StateFileRef writeFile(String path, InputStream content) throws IOException {
        java.util.Objects.requireNonNull(content, "content");
        return writeFile(path, out -> {
            var buffer = new byte[64 * 1024];
            while (true) {
                int n;
                try {
                    n = content.read(buffer);
                } catch (IOException e) {
                    throw new ContentReadException("cannot write state file '" + path + "': reading the content to "
                            + "write failed (" + e.getMessage() + "); nothing was stored", e);
                }
                if (n < 0) {
                    return;
                }
                out.write(buffer, 0, n);
            }
        });
    }

    /**
     * Writes an immutable file whose bytes {@code content} produces, with the same guarantees as
     * {@link #writeFile(String, InputStream)}: the producer streams straight into the store. An
     * {@link IOException} the producer throws fails the write and nothing is stored.
     */
    StateFileRef writeFile(String path, ContentWriter content) throws IOException;

    /** The caller's content could not be read while writing a file: not a problem of the store. */
    final class ContentReadException extends IOException {
        private static final long serialVersionUID = 1L;

        public ContentReadException(String message, IOException cause) {
            super(message, cause);
        }
    }

    /** Produces a file's bytes into the stream it is given (and does not close it). */
    @FunctionalInterface
    interface ContentWriter {
        void writeTo(OutputStream out) throws IOException;
    }

    /**
     * How many state files a checkpoint writes into this store at once (at least 1): the cores'
     * files go up this many at a time, each through its own {@link #writeFile(String, ContentWriter)}
     * call on its own thread. The default, 1, writes them one after the other: on a local disk
     * parallel writes and fsyncs gain little and would take CPU from the core threads. A store whose
     * writes wait on the network and on the server returns more, so that the end of one file's
     * upload (its last parts, its completion) overlaps the next file's. Orphan cleanup and retention
     * delete files this many at a time too, each with its own {@link #deleteFile} call.
     */
    default int concurrentFileWrites() {
        return 1;
    }

    /** Opens a file for reading; {@link java.nio.file.NoSuchFileException} if there is none. */
    InputStream openFile(String path) throws IOException;

    /** The size of a file, or empty if it does not exist. */
    Optional<Long> fileSize(String path) throws IOException;

    /** Every state file in the store, published or not (for orphan cleanup). */
    List<String> listFiles() throws IOException;

    /** Deletes a file if it exists. */
    void deleteFile(String path) throws IOException;

    /**
     * Publishes a manifest atomically, after checking that its files exist.
     *
     * @throws java.nio.file.NoSuchFileException if a file it references is not in the store
     * @throws CheckpointCorruptException        if a file it references has another size than recorded
     * @throws CheckpointConflictException       if a manifest with this id is already published with other
     *                                           content (the same content again is a retry: it succeeds)
     * @throws IllegalArgumentException          if the manifest could not be read back (see
     *                                           {@link ManifestCodec#encode})
     */
    void publishManifest(CheckpointManifest manifest) throws IOException;

    /**
     * Reads a published manifest, or empty if there is none with that id.
     *
     * @throws CheckpointCorruptException if the manifest is refused (see {@link ManifestCodec})
     */
    Optional<CheckpointManifest> readManifest(long checkpointId) throws IOException;

    /** The ids of the published manifests, ascending. */
    List<Long> listCheckpoints() throws IOException;

    /** Deletes a manifest (not its files) if it exists. */
    void deleteManifest(long checkpointId) throws IOException;

    /**
     * Makes this store object the owner of the store: creates owner epoch {@code n + 1}, {@code n}
     * being the newest epoch claimed so far (0 if none), only if absent, retrying with the next epoch
     * when another claimant won it, then records the epoch's fence point: the newest checkpoint id
     * it lists after the epoch exists ({@link #ownerFences()}). Every older owner is fenced from then
     * on (see the contract).
     *
     * @return the epoch claimed
     * @throws IOException if the store cannot be read or written
     */
    long claimOwnership() throws IOException;

    /**
     * The fence point of every owner epoch that recorded one: epoch to the newest checkpoint id
     * listed right after that epoch was claimed (-1: none). {@link #claimOwnership()} records it
     * before it returns; {@link OwnerFences} says what it makes void. Empty if nobody ever claimed.
     *
     * @throws IOException if the store cannot be read
     * @throws CheckpointCorruptException if a recorded fence point is damaged
     */
    Map<Long, Long> ownerFences() throws IOException;

    /** The newest owner epoch claimed in this store by anyone, or 0 if none. Claims nothing. */
    long newestOwnerEpoch() throws IOException;

    /** The owner epoch this store object claimed, or -1 if it has not claimed one. */
    long ownerEpoch();

    /**
     * Removes what interrupted writes left behind that is not a file of the store and so is not
     * reached by deleting orphan files (for example an object store's incomplete multipart uploads),
     * and returns how many such leftovers it removed. Never touches a write under way in this store.
     * The checkpoint orchestration calls it when it deletes orphans. The default does nothing (a
     * store that cleans up when it is opened, as the file-system store does, needs nothing more).
     */
    default int cleanUpIncompleteWrites() throws IOException {
        return 0;
    }

    /** Releases resources; the default does nothing. */
    @Override
    default void close() throws IOException {
    }
}

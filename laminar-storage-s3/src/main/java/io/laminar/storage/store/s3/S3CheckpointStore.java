package io.laminar.storage.store.s3;

import io.laminar.storage.FencedException;
import io.laminar.storage.StorageException;
import io.laminar.storage.concurrent.Threads;
import io.laminar.storage.store.CheckpointConflictException;
import io.laminar.storage.store.CheckpointCorruptException;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.ManifestCodec;
import io.laminar.storage.store.OwnerFences;
import io.laminar.storage.store.StateFileRef;
import io.laminar.storage.store.StorePaths;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.AbortMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.ChecksumAlgorithm;
import software.amazon.awssdk.services.s3.model.ChecksumMode;
import software.amazon.awssdk.services.s3.model.ChecksumType;
import software.amazon.awssdk.services.s3.model.CompleteMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.DeleteObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ListMultipartUploadsRequest;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.model.UploadPartRequest;

/**
 * A {@link CheckpointStore} in an S3 bucket (or any S3-compatible object store), built on an AWS SDK
 * v2 {@link S3Client}. It keeps the same contract as the file-system store and passes the same
 * contract tests; what differs is how each guarantee is obtained.
 *
 * <h2>Key layout</h2>
 * <pre>
 * &lt;prefix&gt;state/&lt;hh&gt;/&lt;path&gt;                          state file of store path &lt;path&gt;, e.g.
 *                                                   state/4e/state/core-0000/00000000000000000042-full.lsf
 * &lt;prefix&gt;manifests/checkpoint-&lt;id, 20 digits&gt;.json   the published manifest ({@link ManifestCodec})
 * &lt;prefix&gt;owner/epoch-&lt;n, 20 digits&gt;                  an owner epoch claimed ({@link #claimOwnership()}); empty
 * &lt;prefix&gt;owner/fence-&lt;n, 20 digits&gt;                  its fence point: the newest checkpoint id listed after the
 *                                                   claim, decimal ASCII and a newline, -1 if none
 * </pre>
 * {@code <hh>} is the low byte, as two lowercase hex digits, of the CRC32C of the path's UTF-8
 * bytes: it spreads the state files (and every part upload and download of them) over 256 key
 * prefixes, so that S3 partitions the load instead of funnelling it through one hot prefix. Listing
 * strips it again and returns the store's own relative paths, sorted; a key under {@code state/}
 * whose shard does not match its path was not written by this store and is not listed. Manifests
 * are few, written once per checkpoint, and kept under one prefix so that one listing finds them
 * all, in id order (20 digits sort as numbers).
 *
 * <h2>Immutable objects, published once</h2>
 * Every write is a conditional write with {@code If-None-Match: *}: the object is created only if
 * its key does not exist, atomically on the server. A state file whose key exists already is
 * compared with what was written by size and CRC32C (the identity a manifest records for it too):
 * the same, and the write is a retry that succeeds; other bytes, and it fails with
 * {@link FileAlreadyExistsException} and the stored object stays as it was. A manifest is written
 * last, after a HEAD of every file it references has found it with the recorded size; of two
 * writers publishing the same checkpoint id exactly one succeeds and the other gets
 * {@link CheckpointConflictException}. (When a publish finds the manifest exists with exactly its
 * own bytes, an earlier attempt of it landed and only its answer was lost, retried by the store or
 * by the SDK inside one call, and it succeeds.)
 * The server must support conditional writes (AWS S3 since 2024, MinIO, S3Proxy do); one that
 * ignores the header would silently lose this guarantee.
 *
 * <h2>Ownership</h2>
 * {@link #claimOwnership()} lists {@code owner/} and creates {@code owner/epoch-<n+1>} with
 * {@code If-None-Match: *} (a lost race moves on to the next epoch), so two claimants never get the
 * same epoch. A store that claimed epoch {@code e} lists {@code owner/} before each publish and
 * delete and refuses with {@link FencedException} if a newer epoch exists. S3 has no conditional
 * delete or lock that would make the check and the operation one step: an owner paused for longer
 * than a claim takes, exactly between its check and its request, can still complete that one
 * request. So a claim also lists the manifests once its epoch exists and records the newest id as
 * the epoch's fence point in {@code owner/fence-<n>} (created with {@code If-None-Match: *}): a
 * manifest of an older owner with a larger id is void for recovery and retention
 * ({@link OwnerFences}), and state files carry their writer's epoch in their names, so a late delete
 * never names a newer owner's file.
 *
 * <h2>Uploads</h2>
 * {@link #writeFile(String, ContentWriter)} streams: the producer's bytes fill a part buffer of
 * {@code partSize} bytes; a file that fits in one buffer goes up as one PUT, a larger one as a
 * multipart upload whose parts go up in parallel on {@code uploadThreads} threads while the producer
 * keeps writing. A checkpoint writes {@value #CONCURRENT_FILES} state files at once
 * ({@link #concurrentFileWrites()}), so that one file's last parts and its completion (which on
 * some servers re-reads the whole object) overlap the next file's upload. The {@code uploadThreads}
 * parts in flight are shared by all of the store's uploads (a semaphore of the store, not of each
 * upload): at most {@code uploadThreads} part buffers are in flight plus one being filled per
 * upload under way, so memory is bounded whatever the file size and the number of files, and
 * nothing is staged on disk. A failed upload is aborted, so it
 * leaves nothing behind (and no object is created: a multipart upload becomes visible only when
 * completed). Uploads that a crash left incomplete are aborted by {@link #cleanUpIncompleteWrites()}
 * once they are older than {@code incompleteUploadMaxAge}; a bucket lifecycle rule
 * ({@code AbortIncompleteMultipartUpload}) is a good second line.
 *
 * <h2>Integrity</h2>
 * Every upload carries the CRC32C of its bytes in {@code x-amz-checksum-crc32c}, the SDK's flexible
 * checksum field: the store computes it (so the SDK neither computes it again nor adds a trailer) and
 * the server refuses a part or object whose bytes do not match. Multipart uploads ask for a
 * full-object CRC32C ({@code ChecksumType.FULL_OBJECT}) and state the expected one at completion, so
 * the stored object carries the CRC32C of its whole content, as a single PUT's does. Each byte is
 * checksummed once: a part by the upload thread that sends it, and the full-object CRC32C is the
 * parts' combined ({@code Crc32c.combine}), not a second pass over the bytes on the writing thread.
 * Downloads are GETs; the bytes read are checksummed and, at the end, compared with the object's
 * full-object CRC32C when the server reports one, and with its size always; a mismatch fails the
 * read with {@link CheckpointCorruptException}. On top of that the manifest records every file's
 * CRC32C, which recovery checks before it uses a byte.
 *
 * <h2>Downloads</h2>
 * One S3 connection carries far less than a machine's link (AWS advises ranged GETs in parallel),
 * so {@link #openFile} reads a state file of at least twice {@code downloadRangeSize} in ranges of
 * that size: the first through the file's GET, the next {@code rangesAhead} as ranged GETs pinned to
 * its ETag ({@code If-Match}) on the store's download threads, which fill buffers of their own while
 * the reader takes the bytes in order. The checks above are the same (the bytes are checksummed in
 * order, and the first GET reports the full-object CRC32C). A reader holds at most
 * {@code rangesAhead + 1} buffers of {@code downloadRangeSize}; recovery reads
 * {@code RecoveryOptions.fetchThreads} files at once (default 4: with the defaults here, 4 x 5 x
 * 8 MiB = 160 MiB at most). A broken transfer, of the first GET or of a range, resumes where it
 * stopped.
 *
 * <h2>Retries and errors</h2>
 * A request that fails with throttling (503 SlowDown, 429), a 5xx, a conflicting concurrent
 * conditional write (409) or an I/O error is retried up to {@code maxAttempts} times with
 * exponential backoff and full jitter (the client's own retry policy applies inside each attempt).
 * A download that breaks off resumes with a ranged GET pinned to the object's ETag. Other errors are
 * not retried and are reported with the bucket, the key and what to do: a missing bucket, access
 * denied (with the permissions the store needs), an unknown access key or a wrong secret key. The
 * store never sees a secret and never puts credentials, request signatures or headers in a message.
 *
 * <h2>Thread-safety</h2>
 * Thread-safe. The store owns a small pool of upload threads ({@code laminar-s3-upload-N}) and the
 * download threads of ranged reads ({@code laminar-s3-download-N}, one per ranged GET under way,
 * ended after 30 s idle), stopped by {@link #close()} (which fails the reads under way); the
 * client belongs to the caller and is closed only if {@link Builder#closeClient(boolean)} says so.
 */
public final class S3CheckpointStore implements CheckpointStore {

    private static final Logger log = LoggerFactory.getLogger(S3CheckpointStore.class);

    static final String STATE_PREFIX = "state/";
    static final String MANIFEST_PREFIX = "manifests/checkpoint-";
    static final String OWNER_PREFIX = "owner/epoch-";
    static final String FENCE_PREFIX = "owner/fence-";
    static final String MANIFEST_SUFFIX = ".json";
    /** S3 refuses parts smaller than 5 MiB (except the last one) and larger than 5 GiB. */
    public static final long MIN_PART_SIZE = 5L << 20;
    public static final long MAX_PART_SIZE = 5L << 30;
    public static final long DEFAULT_PART_SIZE = 16L << 20;
    /** The default size of the ranges a large state file is read in (AWS advises 8 or 16 MiB). */
    public static final long DEFAULT_DOWNLOAD_RANGE_SIZE = 8L << 20;
    /** The default number of ranged GETs a reader of a state file runs ahead of what it returned. */
    public static final int DEFAULT_RANGES_AHEAD = 4;
    /** How much of the first part buffer is allocated at once: small files stay small. */
    private static final int FIRST_BUFFER = 64 * 1024;
    private static final int COPY_BUFFER = 64 * 1024;
    /** How many state files a checkpoint writes into this store at once; see {@link #concurrentFileWrites()}. */
    static final int CONCURRENT_FILES = 2;

    private final S3Client client;
    private final String bucket;
    private final String prefix;
    private final int partSize;
    private final int uploadThreads;
    private final int downloadRangeSize;
    private final int rangesAhead;
    private final int maxAttempts;
    private final Duration retryBaseDelay;
    private final Duration retryMaxDelay;
    private final Duration incompleteUploadMaxAge;
    private final boolean closeClient;
    private final ExecutorService uploads;
    /** Runs the ranged GETs of {@link S3ObjectStream}s: a thread per GET under way. */
    private final ExecutorService downloads;
    /**
     * Permits for parts in flight, {@code uploadThreads} of them, shared by every upload under way:
     * with several files written at once the part buffers stay bounded by the store, not per file.
     */
    private final Semaphore partsInFlight;
    /**
     * Part buffers kept between uploads: a checkpoint uploads gigabytes through a few buffers of
     * {@code partSize}, and allocating them afresh each time (arrays that large are humongous
     * objects for G1) would make the collector mark the whole heap, state included, over and over.
     */
    private final BlockingQueue<byte[]> buffers;
    /** Upload ids of this store's multipart uploads under way: cleanup never aborts them. */
    private final Set<String> activeUploads = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;
    private volatile long ownerEpoch = -1;
    private volatile java.util.function.Consumer<String> pausePoint = at -> { };

    private S3CheckpointStore(Builder b) {
        this.client = b.client;
        this.bucket = b.bucket;
        this.prefix = b.prefix;
        this.partSize = (int) b.partSize;
        this.uploadThreads = b.uploadThreads;
        this.downloadRangeSize = (int) b.downloadRangeSize;
        this.rangesAhead = b.rangesAhead;
        this.maxAttempts = b.maxAttempts;
        this.retryBaseDelay = b.retryBaseDelay;
        this.retryMaxDelay = b.retryMaxDelay;
        this.incompleteUploadMaxAge = b.incompleteUploadMaxAge;
        this.closeClient = b.closeClient;
        var pool = new ThreadPoolExecutor(uploadThreads, uploadThreads, 30, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), Threads.numberedDaemonFactory("laminar-s3-upload-"));
        pool.allowCoreThreadTimeOut(true);
        this.uploads = pool;
        // Unbounded, but never more threads than ranged GETs under way: rangesAhead per open reader.
        this.downloads = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS, new SynchronousQueue<>(),
                Threads.numberedDaemonFactory("laminar-s3-download-"));
        this.partsInFlight = new Semaphore(uploadThreads);
        this.buffers = new ArrayBlockingQueue<>(uploadThreads + CONCURRENT_FILES);
    }

    /**
     * A builder of a store in {@code bucket} that sends every request through {@code client} (for
     * an S3-compatible server, configure the client's endpoint and path-style access).
     */
    public static Builder builder(S3Client client, String bucket) {
        return new Builder(client, bucket);
    }

    /** The bucket. */
    public String bucket() {
        return bucket;
    }

    /** The key prefix every object of this store starts with: empty, or ending with '/'. */
    public String prefix() {
        return prefix;
    }

    /** The size of the parts of a multipart upload, and the largest file sent with one PUT. */
    public int partSize() {
        return partSize;
    }

    // ---- files --------------------------------------------------------------------------------

    /** Streams the producer's bytes into one PUT or a parallel multipart upload; see the class comment. */
    @Override
    public StateFileRef writeFile(String path, ContentWriter content) throws IOException {
        Objects.requireNonNull(content, "content");
        var key = stateKey(path);
        checkOpen();
        var upload = new Upload(path, key);
        try {
            content.writeTo(upload);
            return upload.finish();
        } catch (IOException | RuntimeException | Error e) {
            upload.abort(e);
            throw e;
        }
    }

    /**
     * {@value #CONCURRENT_FILES}: an upload waits on the network and the server more than on this
     * machine, and the end of one file's upload (the last parts in flight, then the completion,
     * which some servers spend re-reading the object) is time the next file's upload can use. More
     * files at once would not send more bytes at once: the {@code uploadThreads} parts in flight
     * are shared by the store's uploads.
     */
    @Override
    public int concurrentFileWrites() {
        return CONCURRENT_FILES;
    }

    @Override
    public InputStream openFile(String path) throws IOException {
        var key = stateKey(path);
        return S3ObjectStream.open(this, key, () -> "state file '" + path + "'", downloadRangeSize, rangesAhead);
    }

    @Override
    public Optional<Long> fileSize(String path) throws IOException {
        var key = stateKey(path);
        return head(key, "read the size of state file '" + path + "'").map(HeadObjectResponse::contentLength);
    }

    @Override
    public List<String> listFiles() throws IOException {
        var root = prefix + STATE_PREFIX;
        var paths = new ArrayList<String>();
        for (var object : list(root, "list the state files")) {
            var rest = object.key().substring(root.length());
            // "<hh>/<path>": anything else under state/ is not this store's.
            if (rest.length() > 3 && rest.charAt(2) == '/' && rest.substring(0, 2).equals(shard(rest.substring(3)))
                    && StorePaths.problemWith(rest.substring(3)) == null) {
                paths.add(rest.substring(3));
            } else {
                log.debug("s3://{}/{} is not a state file of this store; not listed", bucket, object.key());
            }
        }
        paths.sort(null);
        return paths;
    }

    @Override
    public void deleteFile(String path) throws IOException {
        var key = stateKey(path);
        checkOwner("delete state file '" + path + "'");
        delete(key, "delete state file '" + path + "'");
    }

    // ---- manifests ----------------------------------------------------------------------------

    @Override
    public void publishManifest(CheckpointManifest manifest) throws IOException {
        var bytes = ManifestCodec.encode(manifest); // refuses what could not be read back
        long id = manifest.checkpointId();
        // One HEAD per file, in parallel on the upload pool (idle now: the files are written).
        var heads = new ArrayList<Future<Optional<HeadObjectResponse>>>();
        for (var ref : manifest.files()) {
            var key = stateKey(ref.path());
            heads.add(uploads.submit(() -> head(key, "check state file '" + ref.path() + "' of checkpoint " + id)));
        }
        for (int i = 0; i < heads.size(); i++) {
            var ref = manifest.files().get(i);
            var key = stateKey(ref.path());
            var head = await(heads.get(i), "check the state files of checkpoint " + id);
            if (head.isEmpty()) {
                throw new NoSuchFileException(uri(key), null, "cannot publish checkpoint " + id + ": its state file '"
                        + ref.path() + "' is not in the store; write every file before publishing the manifest");
            }
            if (head.get().contentLength() != ref.size()) {
                throw new CheckpointCorruptException(id, "Cannot publish checkpoint " + id + ": its state file '"
                        + ref.path() + "' (" + uri(key) + ") has " + head.get().contentLength()
                        + " bytes, but the manifest records " + ref.size() + " bytes. Write the file again under a new"
                        + " path and reference that one.");
            }
        }
        var key = manifestKey(id);
        var crc = crc32c(bytes, 0, bytes.length);
        checkOwner("publish checkpoint " + id);
        try {
            call("publish the manifest of checkpoint " + id, key, () -> client.putObject(PutObjectRequest.builder()
                            .bucket(bucket).key(key).ifNoneMatch("*").contentType("application/json")
                            .checksumCRC32C(base64(crc)).build(),
                    RequestBody.fromContentProvider(() -> new ByteArrayInputStream(bytes), bytes.length,
                            "application/json")));
        } catch (PreconditionFailed e) {
            // An earlier attempt may have landed with its answer lost, retried by this store or by the
            // SDK inside one call (which the store cannot see): then the manifest is ours, byte for byte.
            if (Arrays.equals(bytes, rereadManifest(key, id))) {
                return;
            }
            throw new CheckpointConflictException("Checkpoint " + id + " is already published (" + uri(key)
                    + "): another writer published this id first, and a manifest is never overwritten. Two writers"
                    + " must not share one store prefix; give each its own.");
        }
    }

    /** The manifest a publish found in its way (412), or null if it is larger than any manifest (not ours). */
    private byte[] rereadManifest(String key, long id) throws IOException {
        try {
            return readManifestObject(key, "the manifest of checkpoint " + id + " that its publish found").bytes();
        } catch (NoSuchFileException e) {
            // Not the contract's NoSuchFileException of publishManifest (a missing state file).
            throw new IOException("cannot publish the manifest of checkpoint " + id + ": " + uri(key) + " existed when"
                    + " it was written, and was gone when it was read back (deleted meanwhile by another writer?);"
                    + " whether this publish landed is unknown. Check that no other writer uses this store prefix,"
                    + " then take the checkpoint again.", e);
        }
    }

    @Override
    public Optional<CheckpointManifest> readManifest(long checkpointId) throws IOException {
        var key = manifestKey(checkpointId);
        ManifestObject object;
        try {
            object = readManifestObject(key, "the manifest of checkpoint " + checkpointId);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        if (object.bytes() == null) {
            throw ManifestCodec.refuseOversized(checkpointId, uri(key), object.size());
        }
        return Optional.of(ManifestCodec.decode(object.bytes(), uri(key), checkpointId));
    }

    @Override
    public List<Long> listCheckpoints() throws IOException {
        var root = prefix + MANIFEST_PREFIX;
        var ids = new ArrayList<Long>();
        for (var object : list(root, "list the checkpoint manifests")) {
            var rest = object.key().substring(root.length());
            if (rest.length() == 20 + MANIFEST_SUFFIX.length() && rest.endsWith(MANIFEST_SUFFIX)
                    && rest.chars().limit(20).allMatch(c -> c >= '0' && c <= '9')) {
                try {
                    ids.add(Long.parseLong(rest.substring(0, 20)));
                } catch (NumberFormatException e) {
                    log.debug("s3://{}/{} is not a manifest of this store; not listed", bucket, object.key());
                }
            }
        }
        ids.sort(null);
        return ids;
    }

    @Override
    public void deleteManifest(long checkpointId) throws IOException {
        checkOwner("delete the manifest of checkpoint " + checkpointId);
        delete(manifestKey(checkpointId), "delete the manifest of checkpoint " + checkpointId);
    }

    // ---- ownership ----------------------------------------------------------------------------

    @Override
    public long claimOwnership() throws IOException {
        long epoch = newestOwnerEpoch() + 1;
        while (true) {
            var key = prefix + String.format("%s%020d", OWNER_PREFIX, epoch);
            try {
                call("claim owner epoch " + epoch, key, () -> client.putObject(PutObjectRequest.builder()
                        .bucket(bucket).key(key).ifNoneMatch("*").build(), RequestBody.empty()));
                writeFence(epoch);
                ownerEpoch = epoch;
                pausePoint.accept("claimed: " + epoch);
                return epoch;
            } catch (PreconditionFailed e) {
                epoch++; // another claimant won this epoch
            }
        }
    }

    /**
     * Records the fence point of {@code epoch} ({@link OwnerFences}): the newest manifest id listed
     * now that the epoch exists, created with {@code If-None-Match: *} as {@code owner/fence-<epoch>}.
     * A manifest of an older owner that lands after this listing is void for every later owner.
     */
    private void writeFence(long epoch) throws IOException {
        var ids = listCheckpoints();
        long fence = ids.isEmpty() ? -1 : ids.get(ids.size() - 1);
        var key = prefix + String.format("%s%020d", FENCE_PREFIX, epoch);
        var bytes = (fence + "\n").getBytes(StandardCharsets.US_ASCII);
        try {
            call("record the fence point of owner epoch " + epoch, key, () -> client.putObject(
                    PutObjectRequest.builder().bucket(bucket).key(key).ifNoneMatch("*").build(),
                    RequestBody.fromBytes(bytes)));
        } catch (PreconditionFailed e) {
            // Only the claimant of this epoch writes its fence: an earlier attempt of this call landed.
            var stored = readFence(key);
            if (stored != fence) {
                throw new IOException("cannot claim owner epoch " + epoch + " of " + uri(prefix) + ": its fence point "
                        + uri(key) + " already holds " + stored + ", not " + fence + "; another process claims the same"
                        + " epoch. Stop the other process, then start again", e);
            }
        }
    }

    @Override
    public Map<Long, Long> ownerFences() throws IOException {
        var fences = new TreeMap<Long, Long>();
        for (var object : list(prefix + FENCE_PREFIX, "list the owner fences")) {
            var suffix = object.key().substring(prefix.length() + FENCE_PREFIX.length());
            if (suffix.matches("\\d{20}")) {
                fences.put(Long.parseLong(suffix), readFence(object.key()));
            }
        }
        return fences;
    }

    private long readFence(String key) throws IOException {
        var out = new java.io.ByteArrayOutputStream();
        try (var in = S3ObjectStream.open(this, key, () -> "owner fence " + uri(key))) {
            in.transferTo(out);
        }
        var text = out.toString(StandardCharsets.US_ASCII).strip();
        try {
            long fence = Long.parseLong(text);
            if (fence >= -1) {
                return fence;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new CheckpointCorruptException(-1, "the owner fence " + uri(key) + " holds '" + text + "', not a "
                + "checkpoint id: it is damaged, and without it a fenced owner's late checkpoint could not be told apart."
                + " Restore it, or write into it the newest checkpoint id that existed when that epoch was claimed");
    }

    @Override
    public long ownerEpoch() {
        return ownerEpoch;
    }

    @Override
    public long newestOwnerEpoch() throws IOException {
        long newest = 0;
        for (var object : list(prefix + OWNER_PREFIX, "list the owner epochs")) {
            var suffix = object.key().substring(prefix.length() + OWNER_PREFIX.length());
            if (suffix.matches("\\d{20}")) {
                newest = Math.max(newest, Long.parseLong(suffix));
            }
        }
        return newest;
    }

    /** Refuses {@code what} if this store claimed an epoch and a newer one has been claimed since. */
    private void checkOwner(String what) throws IOException {
        long mine = ownerEpoch;
        if (mine < 0) {
            return;
        }
        long newest = newestOwnerEpoch();
        if (newest > mine) {
            throw new FencedException("cannot " + what + " in " + uri(prefix) + ": this process owned it with epoch "
                    + mine + ", but owner epoch " + newest + " was claimed since (another process took the shard "
                    + "over). Nothing was changed; stop this process");
        }
        pausePoint.accept("checked: " + what);
    }

    /**
     * Tests: {@code hook} runs at the points where a zombie owner is paused in a test: between a
     * claimed owner's check and its operation ({@code "checked: <what>"}) and right after a claim
     * returns its epoch ({@code "claimed: <epoch>"}).
     */
    void pausePoints(java.util.function.Consumer<String> hook) {
        this.pausePoint = Objects.requireNonNull(hook, "hook");
    }

    /** The result of a request run on the pool, with its own exception. */
    private static <T> T await(Future<T> future, String what) throws IOException {
        try {
            return future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting to " + what);
        } catch (ExecutionException e) {
            var cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            if (cause instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException("cannot " + what + ": " + cause, cause);
        }
    }

    // ---- cleanup ------------------------------------------------------------------------------

    /**
     * Aborts the multipart uploads under this store's prefix that were started more than
     * {@code incompleteUploadMaxAge} ago and are not under way in this store: what a crash in the
     * middle of an upload leaves behind (invisible, but billed). Returns how many it aborted.
     */
    @Override
    public int cleanUpIncompleteWrites() throws IOException {
        var cutoff = Instant.now().minus(incompleteUploadMaxAge);
        var stale = new ArrayList<MultipartUpload>();
        String keyMarker = null;
        String uploadIdMarker = null;
        while (true) {
            var request = ListMultipartUploadsRequest.builder().bucket(bucket).prefix(prefix + STATE_PREFIX)
                    .keyMarker(keyMarker).uploadIdMarker(uploadIdMarker).build();
            var page = call("list the incomplete uploads", prefix + STATE_PREFIX,
                    () -> client.listMultipartUploads(request));
            for (var upload : page.uploads()) {
                if (!activeUploads.contains(upload.uploadId()) && upload.initiated() != null
                        && !upload.initiated().isAfter(cutoff)) {
                    stale.add(upload);
                }
            }
            if (!Boolean.TRUE.equals(page.isTruncated())) {
                break;
            }
            keyMarker = page.nextKeyMarker();
            uploadIdMarker = page.nextUploadIdMarker();
        }
        for (var upload : stale) {
            abortUpload(upload.key(), upload.uploadId());
        }
        if (!stale.isEmpty()) {
            log.info("aborted {} incomplete multipart uploads under s3://{}/{} older than {}", stale.size(), bucket,
                    prefix + STATE_PREFIX, incompleteUploadMaxAge);
        }
        return stale.size();
    }

    /** Stops the upload threads (after the uploads under way) and closes the client if the store owns it. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        buffers.clear();
        downloads.shutdownNow(); // reads under way fail: the store is closed
        uploads.shutdown();
        try {
            if (!uploads.awaitTermination(60, TimeUnit.SECONDS)) {
                uploads.shutdownNow();
            }
        } catch (InterruptedException e) {
            uploads.shutdownNow();
            Thread.currentThread().interrupt();
        }
        if (closeClient) {
            client.close();
        }
    }

    @Override
    public String toString() {
        return "S3CheckpointStore[s3://" + bucket + "/" + prefix + "]";
    }

    // ---- keys ---------------------------------------------------------------------------------

    /** The key of a state file; refuses a path that could leave the store. */
    String stateKey(String path) {
        var problem = StorePaths.problemWith(path);
        if (problem != null) {
            throw new IllegalArgumentException("invalid state file path: " + problem
                    + "; use a relative path of plain names separated by '/'");
        }
        return prefix + STATE_PREFIX + shard(path) + "/" + path;
    }

    String manifestKey(long checkpointId) {
        if (checkpointId < 0) {
            throw new IllegalArgumentException("checkpoint ids are not negative, but got " + checkpointId);
        }
        return prefix + String.format("%s%020d%s", MANIFEST_PREFIX, checkpointId, MANIFEST_SUFFIX);
    }

    /** The shard of a path: the low byte of the CRC32C of its UTF-8 bytes, as two hex digits. */
    static String shard(String path) {
        var bytes = path.getBytes(StandardCharsets.UTF_8);
        return String.format("%02x", crc32c(bytes, 0, bytes.length) & 0xff);
    }

    String uri(String key) {
        return "s3://" + bucket + "/" + key;
    }

    // ---- requests -----------------------------------------------------------------------------

    private Optional<HeadObjectResponse> head(String key, String what) throws IOException {
        try {
            return Optional.of(call(what, key, () -> client.headObject(HeadObjectRequest.builder().bucket(bucket)
                    .key(key).checksumMode(ChecksumMode.ENABLED).build())));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    private void delete(String key, String what) throws IOException {
        call(what, key, () -> client.deleteObject(DeleteObjectRequest.builder().bucket(bucket).key(key).build()));
    }

    /**
     * A manifest object read back: its verified bytes, or null if it has more than
     * {@link ManifestCodec#MAX_MANIFEST_BYTES} (then {@code size} is at least what it has).
     */
    private record ManifestObject(byte[] bytes, long size) {
    }

    /**
     * Reads a manifest object, but never more than {@link ManifestCodec#MAX_MANIFEST_BYTES} of it
     * whatever size it claims, so a damaged object never makes the store allocate its size.
     */
    private ManifestObject readManifestObject(String key, String what) throws IOException {
        int limit = ManifestCodec.MAX_MANIFEST_BYTES;
        try (var in = S3ObjectStream.open(this, key, () -> what)) {
            if (in.size() > limit) {
                return new ManifestObject(null, in.size());
            }
            var bytes = in.readNBytes(limit + 1); // to its end, where the stream verifies the whole object
            return bytes.length > limit ? new ManifestObject(null, bytes.length) : new ManifestObject(bytes, bytes.length);
        }
    }

    private List<S3Object> list(String keyPrefix, String what) throws IOException {
        var objects = new ArrayList<S3Object>();
        String token = null;
        do {
            var request = ListObjectsV2Request.builder().bucket(bucket).prefix(keyPrefix).continuationToken(token)
                    .build();
            var page = call(what, keyPrefix, () -> client.listObjectsV2(request));
            objects.addAll(page.contents());
            token = Boolean.TRUE.equals(page.isTruncated()) ? page.nextContinuationToken() : null;
        } while (token != null);
        return objects;
    }

    private void abortUpload(String key, String uploadId) throws IOException {
        try {
            call("abort the multipart upload " + uploadId, key, () -> client.abortMultipartUpload(
                    AbortMultipartUploadRequest.builder().bucket(bucket).key(key).uploadId(uploadId).build()));
        } catch (NoSuchFileException e) {
            // gone already (completed or aborted elsewhere): nothing to do
        }
    }

    /** 412 on a conditional write: the key exists. Thrown by {@link #call}; callers decide what it means. */
    static final class PreconditionFailed extends IOException {
        private static final long serialVersionUID = 1L;

        PreconditionFailed(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Runs one request with retries (see the class comment) and turns its failure into an
     * {@link IOException} that names the bucket and key: {@link NoSuchFileException} for a missing
     * key, {@link PreconditionFailed} for a failed condition, otherwise a message saying what to do.
     */
    <T> T call(String what, String key, Supplier<T> request) throws IOException {
        for (int attempt = 1; ; attempt++) {
            checkOpen();
            try {
                return request.get();
            } catch (SdkException e) {
                var problem = S3Errors.classify(e);
                if (problem == S3Errors.Kind.NOT_FOUND && !S3Errors.isMissingBucket(e)) {
                    var missing = new NoSuchFileException(uri(key), null, "not found (cannot " + what + ")");
                    missing.initCause(e);
                    throw missing;
                }
                if (problem == S3Errors.Kind.PRECONDITION_FAILED) {
                    throw new PreconditionFailed("cannot " + what + ": " + uri(key) + " exists already", e);
                }
                if (problem != S3Errors.Kind.TRANSIENT || attempt >= maxAttempts) {
                    throw new IOException(S3Errors.describe(e, "cannot " + what + " (" + uri(key) + ")", bucket, prefix,
                            attempt), e);
                }
                long delay = backoff(attempt);
                log.debug("{} ({}) failed on attempt {} of {}, retrying in {} ms: {}", what, uri(key), attempt,
                        maxAttempts, delay, S3Errors.summary(e));
                sleep(delay);
            }
        }
    }

    /** Full jitter: a random delay up to base * 2^(attempt - 1), capped. */
    long backoff(int attempt) {
        long cap = Math.min(retryMaxDelay.toMillis(), retryBaseDelay.toMillis() << Math.min(20, attempt - 1));
        return ThreadLocalRandom.current().nextLong(Math.max(1, cap) + 1);
    }

    int maxAttempts() {
        return maxAttempts;
    }

    ExecutorService downloads() {
        return downloads;
    }

    boolean isClosed() {
        return closed;
    }

    S3Client client() {
        return client;
    }

    static void sleep(long millis) throws InterruptedIOException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting to retry an S3 request");
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }

    static int crc32c(byte[] bytes, int offset, int length) {
        var crc = new CRC32C();
        crc.update(bytes, offset, length);
        return (int) crc.getValue();
    }

    /** The wire form of a CRC32C: its four bytes, big-endian, in base64. */
    static String base64(int crc) {
        return Base64.getEncoder().encodeToString(new byte[] {
                (byte) (crc >>> 24), (byte) (crc >>> 16), (byte) (crc >>> 8), (byte) crc});
    }

    // ---- one upload ---------------------------------------------------------------------------

    /**
     * The stream a producer writes one state file into. Owned by the writing thread; the part
     * uploads it starts run on the store's pool and hand their buffers back through {@code spare}.
     */
    private final class Upload extends OutputStream {
        private final String path;
        private final String key;
        private final List<Future<SentPart>> parts = new ArrayList<>();
        private long size;
        private byte[] buffer;
        private int filled;
        private String uploadId;
        private boolean finished;
        /** Set by {@link #abort}: parts not yet started skip their request. */
        private volatile boolean aborted;

        Upload(String path, String key) {
            this.path = path;
            this.key = key;
        }

        // Producers write in small pieces (a state file's entries field by field): a write only
        // copies into the part buffer. Each part is checksummed once, by the thread that sends it;
        // the full-object CRC32C is the combination of the parts' (Crc32c.combine), so the producer,
        // whose thread is the upload's one serial stage, never checksums.

        @Override
        public void write(int b) throws IOException {
            if (buffer == null || filled == buffer.length) {
                ensureRoom();
            }
            buffer[filled++] = (byte) b;
            size++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            if (buffer != null && len <= buffer.length - filled && !finished) {
                System.arraycopy(b, off, buffer, filled, len);
                filled += len;
                size += len;
                return;
            }
            size += len;
            while (len > 0) {
                ensureRoom();
                int n = Math.min(len, buffer.length - filled);
                System.arraycopy(b, off, buffer, filled, n);
                filled += n;
                off += n;
                len -= n;
            }
        }

        /** Makes room for at least one byte: grows the first buffer, or sends a full one as a part. */
        private void ensureRoom() throws IOException {
            if (finished) {
                throw new IOException("the upload of state file '" + path + "' is finished; the producer wrote after"
                        + " returning");
            }
            if (buffer == null) {
                var pooled = buffers.poll();
                buffer = pooled != null ? pooled : new byte[Math.min(FIRST_BUFFER, partSize)];
            } else if (filled == buffer.length) {
                if (buffer.length < partSize) {
                    var pooled = buffers.poll();
                    var grown = pooled != null ? pooled : new byte[(int) Math.min(partSize, 2L * buffer.length)];
                    System.arraycopy(buffer, 0, grown, 0, filled);
                    buffer = grown;
                } else {
                    sendPart();
                }
            }
        }

        /** Sends the full buffer as the next part, on the pool; waits while the store has uploadThreads parts in flight. */
        private void sendPart() throws IOException {
            if (uploadId == null) {
                var request = CreateMultipartUploadRequest.builder().bucket(bucket).key(key)
                        .checksumAlgorithm(ChecksumAlgorithm.CRC32_C).checksumType(ChecksumType.FULL_OBJECT).build();
                uploadId = call("start the upload of state file '" + path + "'", key,
                        () -> client.createMultipartUpload(request)).uploadId();
                activeUploads.add(uploadId);
            }
            checkParts();
            try {
                partsInFlight.acquire();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while uploading state file '" + path + "'");
            }
            var bytes = buffer;
            int length = filled;
            int number = parts.size() + 1;
            try {
                parts.add(uploads.submit(() -> {
                    try {
                        if (aborted) {
                            throw new InterruptedIOException("the upload of state file '" + path + "' was aborted");
                        }
                        return uploadPart(number, bytes, length);
                    } finally {
                        recycle(bytes);
                        partsInFlight.release();
                    }
                }));
            } catch (RuntimeException e) {
                partsInFlight.release();
                throw e;
            }
            if (finished) {
                buffer = null; // that was the last part
            } else {
                var next = buffers.poll();
                buffer = next != null ? next : new byte[partSize];
            }
            filled = 0;
        }

        /** A part that went up: what the completion lists, and its CRC32C and length for the full-object one. */
        private record SentPart(CompletedPart part, int crc32c, int length) {
        }

        private SentPart uploadPart(int number, byte[] bytes, int length) throws IOException {
            int crc = crc32c(bytes, 0, length);
            var checksum = base64(crc);
            var request = UploadPartRequest.builder().bucket(bucket).key(key).uploadId(uploadId).partNumber(number)
                    .contentLength((long) length).checksumCRC32C(checksum)
                    .build();
            var response = call("upload part " + number + " of state file '" + path + "'", key,
                    () -> client.uploadPart(request, body(bytes, length)));
            return new SentPart(CompletedPart.builder().partNumber(number).eTag(response.eTag())
                    .checksumCRC32C(checksum).build(), crc, length);
        }

        /** Fails fast once a part upload has failed, rather than after the producer is done. */
        private void checkParts() throws IOException {
            for (var part : parts) {
                if (part.isDone()) {
                    result(part);
                }
            }
        }

        StateFileRef finish() throws IOException {
            finished = true;
            int full;
            List<CompletedPart> completed = null;
            if (uploadId == null) {
                full = buffer == null ? 0 : crc32c(buffer, 0, filled); // the only buffer: one PUT
            } else {
                if (filled > 0) {
                    sendPart();
                }
                completed = new ArrayList<>();
                full = 0; // the CRC32C of no bytes
                for (var part : parts) {
                    var sent = result(part);
                    completed.add(sent.part());
                    full = Crc32c.combine(full, sent.crc32c(), sent.length());
                }
            }
            var checksum = base64(full);
            var ref = new StateFileRef(path, size, String.format("%08x", Integer.toUnsignedLong(full)));
            try {
                if (uploadId == null) {
                    var bytes = buffer == null ? new byte[0] : buffer;
                    int length = filled;
                    call("write state file '" + path + "'", key, () -> client.putObject(PutObjectRequest.builder()
                                    .bucket(bucket).key(key).ifNoneMatch("*").contentLength((long) length)
                                    .checksumCRC32C(checksum).build(),
                            body(bytes, length)));
                } else {
                    var request = CompleteMultipartUploadRequest.builder().bucket(bucket).key(key).uploadId(uploadId)
                            .ifNoneMatch("*").checksumCRC32C(checksum).checksumType(ChecksumType.FULL_OBJECT)
                            .mpuObjectSize(size)
                            .multipartUpload(CompletedMultipartUpload.builder().parts(completed).build()).build();
                    call("complete the upload of state file '" + path + "'", key,
                            () -> client.completeMultipartUpload(request));
                    activeUploads.remove(uploadId);
                    uploadId = null;
                }
            } catch (PreconditionFailed e) {
                // The key exists: a retry of a write that landed (same bytes), or an attempt to change a file.
                if (!sameContent(ref)) {
                    var exists = new FileAlreadyExistsException(uri(key), null, "state file '" + path
                            + "' already exists with other content; state files are immutable: write the new content"
                            + " under a new path");
                    exists.initCause(e);
                    throw exists;
                }
                if (uploadId != null) {
                    abortQuietly(e);
                }
            }
            recycle(buffer);
            buffer = null;
            return ref;
        }

        /** Whether the object at the key has the size and CRC32C just written. */
        private boolean sameContent(StateFileRef ref) throws IOException {
            var head = head(key, "compare the existing state file '" + path + "'");
            if (head.isEmpty()) {
                return false; // deleted meanwhile: not ours to reason about; refuse
            }
            if (head.get().contentLength() != ref.size()) {
                return false;
            }
            var crc = new CRC32C();
            try (var in = S3ObjectStream.open(S3CheckpointStore.this, key,
                    () -> "existing state file '" + path + "'")) {
                var chunk = new byte[COPY_BUFFER];
                for (int n; (n = in.read(chunk)) >= 0; ) {
                    crc.update(chunk, 0, n);
                }
            }
            return String.format("%08x", crc.getValue()).equals(ref.crc32c());
        }

        private SentPart result(Future<SentPart> part) throws IOException {
            try {
                return part.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while uploading state file '" + path + "'");
            } catch (ExecutionException e) {
                var cause = e.getCause();
                if (cause instanceof IOException io) {
                    throw new IOException(io.getMessage(), io);
                }
                if (cause instanceof RuntimeException re) {
                    throw re;
                }
                throw new IOException("uploading state file '" + path + "' failed: " + cause, cause);
            }
        }

        /** After a failure: stops the parts and aborts the multipart upload, so nothing is left. */
        void abort(Throwable failure) {
            finished = true;
            aborted = true;
            recycle(buffer);
            buffer = null;
            // Queued parts are not cancelled but see the flag and end at once: a cancelled task
            // would never run its finally, and the store-wide permit it holds would be lost.
            if (uploadId != null) {
                // Parts still running finish or fail on their own; abort after them so none recreates storage.
                for (var part : parts) {
                    try {
                        part.get();
                    } catch (Exception e) {
                        // their failures are the reason we abort, or consequences of it
                    }
                }
                abortQuietly(failure);
            }
        }

        private void abortQuietly(Throwable failure) {
            try {
                abortUpload(key, uploadId);
                activeUploads.remove(uploadId);
            } catch (IOException | RuntimeException e) {
                activeUploads.remove(uploadId);
                log.warn("could not abort the multipart upload {} of {}; cleanUpIncompleteWrites aborts it later: {}",
                        uploadId, uri(key), e.getMessage());
                failure.addSuppressed(e);
            }
            uploadId = null;
        }
    }

    /** Keeps a full-size part buffer for the next upload, if the pool has room; drops anything else. */
    private void recycle(byte[] buffer) {
        if (buffer != null && buffer.length == partSize && !closed) {
            buffers.offer(buffer);
        }
    }

    /** A request body over a byte range, re-readable for retries and not copied. */
    private static RequestBody body(byte[] bytes, int length) {
        return RequestBody.fromContentProvider(() -> new ByteArrayInputStream(bytes, 0, length), length,
                "application/octet-stream");
    }

    // ---- building -----------------------------------------------------------------------------

    /** Settings of an {@link S3CheckpointStore}; validated as they are set. Not thread-safe. */
    public static final class Builder {
        private final S3Client client;
        private final String bucket;
        private String prefix = "";
        private long partSize = DEFAULT_PART_SIZE;
        private int uploadThreads = 4;
        private long downloadRangeSize = DEFAULT_DOWNLOAD_RANGE_SIZE;
        private int rangesAhead = DEFAULT_RANGES_AHEAD;
        private int maxAttempts = 5;
        private Duration retryBaseDelay = Duration.ofMillis(100);
        private Duration retryMaxDelay = Duration.ofSeconds(5);
        private Duration incompleteUploadMaxAge = Duration.ofHours(1);
        private boolean closeClient;
        private boolean verifyBucket = true;

        private Builder(S3Client client, String bucket) {
            this.client = Objects.requireNonNull(client, "client");
            if (bucket == null || bucket.isBlank() || !bucket.equals(bucket.strip()) || bucket.contains("/")) {
                throw new IllegalArgumentException("bucket must be the name of an S3 bucket (no '/', no blanks), but"
                        + " was '" + bucket + "'");
            }
            this.bucket = bucket;
        }

        /**
         * The key prefix of every object of the store (default: none), so that several stores can
         * share a bucket. A '/' is added if it does not end with one; it must not start with '/'
         * or contain empty, "." or ".." segments.
         */
        public Builder prefix(String prefix) {
            Objects.requireNonNull(prefix, "prefix");
            if (prefix.isEmpty()) {
                this.prefix = "";
                return this;
            }
            var trimmed = prefix.endsWith("/") ? prefix.substring(0, prefix.length() - 1) : prefix;
            var problem = StorePaths.problemWithKey(trimmed);
            if (problem != null) {
                throw new IllegalArgumentException("prefix must be a relative key prefix of plain names separated by"
                        + " '/', but " + problem.replace("the path", "the prefix"));
            }
            this.prefix = trimmed + "/";
            return this;
        }

        /**
         * The part size of multipart uploads, between 5 MiB and 2 GiB (default 16 MiB): files up to
         * this size go up in one PUT. The store holds at most {@code uploadThreads} buffers of it in
         * flight, plus one being filled per upload under way.
         */
        public Builder partSize(long bytes) {
            if (bytes < MIN_PART_SIZE || bytes > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("partSize must be between " + MIN_PART_SIZE + " (5 MiB, the S3"
                        + " minimum) and " + (Integer.MAX_VALUE - 8) + " bytes, but was " + bytes);
            }
            this.partSize = bytes;
            return this;
        }

        /** How many parts go up at once, across all of the store's uploads: the size of its upload pool (default 4). */
        public Builder uploadThreads(int threads) {
            if (threads < 1 || threads > 64) {
                throw new IllegalArgumentException("uploadThreads must be between 1 and 64, but was " + threads);
            }
            this.uploadThreads = threads;
            return this;
        }

        /**
         * The size of the ranges a state file of at least twice this size is read in, between 64 KiB
         * and 1 GiB (default 8 MiB); see the class comment.
         */
        public Builder downloadRangeSize(long bytes) {
            if (bytes < 64 * 1024 || bytes > 1L << 30) {
                throw new IllegalArgumentException("downloadRangeSize must be between 65536 (64 KiB) and 1073741824"
                        + " (1 GiB) bytes, but was " + bytes);
            }
            this.downloadRangeSize = bytes;
            return this;
        }

        /**
         * How many ranged GETs a reader of a large state file runs ahead of the bytes it returned,
         * 0 to 64 (default 4); 0 reads every file with one GET.
         */
        public Builder rangesAhead(int ranges) {
            if (ranges < 0 || ranges > 64) {
                throw new IllegalArgumentException("rangesAhead must be between 0 (one GET per file) and 64, but was "
                        + ranges);
            }
            this.rangesAhead = ranges;
            return this;
        }

        /** How often a request is tried in all before its transient failure is reported (default 5). */
        public Builder maxAttempts(int attempts) {
            if (attempts < 1 || attempts > 100) {
                throw new IllegalArgumentException("maxAttempts must be between 1 and 100, but was " + attempts);
            }
            this.maxAttempts = attempts;
            return this;
        }

        /**
         * The backoff between attempts: a random delay up to {@code base * 2^(attempt - 1)}, at most
         * {@code max} (defaults 100 ms and 5 s).
         */
        public Builder retryBackoff(Duration base, Duration max) {
            Objects.requireNonNull(base, "base");
            Objects.requireNonNull(max, "max");
            if (base.isNegative() || max.compareTo(base) < 0) {
                throw new IllegalArgumentException("retry backoff must have 0 <= base <= max, but was base " + base
                        + ", max " + max);
            }
            this.retryBaseDelay = base;
            this.retryMaxDelay = max;
            return this;
        }

        /** How old an incomplete multipart upload must be before cleanup aborts it (default 1 hour). */
        public Builder incompleteUploadMaxAge(Duration age) {
            Objects.requireNonNull(age, "age");
            if (age.isNegative()) {
                throw new IllegalArgumentException("incompleteUploadMaxAge must not be negative, but was " + age);
            }
            this.incompleteUploadMaxAge = age;
            return this;
        }

        /** Whether {@link S3CheckpointStore#close()} closes the client too (default false: the caller owns it). */
        public Builder closeClient(boolean close) {
            this.closeClient = close;
            return this;
        }

        /**
         * Whether {@link #build()} checks that the bucket exists and may be listed (default true).
         * Switch it off only where the store is built before the bucket can be reached.
         */
        public Builder verifyBucket(boolean verify) {
            this.verifyBucket = verify;
            return this;
        }

        /**
         * The store. Unless switched off, first lists the prefix once (with the usual retries) to
         * check that the bucket exists, the credentials are accepted and may list it.
         *
         * @throws StorageException naming the bucket and what to do, if that check fails
         */
        public S3CheckpointStore build() {
            var store = new S3CheckpointStore(this);
            if (verifyBucket) {
                try {
                    store.call("reach the bucket", prefix, () -> client.listObjectsV2(ListObjectsV2Request.builder()
                            .bucket(bucket).prefix(prefix).maxKeys(1).build()));
                } catch (IOException e) {
                    store.close();
                    throw new StorageException("Cannot use bucket '" + bucket + "' for checkpoints: " + e.getMessage(),
                            e);
                } catch (RuntimeException e) {
                    store.close();
                    throw e;
                }
            }
            return store;
        }
    }
}

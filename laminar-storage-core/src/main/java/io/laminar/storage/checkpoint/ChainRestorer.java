package io.laminar.storage.checkpoint;

import io.laminar.storage.concurrent.Threads;
import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.store.CheckpointCorruptException;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.StateFileRef;
import io.laminar.storage.store.VerifyingInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads the state chains of one checkpoint with the files fetched and parsed in parallel, and hands
 * the states over only if every file verified: the restore step of a {@link RecoveryManager}.
 *
 * <h2>Who does what</h2>
 * <ul>
 *   <li><b>Fetchers</b> ({@link RecoveryOptions#fetchThreads()} threads {@code laminar-restore-fetch-N})
 *       read state files from the store through a {@link VerifyingInputStream} (so each byte is
 *       checksummed as it arrives) into a pipe per file of at most {@value #CHUNKS_PER_FILE} chunks
 *       of {@value #CHUNK} bytes. Files of different cores, and the deltas of one core's chain, are
 *       read at the same time; the pipe bounds what a file read ahead of its parser holds.</li>
 *   <li><b>Parsers</b> (up to {@link RecoveryOptions#parseThreads()} threads
 *       {@code laminar-restore-parse-N}, one chain at a time each) parse the chain's files in order
 *       out of their pipes, while they are still downloading: the full file bulk-loaded into a new
 *       store of this restore's own, the deltas applied on top. A parser submits its chain's fetches,
 *       in chain order, when it starts; so a fetch waiting for room in its pipe always waits for a
 *       running parser, whose current file was submitted (and so started) earlier: no deadlock
 *       whatever the number of threads.</li>
 *   <li>The <b>calling thread</b> waits, and reports progress every
 *       {@link RecoveryOptions#progressInterval()}.</li>
 * </ul>
 * Files that the manifest lists but no chain names are read to their end and verified, not parsed.
 *
 * <h2>Never a byte before its checksum passed</h2>
 * A pipe ends only after its file reached its end with the recorded size and CRC32C, so a parser
 * finishes a file only once it is verified; the stores are returned only once every chain's parser
 * finished. On a failure (a missing file, a size or checksum that differs from the manifest's,
 * bytes that do not parse, a store that cannot be read) the stores, with whatever they had received,
 * are dropped. The failure reported is the one that reading the files one after the other (core by
 * core, each chain in order, then the files in no chain) would have met first: a failure of file
 * number {@code i} in that order stops the work on every later file at once, while the earlier ones
 * are still read, since one of them may fail too. So the outcome does not depend on timing. A parser
 * that fails on bytes reads its file to the end first, so that damaged bytes (a checksum failure)
 * are reported as such rather than as a format error. The failure is
 * {@link RecoveryManager.Unusable} or {@link CheckpointCorruptException} (the checkpoint is skipped) or
 * {@link RecoveryManager.StoreUnreadable} (recovery stops).
 *
 * <p>One restore per instance, from the thread that calls {@link #restore}; the threads it starts
 * end before {@code restore} returns or throws.
 */
final class ChainRestorer {

    private static final Logger log = LoggerFactory.getLogger(ChainRestorer.class);

    /** Bytes a fetcher reads at a time: below G1's humongous threshold, large for the store. */
    static final int CHUNK = 256 * 1024;
    /** Chunks of one file that may wait for its parser. */
    static final int CHUNKS_PER_FILE = 4;

    /** One core's chain: its state files in order, the full one first. */
    record Chain(int core, List<StateFileRef> files) {
    }

    private final CheckpointStore store;
    private final long checkpointId;
    private final RecoveryOptions options;
    private final Consumer<RecoveryProgress> progress;
    private final AtomicLong bytesDone = new AtomicLong();
    private final AtomicInteger filesDone = new AtomicInteger();
    private final BlockingQueue<byte[]> spareChunks;
    /** Files after this number (in the sequential order of the class comment) are not worked on. */
    private volatile int stopAfter = Integer.MAX_VALUE;
    private Failed failure; // guarded by this
    private CountDownLatch finished;

    /** The failure of the file of number {@code index}. */
    private record Failed(int index, Throwable cause) {
    }

    /**
     * @param progress called on the calling thread, every {@link RecoveryOptions#progressInterval()}
     *                 and once when every file was read
     */
    ChainRestorer(CheckpointStore store, long checkpointId, RecoveryOptions options,
                  Consumer<RecoveryProgress> progress) {
        this.store = store;
        this.checkpointId = checkpointId;
        this.options = options;
        this.progress = progress;
        this.spareChunks = new ArrayBlockingQueue<>(options.fetchThreads() * (CHUNKS_PER_FILE + 2));
    }

    /**
     * Loads every chain into a store of its own and verifies {@code verifyOnly}; returns the stores
     * in the order of {@code chains}, only if everything verified.
     *
     * @param totalFiles every file of the checkpoint (the chains' and {@code verifyOnly}), for progress
     * @throws IOException as described in the class comment; {@link InterruptedIOException} if the
     *                     calling thread is interrupted (every thread is stopped first)
     */
    List<ChangelogAwareStateStore> restore(List<Chain> chains, List<StateFileRef> verifyOnly, int totalFiles,
                                           long totalBytes) throws IOException {
        var results = new ChangelogAwareStateStore[chains.size()];
        finished = new CountDownLatch(chains.size() + verifyOnly.size());
        int parsers = Math.max(1, Math.min(options.parseThreads(), chains.size()));
        ExecutorService fetchers = Executors.newFixedThreadPool(options.fetchThreads(),
                Threads.numberedDaemonFactory("laminar-restore-fetch-"));
        ExecutorService parsing = Executors.newFixedThreadPool(parsers,
                Threads.numberedDaemonFactory("laminar-restore-parse-"));
        long started = System.nanoTime();
        try {
            int first = 0;
            for (int i = 0; i < chains.size(); i++) {
                int index = i;
                int firstFile = first;
                var chain = chains.get(i);
                parsing.execute(() -> {
                    try {
                        results[index] = loadChain(chain, firstFile, fetchers);
                    } finally {
                        finished.countDown();
                    }
                });
                first += chain.files().size();
            }
            for (var ref : verifyOnly) {
                int index = first++;
                fetchers.execute(() -> {
                    try {
                        fetch(ref, index, null);
                    } catch (Throwable t) {
                        failed(index, t);
                    } finally {
                        finished.countDown();
                    }
                });
            }
            long interval = options.progressInterval().toNanos();
            try {
                while (!finished.await(interval, TimeUnit.NANOSECONDS)) {
                    report(totalFiles, totalBytes, started);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                stopAfter = -1;
                throw new InterruptedIOException("interrupted while restoring checkpoint " + checkpointId);
            }
            Failed failed;
            synchronized (this) {
                failed = failure;
            }
            if (failed != null) {
                throw Causes.asIOException(failed.cause());
            }
            report(totalFiles, totalBytes, started);
            return List.of(results);
        } finally {
            // Interrupts what still runs: fetches of files after a failed one. None outlives restore.
            stop(fetchers, parsing);
        }
    }

    private void report(int totalFiles, long totalBytes, long started) {
        progress.accept(RecoveryProgress.of(RecoveryProgress.Phase.RESTORE, checkpointId, bytesDone.get(),
                totalBytes, filesDone.get(), totalFiles, System.nanoTime() - started));
    }

    /** Records the failure of file number {@code index}; the earliest one wins, later files stop. */
    private synchronized void failed(int index, Throwable cause) {
        if (cause instanceof Cancelled) {
            return;
        }
        if (failure == null || index < failure.index()) {
            if (failure != null) {
                log.debug("restore of checkpoint {}: {} fails too, after an earlier file", checkpointId, failure);
            }
            failure = new Failed(index, cause);
            stopAfter = index;
        }
    }

    private boolean stopped(int index) {
        return index > stopAfter;
    }

    /** Stops every thread and waits until none touches the store or a state. */
    private void stop(ExecutorService fetchers, ExecutorService parsing) {
        fetchers.shutdownNow();
        parsing.shutdownNow();
        try {
            if (!fetchers.awaitTermination(60, TimeUnit.SECONDS) || !parsing.awaitTermination(60, TimeUnit.SECONDS)) {
                log.warn("restore of checkpoint {}: some laminar-restore-* threads did not stop within 60 s (blocked"
                        + " in the store?); they end with their current read", checkpointId);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // the caller was interrupted: it throws already
        }
    }

    /** Work on a file stopped because an earlier file failed; never reported. */
    private static final class Cancelled extends InterruptedIOException {
        private static final long serialVersionUID = 1L;

        Cancelled() {
            super("restore stopped: an earlier file failed");
        }
    }

    // ---- parsing ------------------------------------------------------------------------------

    /** On a parse thread: submits the chain's fetches in order, then parses each file out of its pipe. */
    private ChangelogAwareStateStore loadChain(Chain chain, int firstFile, ExecutorService fetchers) {
        var pipes = new ArrayList<FilePipe>();
        for (int i = 0; i < chain.files().size(); i++) {
            var ref = chain.files().get(i);
            int index = firstFile + i;
            var pipe = new FilePipe(index);
            pipes.add(pipe);
            fetchers.execute(() -> {
                try {
                    fetch(ref, index, pipe);
                } catch (Throwable t) {
                    pipe.fail(t); // the parser meets it in order
                }
            });
        }
        // The full file is bulk-loaded (its entries come in key order), the deltas applied on top;
        // all into a store of its own, dropped on any error: never a partially applied state.
        var loader = ChangelogAwareStateStore.bulkLoader();
        ChangelogAwareStateStore target = null;
        int i = 0;
        try {
            for (; i < pipes.size(); i++) {
                var ref = chain.files().get(i);
                if (stopped(pipes.get(i).index)) {
                    throw new Cancelled();
                }
                var sink = target == null ? loader : target.replayer();
                var header = parse(ref, pipes.get(i), chain.core(), sink);
                byte expected = i == 0 ? StateFileFormat.FULL : StateFileFormat.DELTA;
                if (header.kind() != expected) {
                    throw new RecoveryManager.Unusable("the state file " + ref.path() + " is of kind " + header.kind()
                            + ", expected " + expected);
                }
                if (target == null) {
                    target = loader.build(ChangelogSink.NONE);
                }
            }
            return target;
        } catch (Throwable t) {
            for (var pipe : pipes) {
                pipe.abandon();
            }
            failed(firstFile + i, t);
            return null;
        }
    }

    /**
     * Parses one file out of its pipe. A format error of the bytes is reported only once the rest of
     * the file verified (if it does not, the damaged bytes are the reason); a failure of the fetch
     * passes as it is.
     */
    private StateFileFormat.Header parse(StateFileRef ref, FilePipe pipe, int core, ChangelogSink sink)
            throws IOException {
        String damaged;
        try {
            var header = StateFileFormat.read(pipe, ref.path(), ref.size(), core, sink);
            // The parser stopped at the trailer, which is the end: the pipe ends only once verified.
            if (pipe.read() >= 0) {
                throw new IllegalStateException("state file " + ref.path() + " has bytes after its trailer that the"
                        + " parser did not see (a bug: report it)");
            }
            return header;
        } catch (FetchFailed e) {
            throw e.failure();
        } catch (IOException e) {
            damaged = "its " + e.getMessage();
        } catch (IllegalArgumentException e) {
            damaged = "its state file " + ref.path() + " is damaged: " + e.getMessage();
        }
        try {
            pipe.drain();
        } catch (FetchFailed e) {
            throw e.failure();
        }
        throw new RecoveryManager.Unusable(damaged);
    }

    // ---- fetching -----------------------------------------------------------------------------

    /**
     * On a fetch thread: reads the file of {@code ref} to its end through a verifying stream, into
     * {@code pipe} (null: only verify). Throws what {@link RecoveryManager} makes of each failure.
     */
    private void fetch(StateFileRef ref, int index, FilePipe pipe) throws IOException {
        var what = "its state file " + ref.path();
        if (stopped(index)) {
            throw new Cancelled();
        }
        VerifyingInputStream in;
        try {
            in = VerifyingInputStream.open(store, ref, checkpointId);
        } catch (NoSuchFileException e) {
            throw new RecoveryManager.Unusable(what + " is missing");
        } catch (IOException | RuntimeException e) {
            throw new RecoveryManager.StoreUnreadable(what, e);
        }
        try (in) {
            while (true) {
                if (stopped(index)) {
                    throw new Cancelled();
                }
                var chunk = spareChunks.poll();
                if (chunk == null) {
                    chunk = new byte[CHUNK];
                }
                int n = in.readNBytes(chunk, 0, CHUNK); // short only at the end, which the stream verified
                bytesDone.addAndGet(n);
                if (pipe != null && n > 0) {
                    pipe.put(chunk, n);
                } else {
                    spareChunks.offer(chunk);
                }
                if (n < CHUNK) {
                    if (!in.verified()) {
                        throw new IllegalStateException("the state file " + ref.path() + " of checkpoint "
                                + checkpointId + " ended without being verified (a bug: report it)");
                    }
                    filesDone.incrementAndGet();
                    if (pipe != null) {
                        pipe.end();
                    }
                    return;
                }
            }
        } catch (CheckpointCorruptException e) {
            if (in.problem() == null) {
                throw e; // the store's own check (e.g. S3's full-object CRC32C) found the damage
            }
            throw new RecoveryManager.Unusable(what + " is damaged: " + in.problem()
                    + " (corrupt bytes, of which nothing was used)");
        } catch (InterruptedIOException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            if (e instanceof RecoveryManager.Unusable || e instanceof IllegalStateException) {
                throw e;
            }
            throw new RecoveryManager.StoreUnreadable(what, e);
        }
    }

    /** The failure of a fetch, as its parser meets it in the pipe. */
    private static final class FetchFailed extends IOException {
        private static final long serialVersionUID = 1L;
        private final transient Throwable failure;

        FetchFailed(Throwable failure) {
            super(failure.toString(), failure);
            this.failure = failure;
        }

        IOException failure() {
            return Causes.asIOException(failure);
        }
    }

    /**
     * The bytes of one file on their way from its fetcher to its parser: a bounded queue of chunks,
     * then an end (only after the file verified) or the fetch's failure. One writer, one reader.
     */
    private final class FilePipe extends InputStream {
        private static final Object END = new Object();
        private final BlockingQueue<Object> queue = new ArrayBlockingQueue<>(CHUNKS_PER_FILE);
        /** The file's number in the sequential order. */
        final int index;
        private volatile boolean abandoned;
        private byte[] chunk;
        private int pos;
        private int limit;
        private volatile boolean ended;

        FilePipe(int index) {
            this.index = index;
        }

        /** The parser is gone: a fetch waiting for room stops. */
        void abandon() {
            abandoned = true;
        }

        private record Chunk(byte[] bytes, int length) {
        }

        private record Failure(Throwable cause) {
        }

        void put(byte[] bytes, int length) throws InterruptedIOException {
            offer(new Chunk(bytes, length));
        }

        void end() throws InterruptedIOException {
            offer(END);
        }

        /** Passes a fetch's failure to the parser; never blocks (the parser may be gone). */
        void fail(Throwable cause) {
            queue.clear(); // what was read is of no use now, and the parser must see the failure
            queue.offer(new Failure(cause));
        }

        /** Waits for room; stops if the parser is gone or an earlier file failed. */
        private void offer(Object item) throws InterruptedIOException {
            try {
                while (!queue.offer(item, 20, TimeUnit.MILLISECONDS)) {
                    if (abandoned || stopped(index)) {
                        throw new Cancelled();
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("restore interrupted");
            }
        }

        /** Advances to the next chunk; false at the end. */
        private boolean next() throws IOException {
            if (ended) {
                return false;
            }
            if (chunk != null) {
                spareChunks.offer(chunk);
                chunk = null;
            }
            Object item;
            try {
                item = queue.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("restore interrupted");
            }
            if (item == END) {
                ended = true;
                return false;
            }
            if (item instanceof Failure f) {
                throw new FetchFailed(f.cause());
            }
            var c = (Chunk) item;
            chunk = c.bytes();
            pos = 0;
            limit = c.length();
            return true;
        }

        @Override
        public int read() throws IOException {
            while (chunk == null || pos == limit) {
                if (!next()) {
                    return -1;
                }
            }
            return chunk[pos++] & 0xFF;
        }

        @Override
        public int read(byte[] into, int offset, int length) throws IOException {
            if (length == 0) {
                return 0;
            }
            while (chunk == null || pos == limit) {
                if (!next()) {
                    return -1;
                }
            }
            int n = Math.min(length, limit - pos);
            System.arraycopy(chunk, pos, into, offset, n);
            pos += n;
            return n;
        }

        /** Reads to the end, so that the fetch's verdict on the whole file is known. */
        void drain() throws IOException {
            while (next()) {
                pos = limit;
            }
        }
    }
}

package io.laminar.storage.checkpoint;

import io.laminar.storage.StorageException;
import io.laminar.storage.percore.CorePositions;
import io.laminar.storage.percore.CoreRecord;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalView;
import io.laminar.storage.percore.RecordKind;
import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.state.StateChangeFormat;
import io.laminar.storage.state.StateCorruptionException;
import io.laminar.storage.state.StateSnapshot;
import io.laminar.storage.store.CheckpointCorruptException;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.OwnerFences;
import io.laminar.storage.store.StateFileRef;
import io.laminar.storage.store.StorePaths;
import io.laminar.storage.store.VerifyingInputStream;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings back the state of every core after a crash, from the newest usable checkpoint plus a
 * replay of each core's WAL from the checkpoint's barrier positions.
 *
 * <h2>Choosing the checkpoint</h2>
 * Newest first, a checkpoint is used only if its manifest reads and is well-formed (one WAL
 * position per core, every path relative and inside the store, a {@code core-NNNN} chain per core
 * whose files the manifest lists), every file it references exists with the recorded size and
 * CRC32C, its state files parse (each file is read once, parsed as it is verified into a state of
 * its own that is used only once every file of the checkpoint reached its end with the recorded size
 * and CRC32C: no byte is used before its checksum passed), and each core's WAL still holds the records from its
 * recorded position, starting with the checkpoint's own barrier (so a checkpoint taken with another
 * WAL, whose positions name other records here, is never replayed against this one), and its keys
 * are spread over the WAL's number of key groups ({@link CheckpointManifest#keyGroups()} equals
 * {@link PerCoreWalView#keyGroups()}; a checkpoint of another core count or key-group count is
 * restored by {@link Rescaler} instead). Otherwise it
 * is skipped, and the report says why; the next older one is tried.
 * With no checkpoint at all, the state is rebuilt from the WAL alone, which must then still start
 * at its very beginning.
 *
 * <h2>A rescale's checkpoint</h2>
 * A checkpoint a {@link Rescaler} wrote may reference the state files of an older checkpoint
 * ({@link CheckpointManifest#baseChains()}): each distinct referenced chain is loaded once, its keyed
 * entries are regrouped into the cores whose key groups they are in (by the {@link StatePlacement}
 * this manager was given, which must be the rescale's: an entry it puts outside every range read
 * from that chain makes the checkpoint unusable rather than be dropped), and each core's own DELTA
 * files are applied on top, verified as they are read. A missing, cut or damaged referenced file
 * makes the checkpoint unusable like any of its files; the reason names the file and the key groups
 * it was read for.
 *
 * <h2>Only its content makes a checkpoint unusable</h2>
 * A checkpoint is skipped only for what is wrong with its content: a refused manifest
 * ({@link CheckpointCorruptException}), a referenced file that does not exist, a size or CRC32C
 * that differs from the manifest's, a state file that does not parse, WAL positions this WAL cannot
 * continue from. A store that cannot be read (throttled or unavailable beyond its retries, access
 * denied, a network error) says nothing about the checkpoint: recovery stops with a
 * {@link StorageException} naming the checkpoint, the file and the cause, and changes nothing (so it
 * can simply be run again once the store answers). Skipping instead would restore an older state,
 * or an empty one, that the next checkpoints and their retention would then make permanent.
 *
 * <h2>Restoring on another machine</h2>
 * A WAL with no history of its own (a new, empty data directory: see
 * {@link PerCoreWalManager#canAdopt}) restores the newest usable checkpoint in the store, typically
 * one an other machine took and uploaded to an object store. Its files are checked as above; then
 * the WAL adopts the checkpoint ({@link PerCoreWalManager#adoptCheckpoint}): each core's log
 * continues from the checkpoint's position and epoch, so positions and epochs never go backwards and
 * later checkpoints and recoveries of this machine stay consistent with the ones before. The
 * contract, plainly:
 * <ul>
 *   <li>the state is exactly the checkpoint's: the WAL records that the old machine wrote after
 *       that checkpoint were in its local WAL and are gone with it (nothing is replayed);</li>
 *   <li>sources resume from the checkpoint's offsets ({@link RecoveredState#sources()}), so the
 *       events after them are read again from the sources, not from a WAL;</li>
 *   <li>a WAL that does hold records of its own is never adopted over: if it lacks the records a
 *       checkpoint needs, that checkpoint is refused as before.</li>
 * </ul>
 * Only one machine may write checkpoints into a store at a time; the one restoring takes over.
 * Besides a WARN log line, the recovery's report says that it adopted a checkpoint
 * ({@link RecoveryReport#adoptedCheckpoint()}); a later recovery of the same directory, which
 * continues from its own WAL, does not.
 *
 * <h2>Never a partial state</h2>
 * If no checkpoint is usable and the WAL no longer starts at its beginning, or the usable
 * checkpoints all need WAL records that were truncated away, recovery fails with a
 * {@link StorageException} naming each checkpoint, its problem and the missing WAL range. So does a
 * WAL with no history of its own (nothing was ever written to it) over a store that lists
 * checkpoints none of which is usable: it would start empty and bury them under empty checkpoints.
 *
 * <h2>Dry run</h2>
 * {@link #dryRun} runs the very same choice, checks and replay over a {@link PerCoreWalView} (for
 * example {@link PerCoreWalView#inspect}, which reads a WAL directory without its lock and repairs
 * nothing) and changes nothing: an adoption is reported ({@link RecoveryReport#adoptedCheckpoint()})
 * but not done, and the recovered state is built in memory only. So its report says which checkpoint
 * a recovery would pick now, which it would skip and why, how many records it would replay per core
 * and whether it would adopt; the {@code laminar recover --dry-run} command prints it.
 *
 * <h2>Parallel restore, and progress</h2>
 * A checkpoint's state files are fetched and parsed in parallel by a {@link ChainRestorer} (threads
 * {@code laminar-restore-fetch-N} and {@code laminar-restore-parse-N}, as many as the
 * {@link RecoveryOptions} say, all ended before {@link #recover()} returns). While it runs, and while
 * the WAL is replayed, recovery logs a progress line at INFO and calls
 * {@link RecoveryListener#progress} every {@link RecoveryOptions#progressInterval()}: bytes and files
 * done of the total, the rate and the time left.
 *
 * <p>Not thread-safe: one recovery at a time, before the WAL has writers.
 */
public final class RecoveryManager {

    private static final Logger log = LoggerFactory.getLogger(RecoveryManager.class);

    private final PerCoreWalView wal;
    private final PerCoreWalManager writable; // null in a dry run
    private final CheckpointStore store;
    private final RecoveryListener listener;
    private final RecoveryOptions options;
    private final StatePlacement placement;

    public RecoveryManager(PerCoreWalManager wal, CheckpointStore store) {
        this(wal, store, RecoveryListener.NONE);
    }

    /** A recovery manager whose {@link #recover()} reports its phases to {@code listener}. */
    public RecoveryManager(PerCoreWalManager wal, CheckpointStore store, RecoveryListener listener) {
        this(wal, store, listener, RecoveryOptions.DEFAULTS);
    }

    /** As {@link #RecoveryManager(PerCoreWalManager, CheckpointStore, RecoveryListener)}, restoring as {@code options} say. */
    public RecoveryManager(PerCoreWalManager wal, CheckpointStore store, RecoveryListener listener,
                           RecoveryOptions options) {
        this(wal, store, listener, options, StatePlacement.BY_STORE_KEY);
    }

    /**
     * As {@link #RecoveryManager(PerCoreWalManager, CheckpointStore, RecoveryListener, RecoveryOptions)};
     * a checkpoint written by a rescale (with base chains) is restored by {@code placement}, which must
     * be the one the rescale used (the application's routing).
     */
    public RecoveryManager(PerCoreWalManager wal, CheckpointStore store, RecoveryListener listener,
                           RecoveryOptions options, StatePlacement placement) {
        this(wal, wal, store, listener, options, placement);
    }

    private RecoveryManager(PerCoreWalView wal, PerCoreWalManager writable, CheckpointStore store,
                            RecoveryListener listener, RecoveryOptions options, StatePlacement placement) {
        this.wal = wal;
        this.writable = writable;
        this.store = store;
        this.listener = java.util.Objects.requireNonNull(listener, "listener");
        this.options = java.util.Objects.requireNonNull(options, "options");
        this.placement = java.util.Objects.requireNonNull(placement, "placement");
    }

    /**
     * A recovery manager whose {@link #recover()} decides exactly as a real recovery over the same
     * WAL and store would, and changes nothing: it never adopts (the report says it would) and never
     * writes to the WAL or the store. See "Dry run" in the class description.
     */
    public static RecoveryManager dryRun(PerCoreWalView wal, CheckpointStore store) {
        return dryRun(wal, store, StatePlacement.BY_STORE_KEY);
    }

    /** As {@link #dryRun(PerCoreWalView, CheckpointStore)}, restoring a rescale's checkpoint by {@code placement}. */
    public static RecoveryManager dryRun(PerCoreWalView wal, CheckpointStore store, StatePlacement placement) {
        return new RecoveryManager(wal, null, store, RecoveryListener.NONE, RecoveryOptions.DEFAULTS, placement);
    }

    /**
     * Recovers; see the class description.
     *
     * @throws StorageException if no consistent state can be recovered (the message says what is missing),
     *                          or the store cannot be read (the message names the checkpoint and the file)
     * @throws io.laminar.storage.state.StateCorruptionException if a WAL record to replay has an intact
     *                          checksum but is no valid state change (the message names the core, the
     *                          segment file and the position)
     * @throws IOException      if the store cannot be listed
     */
    public RecoveredState recover() throws IOException {
        notify(RecoveryListener::started);
        try {
            var recovered = recoverNotifying();
            notify(l -> l.completed(recovered.report()));
            return recovered;
        } catch (IOException | RuntimeException | Error e) {
            notify(l -> l.failed(e));
            throw e;
        }
    }

    /** Logs a progress line and tells the listener. */
    private void progress(RecoveryProgress progress) {
        if (progress.phase() == RecoveryProgress.Phase.RESTORE) {
            log.info("recovery of {}: restoring checkpoint {}: {}", wal.directory(), progress.checkpointId(),
                    progress.describe());
        } else {
            log.info("recovery of {}: replaying the WAL: {}", wal.directory(), progress.describe());
        }
        notify(l -> l.progress(progress));
    }

    private void notify(java.util.function.Consumer<RecoveryListener> call) {
        try {
            call.accept(listener);
        } catch (RuntimeException e) {
            log.warn("recovery listener {} threw", listener, e);
        }
    }

    private RecoveredState recoverNotifying() throws IOException {
        long started = System.nanoTime();
        int cores = wal.cores();
        var skipped = new ArrayList<SkippedCheckpoint>();
        var ids = new ArrayList<>(store.listCheckpoints());
        ids.sort((a, b) -> Long.compare(b, a));
        var fences = OwnerFences.of(store); // a fenced owner's late checkpoints are void
        var start = wal.startPositions();
        for (long id : ids) {
            CheckpointManifest manifest;
            List<ChangelogAwareStateStore> stores;
            boolean adopt;
            notify(l -> l.restoreStarted(id));
            try {
                manifest = readManifest(id);
                var voided = fences.voidReason(manifest);
                if (voided.isPresent()) {
                    throw new Unusable(voided.get());
                }
                adopt = checkWal(manifest, start);
                stores = restore(manifest);
            } catch (Unusable | CheckpointCorruptException e) {
                log.warn("checkpoint {} skipped: {}", id, e.getMessage());
                skipped.add(new SkippedCheckpoint(id, e.getMessage()));
                notify(l -> l.restoreEnded(id, e.getMessage()));
                continue;
            } catch (StoreUnreadable e) {
                notify(l -> l.restoreEnded(id, "the store could not be read: " + causeOf(e)));
                throw new StorageException("Cannot recover " + wal.directory() + ": reading " + e.what
                        + " of checkpoint " + id + " from " + store + " failed: " + causeOf(e)
                        + ". This is a failure of the store, not a problem of the checkpoint, so recovery stops rather"
                        + " than fall back to an older checkpoint or the WAL alone, and nothing was changed. Retry once"
                        + " the store is reachable (check the network, the credentials and the permissions); if this"
                        + " checkpoint is permanently unreadable, delete its manifest to fall back to an older one.",
                        e.getCause());
            }
            notify(l -> l.restoreEnded(id, null));
            var from = new long[cores];
            for (int core = 0; core < cores; core++) {
                from[core] = manifest.walPositions().get(core);
            }
            if (adopt && writable == null) {
                log.info("dry run: would adopt checkpoint {} (epoch {}) at WAL positions {}", id, manifest.epoch(),
                        java.util.Arrays.toString(from));
            } else if (adopt) {
                // Only now that its files proved usable: the WAL's positions follow the checkpoint's.
                writable.adoptCheckpoint(CorePositions.of(from), manifest.epoch());
                log.warn("the WAL in {} has no history of its own: restoring checkpoint {} (epoch {}) as it is, and the"
                        + " WAL continues from its positions {}. Changes made after that checkpoint on the machine that"
                        + " took it are not restored; sources resume from the checkpoint's offsets.", wal.directory(),
                        id, manifest.epoch(), java.util.Arrays.toString(from));
            } else {
                log.info("restoring checkpoint {} (epoch {}); replaying the WAL from {}", id, manifest.epoch(),
                        java.util.Arrays.toString(from));
            }
            // Taken before the replay changes the stores: what the checkpoint's chains hold, for the
            // coordinator to diff the next cut against (the replay copies nodes, never changes these).
            var checkpointStates = stores.stream().map(ChangelogAwareStateStore::snapshot).toList();
            return replay(stores, CorePositions.of(from), manifest, adopt, checkpointStates, skipped, started);
        }
        for (int core = 0; core < cores; core++) {
            if (start.position(core) != 0) {
                throw new StorageException("cannot recover " + wal.directory() + ": no usable checkpoint ("
                        + (skipped.isEmpty() ? "there is none" : "skipped: " + skipped) + "), and the WAL of core "
                        + core + " starts at position " + start.position(core) + ", so its records before that "
                        + "were truncated away after a checkpoint; recovering from the WAL alone would lose them");
            }
        }
        if (!ids.isEmpty() && isNew(start)) {
            throw new StorageException("Refusing to recover " + wal.directory() + " with an empty state: its WAL is"
                    + " new (nothing was ever written to it), and " + store + " holds " + ids.size()
                    + " checkpoints, none of them usable (" + describe(skipped) + "). Starting empty would take"
                    + " checkpoints of an empty state, and their retention would delete these. Restore the damaged"
                    + " files from a backup; or, if these checkpoints are to be abandoned, delete their manifests (or"
                    + " point this machine at another store or prefix) and start again.");
        }
        var stores = new ArrayList<ChangelogAwareStateStore>();
        for (int core = 0; core < cores; core++) {
            stores.add(new ChangelogAwareStateStore(ChangelogSink.NONE));
        }
        log.info("no checkpoint{}; recovering {} from the WAL alone", skipped.isEmpty() ? "" : " usable",
                wal.directory());
        return replay(stores, start, null, false, List.of(), skipped, started);
    }

    private RecoveredState replay(List<ChangelogAwareStateStore> stores, CorePositions from,
            CheckpointManifest manifest, boolean adopted, List<StateSnapshot> checkpointStates,
            List<SkippedCheckpoint> skipped, long started) {
        int cores = stores.size();
        var replayers = new ChangelogSink[cores];
        for (int core = 0; core < cores; core++) {
            replayers[core] = stores.get(core).adoptingReplayer(); // the decoded arrays are fresh
        }
        var durable = wal.durablePositions();
        long total = 0;
        for (int core = 0; core < cores; core++) {
            total += Math.max(0, durable.position(core) - from.position(core));
        }
        long totalBytes = total;
        var perCore = new long[cores];
        var counters = new long[2]; // records, bytes
        long replayStarted = System.nanoTime();
        long interval = options.progressInterval().toNanos();
        var lastLog = new long[] {replayStarted};
        Long checkpointId = manifest == null ? null : manifest.checkpointId();
        Consumer<CoreRecord> apply = record -> {
            counters[1] += record.nextPosition() - record.position();
            if (record.kind() != RecordKind.DATA) {
                return;
            }
            try {
                StateChangeFormat.apply(record.body(), replayers[record.core()]);
            } catch (IllegalArgumentException e) {
                throw new StateCorruptionException("the log of core " + record.core() + " in " + wal.directory(),
                        wal.segmentFile(record.core(), record.position()), record.position(),
                        record.body().remaining(), e.getMessage());
            }
            perCore[record.core()]++;
            if ((++counters[0] & 0x3FF) == 0) {
                long now = System.nanoTime();
                if (now - lastLog[0] >= interval) {
                    lastLog[0] = now;
                    progress(RecoveryProgress.of(RecoveryProgress.Phase.REPLAY, checkpointId, counters[1],
                            Math.max(totalBytes, counters[1]), 0, 0, now - replayStarted));
                }
            }
        };
        notify(l -> l.replayStarted(manifest == null ? null : manifest.checkpointId()));
        // A dry run does not adopt: the adopted WAL would hold just the checkpoint's barriers, no data.
        if (!(adopted && writable == null)) {
            wal.replay(from, apply);
        }
        progress(RecoveryProgress.of(RecoveryProgress.Phase.REPLAY, checkpointId, counters[1], counters[1], 0, 0,
                System.nanoTime() - replayStarted));
        notify(l -> l.replayEnded(counters[0], counters[1]));
        var snapshots = new ArrayList<StateSnapshot>();
        var perCoreList = new ArrayList<Long>();
        for (int core = 0; core < cores; core++) {
            // The stores are done with: their indexes, epochs and undo logs go along, for the
            // runtime's fromSnapshot to go on with.
            snapshots.add(stores.get(core).retire());
            perCoreList.add(perCore[core]);
        }
        var duration = Duration.ofNanos(System.nanoTime() - started);
        var report = new RecoveryReport(manifest == null ? null : manifest.checkpointId(), adopted, skipped,
                counters[0], counters[1], perCoreList, duration);
        log.info("recovered {} in {} ms: checkpoint {}{}, {} records ({} bytes) replayed, {} checkpoints skipped",
                wal.directory(), duration.toMillis(), report.checkpointId(), adopted ? " (adopted)" : "", counters[0],
                counters[1], skipped.size());
        return new RecoveredState(snapshots, manifest == null ? Map.of() : manifest.sources(),
                manifest == null ? Map.of() : manifest.operators(), manifest == null ? -1 : manifest.epoch(), report,
                manifest, checkpointStates);
    }

    /**
     * Whether the WAL has no history of its own and starts at 0: on every core it starts at 0 and
     * holds no record (the empty case of {@link PerCoreWalManager#canAdopt}; opening a WAL makes
     * everything it holds durable, so an empty log ends where it starts).
     */
    private boolean isNew(CorePositions start) {
        var durable = wal.durablePositions();
        for (int core = 0; core < wal.cores(); core++) {
            if (start.position(core) != 0 || durable.position(core) != 0) {
                return false;
            }
        }
        return true;
    }

    private static String causeOf(StoreUnreadable e) {
        var cause = e.getCause();
        return cause.getMessage() == null ? cause.toString() : cause.getMessage();
    }

    private static String describe(List<SkippedCheckpoint> skipped) {
        var sb = new StringBuilder();
        for (var s : skipped) {
            sb.append(sb.length() == 0 ? "" : "; ").append("checkpoint ").append(s.checkpointId()).append(": ")
                    .append(s.reason());
        }
        return sb.toString();
    }

    /** A checkpoint cannot be used; the message says why. */
    static final class Unusable extends IOException {
        private static final long serialVersionUID = 1L;

        Unusable(String message) {
            super(message);
        }
    }

    /**
     * The store could not be read, for a reason that is not the checkpoint's content (the cause):
     * recovery stops. {@code what} names what was read, e.g. "its state file core-0000/...".
     */
    static final class StoreUnreadable extends IOException {
        private static final long serialVersionUID = 1L;
        final String what;

        StoreUnreadable(String what, Throwable cause) {
            super("cannot read " + what + ": " + cause, cause);
            this.what = what;
        }
    }

    /** The manifest of a listed checkpoint; a store failure is {@link StoreUnreadable}. */
    private CheckpointManifest readManifest(long id) throws IOException {
        Optional<CheckpointManifest> manifest;
        try {
            manifest = store.readManifest(id);
        } catch (CheckpointCorruptException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new StoreUnreadable("its manifest", e);
        }
        // Listed a moment ago, gone now: deleted meanwhile (by another writer's retention).
        return manifest.orElseThrow(() -> new Unusable("its manifest disappeared while recovery ran"));
    }

    /** The size of a state file; a store failure is {@link StoreUnreadable}. */
    private Optional<Long> fileSize(String path) throws IOException {
        try {
            return store.fileSize(path);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            throw new StoreUnreadable("its state file " + path, e);
        }
    }

    /**
     * Checks that every file exists with the size the manifest records: cheap, and fails fast before
     * any file is downloaded. The requests go out {@link RecoveryOptions#fetchThreads()} at a time
     * (one after the other, a checkpoint of many files waited a round trip per file on an object
     * store); the problem reported is that of the first file in the manifest's order, as if they had
     * been checked one by one.
     */
    private void checkSizes(List<StateFileRef> files) throws IOException {
        int threads = Math.min(options.fetchThreads(), files.size());
        if (threads <= 1) {
            for (var ref : files) {
                checkSize(ref);
            }
            return;
        }
        var pool = java.util.concurrent.Executors.newFixedThreadPool(threads,
                io.laminar.storage.concurrent.Threads.numberedDaemonFactory("laminar-restore-size-"));
        try {
            var checks = new ArrayList<java.util.concurrent.Future<Void>>();
            for (var ref : files) {
                checks.add(pool.submit(() -> {
                    checkSize(ref);
                    return null;
                }));
            }
            for (var check : checks) {
                try {
                    check.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof IOException io) {
                        throw io;
                    }
                    if (e.getCause() instanceof RuntimeException re) {
                        throw re;
                    }
                    throw new StoreUnreadable("the sizes of its state files", e.getCause());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted while checking the state files' sizes");
        } finally {
            pool.shutdownNow(); // after a failure, the checks of later files are of no use
            try {
                if (!pool.awaitTermination(60, java.util.concurrent.TimeUnit.SECONDS)) {
                    log.warn("some laminar-restore-size-* threads did not stop within 60 s (blocked in the store?);"
                            + " they end with their current request");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void checkSize(StateFileRef ref) throws IOException {
        var size = fileSize(ref.path());
        if (size.isEmpty()) {
            throw new Unusable("its state file " + ref.path() + " is missing");
        }
        if (size.get() != ref.size()) {
            throw new Unusable("its state file " + ref.path() + " has " + size.get() + " bytes, the manifest says "
                    + ref.size());
        }
    }

    /**
     * Checks that the WAL can continue from a checkpoint: it holds the records from the
     * checkpoint's positions, starting with its barriers; or it has no history of its own and can
     * adopt the checkpoint (then returns true). A WAL that adopted the checkpoint before and has
     * written nothing since holds its barriers already: it continues from it like any WAL, and this
     * recovery adopts nothing (the report says so).
     */
    private boolean checkWal(CheckpointManifest manifest, CorePositions start) throws Unusable {
        int cores = wal.cores();
        if (manifest.walPositions().size() != cores) {
            throw new Unusable("it has WAL positions for " + manifest.walPositions().size() + " cores, the WAL has "
                    + cores);
        }
        var keyGroupProblem = Rescaler.keyGroupMismatch(manifest.keyGroups(), wal.keyGroups());
        if (keyGroupProblem != null) {
            throw new Unusable(keyGroupProblem);
        }
        var positions = new long[cores];
        for (int core = 0; core < cores; core++) {
            positions[core] = manifest.walPositions().get(core);
            if (positions[core] < 0 || positions[core] % 8 != 0) {
                throw new Unusable("its WAL position of core " + core + " (" + positions[core] + ") cannot be a record's");
            }
        }
        if (wal.canAdopt(CorePositions.of(positions), manifest.epoch())
                && !holdsBarriers(positions, manifest.epoch())) {
            return true;
        }
        var durable = wal.durablePositions();
        for (int core = 0; core < cores; core++) {
            long position = positions[core];
            if (position < start.position(core)) {
                throw new Unusable("it needs the WAL of core " + core + " from position " + position
                        + ", but that WAL starts at " + start.position(core) + ": records " + position + " to "
                        + start.position(core) + " were truncated away");
            }
            if (position > durable.position(core)) {
                throw new Unusable("it needs the WAL of core " + core + " from position " + position
                        + ", but that WAL ends at " + durable.position(core));
            }
            if (!wal.isBarrierAt(core, position, manifest.epoch())) {
                throw new Unusable("the WAL of core " + core + " has no barrier of the checkpoint's epoch "
                        + manifest.epoch() + " at position " + position + ": the checkpoint was taken with another WAL"
                        + " (another machine's, or this directory's before it was replaced), and replaying this one"
                        + " from there would mix two histories");
            }
        }
        return false;
    }

    /** Whether the WAL of every core holds the barrier of {@code epoch} at its position. */
    private boolean holdsBarriers(long[] positions, long epoch) {
        for (int core = 0; core < positions.length; core++) {
            if (!wal.isBarrierAt(core, positions[core], epoch)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Checks everything a manifest references and loads each core's chain with a {@link ChainRestorer}
     * (files fetched and parsed in parallel), reading each file once, through a
     * {@code VerifyingInputStream}: its bytes are parsed as they arrive into stores of this attempt's own, which are returned only once every file reached its end with the recorded size
     * and CRC32C and passed the format's checks. On any failure they are dropped: nothing read from a
     * file is used before its checksum passed.
     */
    private List<ChangelogAwareStateStore> restore(CheckpointManifest manifest) throws IOException {
        int cores = wal.cores();
        var listed = new java.util.LinkedHashMap<String, StateFileRef>();
        for (var ref : manifest.files()) {
            var problem = StorePaths.problemWith(ref.path());
            if (problem != null) {
                throw new Unusable("it names a path outside the checkpoint store: " + problem);
            }
            listed.put(ref.path(), ref);
        }
        checkSizes(manifest.files());
        if (manifest.hasBaseChains()) {
            return restoreRescaled(manifest, listed);
        }
        var unread = new java.util.LinkedHashMap<>(listed);
        var chains = new ArrayList<ChainRestorer.Chain>();
        for (int core = 0; core < cores; core++) {
            var chain = manifest.operators().get(CoreChains.name(core));
            if (chain == null || chain.stateFiles().isEmpty()) {
                throw new Unusable("it has no state chain for core " + core);
            }
            chains.add(new ChainRestorer.Chain(core, refs(chain.stateFiles(), listed, unread, "core " + core + "'s chain")));
        }
        // Listed but in no chain: not loaded, but a checkpoint with a damaged file is still not used.
        long totalBytes = listed.values().stream().mapToLong(StateFileRef::size).sum();
        return new ChainRestorer(store, manifest.checkpointId(), options, this::progress)
                .restore(chains, List.copyOf(unread.values()), listed.size(), totalBytes);
    }

    /** The refs of {@code paths}, each listed; removes them from {@code unread}. */
    private static List<StateFileRef> refs(List<String> paths, Map<String, StateFileRef> listed,
            Map<String, StateFileRef> unread, String what) throws Unusable {
        var files = new ArrayList<StateFileRef>();
        for (var path : paths) {
            if (!listed.containsKey(path)) {
                throw new Unusable(what + " names " + path + ", which the manifest does not list");
            }
            files.add(listed.get(path));
            unread.remove(path);
        }
        return files;
    }

    /**
     * Restores a rescale's checkpoint ({@link CheckpointManifest#baseChains()}): each distinct base
     * chain (an old core's chain of an older checkpoint) is loaded once by the {@link ChainRestorer},
     * its entries are regrouped by key group into the cores that reference it ({@link Regrouping},
     * by this recovery's {@link StatePlacement}), and each core's own DELTA files are applied on top,
     * read through a {@link VerifyingInputStream} into the core's store of this attempt: dropped with
     * every other store if any byte fails its check. A failure names the file and the key groups it
     * was read for.
     */
    private List<ChangelogAwareStateStore> restoreRescaled(CheckpointManifest manifest,
            Map<String, StateFileRef> listed) throws IOException {
        int cores = wal.cores();
        var unread = new java.util.LinkedHashMap<>(listed);
        var bases = new ArrayList<ChainRestorer.Chain>();
        var baseIndex = new HashMap<List<String>, Integer>();
        var readFor = new HashMap<Integer, List<String>>(); // base chain -> "key groups a to b of old core o"
        var targets = new ArrayList<List<Regrouping.Piece>>();
        var deltas = new ArrayList<List<StateFileRef>>();
        for (int core = 0; core < cores; core++) {
            var name = CoreChains.name(core);
            var chain = manifest.operators().get(name);
            var baseChains = manifest.baseChains().getOrDefault(name, List.of());
            if (chain == null || (chain.stateFiles().isEmpty() && baseChains.isEmpty())) {
                throw new Unusable("it has no state chain for core " + core);
            }
            var pieces = new ArrayList<Regrouping.Piece>();
            for (var base : baseChains) {
                var files = refs(base.stateFiles(), listed, unread, "a base chain of core " + core);
                Integer index = baseIndex.get(base.stateFiles());
                if (index == null) {
                    index = bases.size();
                    baseIndex.put(base.stateFiles(), index);
                    bases.add(new ChainRestorer.Chain(base.core(), files));
                } else if (bases.get(index).core() != base.core()) {
                    throw new Unusable("its base chains name the files " + base.stateFiles() + " as the chain of"
                            + " core " + bases.get(index).core() + " and of core " + base.core());
                }
                readFor.computeIfAbsent(index, i -> new ArrayList<>()).add(base.describe() + " for core " + core);
                pieces.add(new Regrouping.Piece(index, base.firstKeyGroup(), base.endKeyGroup()));
            }
            targets.add(pieces);
            var own = refs(chain.stateFiles(), listed, new HashMap<>(), "core " + core + "'s chain");
            own.forEach(ref -> unread.remove(ref.path()));
            deltas.add(own);
        }
        long totalBytes = listed.values().stream().mapToLong(StateFileRef::size).sum();
        List<ChangelogAwareStateStore> loaded;
        try {
            loaded = new ChainRestorer(store, manifest.checkpointId(), options, this::progress)
                    .restore(bases, List.copyOf(unread.values()), listed.size(), totalBytes);
        } catch (Unusable e) {
            throw new Unusable(e.getMessage() + withReadFor(e.getMessage(), bases, readFor));
        }
        var sources = loaded.stream().map(ChangelogAwareStateStore::snapshot).toList();
        loaded = null;
        Regrouping.Result regrouped;
        try {
            regrouped = Regrouping.build(sources, targets, placement, manifest.keyGroups());
        } catch (Regrouping.Misplaced e) {
            var base = bases.get(e.source);
            throw new Unusable("its base chain " + base.files().get(0).path() + " (read for "
                    + String.join(", ", readFor.get(e.source)) + ") holds " + e.getMessage().replace("old state "
                    + e.source, "core " + base.core()) + ": restoring it by the state placement " + placement
                    + " would drop it. Recover with the StatePlacement the rescale used");
        }
        sources = null;
        var stores = new ArrayList<>(regrouped.stores());
        for (int core = 0; core < cores; core++) {
            for (var ref : deltas.get(core)) {
                applyDelta(manifest.checkpointId(), ref, core, stores.get(core));
            }
        }
        return stores;
    }

    /** ", read for key groups a to b of old core o for core c" if {@code message} names a file of a base chain. */
    private static String withReadFor(String message, List<ChainRestorer.Chain> bases,
            Map<Integer, List<String>> readFor) {
        for (int i = 0; i < bases.size(); i++) {
            for (var ref : bases.get(i).files()) {
                if (message.contains(ref.path())) {
                    return " (a state file of an older checkpoint that this rescaled checkpoint reads for "
                            + String.join(", ", readFor.get(i)) + ")";
                }
            }
        }
        return "";
    }

    /**
     * Applies one DELTA file of a rescale's checkpoint to {@code target}, verifying its size and
     * CRC32C as it is read; {@code target} is dropped by the caller on any failure.
     */
    private void applyDelta(long checkpointId, StateFileRef ref, int core, ChangelogAwareStateStore target)
            throws IOException {
        var what = "its state file " + ref.path();
        VerifyingInputStream in;
        try {
            in = VerifyingInputStream.open(store, ref, checkpointId);
        } catch (NoSuchFileException e) {
            throw new Unusable(what + " is missing");
        } catch (IOException | RuntimeException e) {
            throw new StoreUnreadable(what, e);
        }
        try (in) {
            StateFileFormat.Header header;
            try {
                header = StateFileFormat.read(in, ref.path(), ref.size(), core, target.replayer());
            } catch (CheckpointCorruptException e) {
                throw new Unusable(what + " is damaged: " + (in.problem() == null ? e.getMessage() : in.problem())
                        + " (corrupt bytes, of which nothing was used)");
            } catch (IOException | IllegalArgumentException e) {
                if (e instanceof Unusable || e instanceof StoreUnreadable || e instanceof NoSuchFileException) {
                    throw e;
                }
                if (e instanceof IOException && !(e.getMessage() != null && e.getMessage().startsWith("state file"))) {
                    throw new StoreUnreadable(what, e);
                }
                throw new Unusable("its state file " + ref.path() + " is damaged: " + e.getMessage());
            }
            if (!in.verified()) {
                throw new Unusable(what + " was not verified to its end (a bug: report it)");
            }
            if (header.kind() != StateFileFormat.DELTA) {
                throw new Unusable("the state file " + ref.path() + " is of kind " + header.kind() + ", expected "
                        + StateFileFormat.DELTA + " (a rescaled core's own chain holds deltas only)");
            }
        }
    }
}

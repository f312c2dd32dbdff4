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
import io.laminar.storage.store.StateFileRef;
import io.laminar.storage.store.StorePaths;
import io.laminar.storage.store.VerifyingInputStream;
import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
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
 * <p>Long replays log progress (percent, MB/s) at INFO. Not thread-safe: one recovery at a time,
 * before the WAL has writers.
 */
public final class RecoveryManager {

    private static final Logger log = LoggerFactory.getLogger(RecoveryManager.class);
    private static final long PROGRESS_EVERY_NANOS = 5_000_000_000L;

    private final PerCoreWalView wal;
    private final PerCoreWalManager writable; // null in a dry run
    private final CheckpointStore store;
    private final RecoveryListener listener;

    public RecoveryManager(PerCoreWalManager wal, CheckpointStore store) {
        this(wal, store, RecoveryListener.NONE);
    }

    /** A recovery manager whose {@link #recover()} reports its phases to {@code listener}. */
    public RecoveryManager(PerCoreWalManager wal, CheckpointStore store, RecoveryListener listener) {
        this(wal, wal, store, listener);
    }

    private RecoveryManager(PerCoreWalView wal, PerCoreWalManager writable, CheckpointStore store,
                            RecoveryListener listener) {
        this.wal = wal;
        this.writable = writable;
        this.store = store;
        this.listener = java.util.Objects.requireNonNull(listener, "listener");
    }

    /**
     * A recovery manager whose {@link #recover()} decides exactly as a real recovery over the same
     * WAL and store would, and changes nothing: it never adopts (the report says it would) and never
     * writes to the WAL or the store. See "Dry run" in the class description.
     */
    public static RecoveryManager dryRun(PerCoreWalView wal, CheckpointStore store) {
        return new RecoveryManager(wal, null, store, RecoveryListener.NONE);
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
        var start = wal.startPositions();
        for (long id : ids) {
            CheckpointManifest manifest;
            List<ChangelogAwareStateStore> stores;
            boolean adopt;
            notify(l -> l.restoreStarted(id));
            try {
                manifest = readManifest(id);
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
            replayers[core] = stores.get(core).replayer();
        }
        var durable = wal.durablePositions();
        long total = 0;
        for (int core = 0; core < cores; core++) {
            total += Math.max(0, durable.position(core) - from.position(core));
        }
        long totalBytes = total;
        var perCore = new long[cores];
        var counters = new long[2]; // records, bytes
        var lastLog = new long[] {System.nanoTime()};
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
            if ((++counters[0] & 0xFFFF) == 0) {
                long now = System.nanoTime();
                if (now - lastLog[0] > PROGRESS_EVERY_NANOS) {
                    lastLog[0] = now;
                    double seconds = (now - started) / 1e9;
                    log.info("recovery of {}: replayed {}% of the WAL ({} MB, {} MB/s)", wal.directory(),
                            totalBytes == 0 ? 100 : counters[1] * 100 / totalBytes, counters[1] >> 20,
                            String.format("%.1f", counters[1] / 1048576.0 / Math.max(seconds, 1e-9)));
                }
            }
        };
        notify(l -> l.replayStarted(manifest == null ? null : manifest.checkpointId()));
        // A dry run does not adopt: the adopted WAL would hold just the checkpoint's barriers, no data.
        if (!(adopted && writable == null)) {
            wal.replay(from, apply);
        }
        notify(l -> l.replayEnded(counters[0], counters[1]));
        var snapshots = new ArrayList<StateSnapshot>();
        var perCoreList = new ArrayList<Long>();
        for (int core = 0; core < cores; core++) {
            snapshots.add(stores.get(core).snapshot());
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
    private static final class Unusable extends IOException {
        private static final long serialVersionUID = 1L;

        Unusable(String message) {
            super(message);
        }
    }

    /**
     * The store could not be read, for a reason that is not the checkpoint's content (the cause):
     * recovery stops. {@code what} names what was read, e.g. "its state file core-0000/...".
     */
    private static final class StoreUnreadable extends IOException {
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
     * Opens a state file: a missing file is {@link Unusable}, and any other failure of the store, at
     * the open or at any read, a {@link StoreUnreadable} naming the file.
     */
    private InputStream openFile(StateFileRef ref) throws IOException {
        return new StoreStream(open(ref, () -> store.openFile(ref.path())), "its state file " + ref.path());
    }

    /** Opens a state file as {@code opener} does, telling a missing file from a failure of the store. */
    private static <T extends InputStream> T open(StateFileRef ref, Opener<T> opener) throws IOException {
        var what = "its state file " + ref.path();
        try {
            return opener.open();
        } catch (NoSuchFileException e) {
            throw new Unusable(what + " is missing");
        } catch (IOException | RuntimeException e) {
            throw new StoreUnreadable(what, e);
        }
    }

    @FunctionalInterface
    private interface Opener<T extends InputStream> {
        T open() throws IOException;
    }

    /**
     * A stream of the store that tells its failures apart: a {@link CheckpointCorruptException}
     * (the bytes do not match what was recorded) passes as it is, anything else is a
     * {@link StoreUnreadable}. So what the state file parser still throws is about the bytes alone.
     */
    private static final class StoreStream extends FilterInputStream {
        private final String what;

        StoreStream(InputStream in, String what) {
            super(in);
            this.what = what;
        }

        @Override
        public int read() throws IOException {
            try {
                return in.read();
            } catch (CheckpointCorruptException e) {
                throw e;
            } catch (IOException | RuntimeException e) {
                throw new StoreUnreadable(what, e);
            }
        }

        @Override
        public int read(byte[] buffer, int offset, int length) throws IOException {
            try {
                return in.read(buffer, offset, length);
            } catch (CheckpointCorruptException e) {
                throw e;
            } catch (IOException | RuntimeException e) {
                throw new StoreUnreadable(what, e);
            }
        }

        @Override
        public long skip(long n) throws IOException {
            try {
                return in.skip(n);
            } catch (CheckpointCorruptException e) {
                throw e;
            } catch (IOException | RuntimeException e) {
                throw new StoreUnreadable(what, e);
            }
        }

        @Override
        public void close() throws IOException {
            try {
                in.close();
            } catch (IOException | RuntimeException e) {
                throw new StoreUnreadable(what, e);
            }
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
     * Checks everything a manifest references and loads each core's chain, reading each file once,
     * through a {@link VerifyingInputStream}: its bytes are parsed as they arrive into stores of this
     * attempt's own, which are returned only once every file reached its end with the recorded size
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
            // Cheap, and fails fast before any file is downloaded.
            var size = fileSize(ref.path());
            if (size.isEmpty()) {
                throw new Unusable("its state file " + ref.path() + " is missing");
            }
            if (size.get() != ref.size()) {
                throw new Unusable("its state file " + ref.path() + " has " + size.get() + " bytes, the manifest says "
                        + ref.size());
            }
        }
        var unread = new java.util.LinkedHashMap<>(listed);
        var stores = new ArrayList<ChangelogAwareStateStore>();
        for (int core = 0; core < cores; core++) {
            var chain = manifest.operators().get(CoreChains.name(core));
            if (chain == null || chain.stateFiles().isEmpty()) {
                throw new Unusable("it has no state chain for core " + core);
            }
            // The full file is bulk-loaded (its entries come in key order), the deltas applied on top;
            // all into a store of its own, dropped on any error: never a partially applied state.
            var loader = ChangelogAwareStateStore.bulkLoader();
            ChangelogAwareStateStore target = null;
            for (int i = 0; i < chain.stateFiles().size(); i++) {
                var path = chain.stateFiles().get(i);
                if (!listed.containsKey(path)) {
                    throw new Unusable("core " + core + "'s chain names " + path + ", which the manifest does not list");
                }
                var ref = listed.get(path);
                unread.remove(path);
                var sink = target == null ? loader : target.replayer();
                int expectedCore = core;
                var header = readVerified(manifest, ref,
                        in -> StateFileFormat.read(in, path, ref.size(), expectedCore, sink));
                byte expected = i == 0 ? StateFileFormat.FULL : StateFileFormat.DELTA;
                if (header.kind() != expected) {
                    throw new Unusable("the state file " + path + " is of kind " + header.kind() + ", expected "
                            + expected);
                }
                if (target == null) {
                    target = loader.build(ChangelogSink.NONE);
                }
            }
            stores.add(target);
        }
        // Listed but in no chain: not loaded, but a checkpoint with a damaged file is still not used.
        for (var ref : unread.values()) {
            readVerified(manifest, ref, null);
        }
        return stores;
    }

    @FunctionalInterface
    private interface Parser {
        StateFileFormat.Header parse(InputStream in) throws IOException;
    }

    /**
     * Reads the file of {@code ref} once, to its end, through a {@link VerifyingInputStream},
     * handing its bytes to {@code parser} (null: only verify). A size or CRC32C that differs from
     * the manifest's makes the checkpoint {@link Unusable} even if the parser failed first (the rest
     * is read to tell: damaged bytes, not a bad format, are then the reason); a format error of
     * verified bytes makes it {@link Unusable} too; a failure of the store is {@link StoreUnreadable}.
     */
    private StateFileFormat.Header readVerified(CheckpointManifest manifest, StateFileRef ref, Parser parser)
            throws IOException {
        var path = ref.path();
        var verifying = open(ref, () -> VerifyingInputStream.open(store, ref, manifest.checkpointId()));
        try (var in = new BufferedInputStream(new StoreStream(verifying, "its state file " + path), 1 << 20)) {
            StateFileFormat.Header header = null;
            String damaged = null;
            if (parser != null) {
                try {
                    header = parser.parse(in);
                } catch (CheckpointCorruptException | StoreUnreadable | Unusable e) {
                    throw e;
                } catch (IOException e) {
                    // The store's own failures are StoreUnreadable: this is the parser's, about the bytes.
                    damaged = "its " + e.getMessage();
                } catch (IllegalArgumentException e) {
                    damaged = "its state file " + path + " is damaged: " + e.getMessage();
                }
            }
            // To the end (the parser stopped there, or early on damaged bytes): the end verifies.
            var buffer = new byte[64 * 1024];
            while (in.read(buffer) >= 0) {
                // checksummed by the verifying stream
            }
            if (!verifying.verified()) {
                throw new IllegalStateException("the state file " + path + " of checkpoint "
                        + manifest.checkpointId() + " was read without reaching its end; its bytes are unverified"
                        + " (a bug: report it)");
            }
            if (damaged != null) {
                throw new Unusable(damaged);
            }
            return header;
        } catch (CheckpointCorruptException e) {
            if (verifying.problem() == null) {
                throw e;
            }
            throw new Unusable("its state file " + path + " is damaged: " + verifying.problem()
                    + " (corrupt bytes, of which nothing was used)");
        }
    }
}

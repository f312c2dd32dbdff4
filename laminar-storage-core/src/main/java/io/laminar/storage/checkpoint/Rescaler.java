package io.laminar.storage.checkpoint;

import io.laminar.storage.KeyGroups;
import io.laminar.storage.StorageException;
import io.laminar.storage.io.FileIO;
import io.laminar.storage.percore.CorePositions;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.percore.PerCoreWalView;
import io.laminar.storage.percore.WalLayout;
import io.laminar.storage.replication.ChangeReplicator;
import io.laminar.storage.replication.ReplicatedChangeSink;
import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.state.StateChange;
import io.laminar.storage.state.StateChangeFormat;
import io.laminar.storage.state.StateSnapshot;
import io.laminar.storage.store.BaseChain;
import io.laminar.storage.store.CheckpointCorruptException;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.ConnectorCheckpoint;
import io.laminar.storage.store.OperatorCheckpoint;
import io.laminar.storage.store.OwnerFences;
import io.laminar.storage.store.StateFileRef;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens a per-core WAL directory with any number of cores: when the directory, or the newest
 * checkpoint a new directory would restore, was written with another number of cores (or before key
 * groups existed), it first <em>rescales</em>: every entry of the state moves to the core that now
 * owns its key group, and a new per-core WAL layout starts from a checkpoint of the moved state.
 *
 * <h2>What is restored</h2>
 * The old layout is recovered exactly as an unscaled restart would recover it, by
 * {@link RecoveryManager#dryRun} over the old logs (opened, locked and repaired with their own
 * number of cores): the newest usable checkpoint's state files (each read once, in parallel), then
 * the old WAL's records after it, replayed epoch by epoch. The keyed entries of the old cores are
 * then regrouped ({@link Regrouping}, one thread per new core up to the processors) straight into
 * bulk-loaded stores of the new cores, each taking, in key order, the entries of the key groups it
 * now owns ({@link StatePlacement#keyGroupOf}); the old entries' arrays are shared, not copied (the
 * old states are frozen first), and the old stores are dropped after the rescale. Core-local
 * entries are merged by {@link StatePlacement#mergeCoreLocal}. Every entry of an old layout that
 * has key groups must lie in a key group its old core owned, or the rescale is refused (the
 * application routes keys differently from its placement). State files are per core and in key
 * order, so the whole old state is read, once, whatever the new number of cores.
 *
 * <h2>What is written: references, and only what the WAL changed</h2>
 * When the old state was restored from a plain checkpoint of key-grouped state, the rescale's
 * checkpoint does not rewrite it: its manifest (format 3.0) references the old checkpoint's chains
 * ({@link CheckpointManifest#baseChains()}: per new core, each overlapping old core's chain and the
 * key groups taken from it) and lists their files, and each new core gets one DELTA file (named
 * with the rescale's id, written in parallel) holding what the old WAL's records after that
 * checkpoint changed in its key groups ({@code changesSince} of each old core's state against its
 * checkpoint state) and a put of each of its core-local entries (which base chains never supply).
 * Otherwise (state from before key groups, no checkpoint, or an old checkpoint that is itself a
 * rescale's, whose references would nest) each new core gets a FULL file, which compacts the
 * references away. The first checkpoint after a rescale writes FULL files, after which retention
 * lets the old files go. A recovery of the rescale's checkpoint needs the same placement
 * ({@code RecoveryManager}'s, {@code LaminarRuntime.Builder.statePlacement}).
 *
 * <h2>Sources, operators and the watermark</h2>
 * The rescale's checkpoint keeps the old checkpoint's {@code sources}, its operator entries (except
 * the old cores' state chains) and its watermark, unchanged: sources resume from the offsets of the
 * checkpoint the old state was restored from, as after an unscaled restart, while the state holds the
 * WAL records after it too; reading them again is deduplicated by the application as after any
 * restart. Per-core positions the application keeps in its state (core-local entries) are merged by
 * its {@link StatePlacement}: a new core must resume at the lowest position of the old cores whose
 * keys it received, so that no record of any of its keys is skipped. Operator entries named after an
 * old core ({@code core-0003/...}) keep that name.
 *
 * <h2>Crash safety: either the old layout or the new one</h2>
 * The new layout is built beside the old one, in {@code <wal>.rescale}, and the old one is not
 * touched until the switch:
 * <ol>
 *   <li>{@value #INTENT} is written (atomically) naming the rescale's checkpoint id;</li>
 *   <li>the new logs are created there ({@link PerCoreWalManager#createAt}, with their
 *       {@link WalLayout}) and start, at positions after every old one, with the barrier of an
 *       epoch above every old one;</li>
 *   <li>the new cores' state files are written (DELTA files and references, or FULL files; see
 *       above) and the manifest is published: the rescale's checkpoint, with those positions and
 *       that epoch;</li>
 *   <li>{@value #COMMITTED} is written (atomically), naming every file of the new layout: the
 *       commit point;</li>
 *   <li>the switch: every file of {@code <wal>} that is not one of the new layout's is deleted (the
 *       directory synced), the new layout's files are renamed into {@code <wal>} (both directories
 *       synced), then {@value #INTENT}, then {@value #COMMITTED} (each followed by a sync), then
 *       {@code <wal>.rescale} are deleted.</li>
 * </ol>
 * Every open first finishes or undoes an interrupted rescale: a {@code <wal>.rescale} with a valid
 * {@value #COMMITTED} is switched to again (rolled forward: the switch is idempotent, and
 * {@code <wal>} is never opened while the commit marker exists); one without it is deleted, with the
 * manifest its {@value #INTENT} names if that was published and the state files named with that
 * checkpoint's id (never an older file its manifest referenced; rolled back: the old layout and its
 * checkpoints are as before). So a crash at any step leaves the old layout or the new
 * one, never a mix, and the next open may ask for yet another number of cores. Only files are
 * renamed, never directories, so every step is within what the file seam models.
 *
 * <h2>The marker files, byte by byte (little-endian)</h2>
 * <pre>
 * offset size field
 *  0     4    magic: 'L' 'R' 'S' 'I' for {@value #INTENT}, 'L' 'R' 'S' 'C' for {@value #COMMITTED},
 *             'L' 'R' 'M' 'I' for {@value #MOVE_INTENT}, 'L' 'R' 'M' 'D' for {@value #MOVE_DONE} (a
 *             replicated shard's layout set aside: the checkpoint id is 0, the file names are the
 *             old layout's files to move)
 *  4     4    format version, 1
 *  8     8    the rescale's checkpoint id
 * 16     4    the old number of cores
 * 20     4    the new number of cores
 * 24     4    n: the number of file names that follow (0 in {@value #INTENT})
 * 28     ...  n times: a name's length in bytes (2, unsigned) and the name in UTF-8: the new layout's
 *             files, as they are named in {@code <wal>.rescale} and will be in {@code <wal>}
 * end-4  4    CRC32C of every byte before it
 * </pre>
 * Written as a temporary file, forced, renamed, directory synced. A marker that does not verify
 * counts as absent (it cannot have been renamed into place before it was complete).
 *
 * <h2>Directories and checkpoints from before key groups</h2>
 * A directory with logs holding records but no layout file, or a new directory restoring a manifest
 * with no {@code keyGroups}, was placed by {@code floorMod(mix(hash), cores)}: it is rescaled even to
 * the same number of cores, which re-places every key.
 *
 * <h2>A replicated shard</h2>
 * A shard with replicated durability is not rescaled by {@link #open}, which would publish before
 * the process owns the shard: {@link #openReplicated} only sets an old layout aside, and
 * {@code LaminarRuntime.start()} calls {@link #rescaleReplicated} after it fenced the previous owner
 * and claimed the store (the old layout's own WAL, or the checkpoint plus the replicated changes
 * after it, regrouped and published as one checkpoint at the replicated log's end).
 *
 * <p>Not thread-safe: one open at a time per directory, on the thread that starts the application.
 * Only one process may use a directory (the logs' locks are held while the old layout is read).
 */
public final class Rescaler {

    private static final Logger log = LoggerFactory.getLogger(Rescaler.class);

    /** The marker of a rescale under way, in {@code <wal>.rescale}. */
    static final String INTENT = "rescale.intent";
    /** The marker of a rescale whose new layout is complete: its commit point. */
    static final String COMMITTED = "rescale.committed";
    static final String SIDE_SUFFIX = ".rescale";
    /** The sibling of a replicated shard's WAL directory that holds its old layout until the start rescales it. */
    public static final String REPLICATED_SUFFIX = ".replicated-rescale";
    /** In {@code <wal>}{@value #REPLICATED_SUFFIX}: the names of the old layout's files to move there. */
    static final String MOVE_INTENT = "move.intent";
    /** In {@code <wal>}{@value #REPLICATED_SUFFIX}: every file of the old layout is there. */
    static final String MOVE_DONE = "move.done";
    /** The runtime's marker of a takeover that has not reached its first checkpoint ({@code LaminarRuntime.TAKEOVER_MARKER}). */
    static final String TAKEOVER_PENDING = "replication-takeover.pending";

    private static final int INTENT_MAGIC = 0x4953524C; // 'L' 'R' 'S' 'I'
    private static final int COMMITTED_MAGIC = 0x4353524C; // 'L' 'R' 'S' 'C'
    private static final int MOVE_INTENT_MAGIC = 0x494D524C; // 'L' 'R' 'M' 'I'
    private static final int MOVE_DONE_MAGIC = 0x444D524C; // 'L' 'R' 'M' 'D'
    private static final int MARKER_HEADER = 28;

    /** The steps of a rescale, for tests that stop it between two of them. */
    enum Step { RECOVERED, INTENT_WRITTEN, LOGS_CREATED, CHECKPOINT_PUBLISHED, COMMITTED, OLD_DELETED, SWITCHED }

    /** Hears each step of a rescale; tests throw from it to stop the rescale there. */
    @FunctionalInterface
    interface StepHook {
        void reached(Step step) throws IOException;
    }

    private final Path directory;
    private final PerCoreWalOptions options;
    private final CheckpointStore store;
    private final StatePlacement placement;
    private final FileIO io;
    private final StepHook hook;

    private Rescaler(Path directory, PerCoreWalOptions options, CheckpointStore store, StatePlacement placement,
            StepHook hook) {
        this.directory = directory.toAbsolutePath();
        this.options = options;
        this.store = store;
        this.placement = placement;
        this.io = options.fileIO();
        this.hook = hook;
    }

    /**
     * The per-core WAL an {@link #open} opened, and, if it rescaled, the state of the new layout as
     * a recovery of it would return it (the moved state and the rescale's checkpoint, whose report
     * carries the {@link RescaleReport}): {@code LaminarRuntime.Builder.recovered} starts from it
     * instead of reading that checkpoint back.
     *
     * @param wal       the opened WAL
     * @param recovered the rescaled state, if there was a rescale
     */
    public record Opened(PerCoreWalManager wal, Optional<RecoveredState> recovered) {
        public Opened {
            Objects.requireNonNull(wal, "wal");
            Objects.requireNonNull(recovered, "recovered");
        }

        /** What the rescale did, if there was one. */
        public Optional<RescaleReport> rescale() {
            return recovered.map(state -> state.report().rescale());
        }
    }

    /**
     * Opens the per-core WAL in {@code directory} with {@code options}' number of cores, rescaling
     * the directory (or the checkpoint a new directory restores from {@code store}) first if it was
     * written with another; see the class description.
     *
     * @throws IllegalArgumentException if the directory or the store records another number of key
     *                                  groups than {@code options.keyGroups()}
     * @throws StorageException         if the old layout cannot be recovered (the message says why;
     *                                  nothing was changed), or a step of the rescale failed (the next
     *                                  open rolls it back or forward)
     */
    public static Opened open(Path directory, PerCoreWalOptions options, CheckpointStore store,
            StatePlacement placement) {
        return open(directory, options, store, placement, step -> { });
    }

    static Opened open(Path directory, PerCoreWalOptions options, CheckpointStore store, StatePlacement placement,
            StepHook hook) {
        if (holdsLayoutSetAside(directory)) {
            // Its WAL tail is only there: a start without replication would restore the checkpoint alone.
            throw new StorageException("the per-core WAL of " + directory + " is being rescaled as a replicated shard:"
                    + " its old layout is set aside in " + directory.getFileName() + REPLICATED_SUFFIX + " until a"
                    + " start with replication owns the shard and rescales it. Start it with"
                    + " laminar.storage.durability=replicated (any number of cores); nothing was changed");
        }
        var rescaler = new Rescaler(directory, options, store, Objects.requireNonNull(placement, "placement"), hook);
        try {
            rescaler.finishInterrupted();
            var recovered = rescaler.rescaleIfNeeded();
            return new Opened(PerCoreWalManager.open(directory, options), recovered);
        } catch (IOException e) {
            throw new StorageException("cannot rescale the per-core WAL in " + directory + " to " + options.cores()
                    + " cores: " + e + ". Nothing is lost: the next start finishes or undoes the rescale", e);
        }
    }

    /**
     * Why a checkpoint with {@code manifestKeyGroups} cannot be replayed against a WAL with
     * {@code walKeyGroups} (0: none recorded), or null if it can.
     */
    static String keyGroupMismatch(int manifestKeyGroups, int walKeyGroups) {
        if (manifestKeyGroups == walKeyGroups || walKeyGroups == PerCoreWalView.ANY_KEY_GROUPS) {
            return null;
        }
        if (manifestKeyGroups == 0) {
            return "it was written before key groups (its keys are placed by an older hash), but the WAL spreads keys"
                    + " over " + walKeyGroups + " key groups; restoring it needs a rescale (Rescaler)";
        }
        if (walKeyGroups == 0) {
            return "it spreads its keys over " + manifestKeyGroups + " key groups, but the WAL was written before key"
                    + " groups; restoring it needs a rescale (Rescaler)";
        }
        return "it spreads its keys over " + manifestKeyGroups + " key groups, but the WAL over " + walKeyGroups
                + " (the option keyGroups, laminar.storage.key-groups): the number of key groups is chosen once per"
                + " directory and store";
    }

    // ---- an interrupted rescale ------------------------------------------------------------------

    private Path side() {
        return directory.resolveSibling(directory.getFileName() + SIDE_SUFFIX);
    }

    /** Rolls an interrupted rescale forward (committed) or back (not committed). */
    private void finishInterrupted() throws IOException {
        var side = side();
        var parent = directory.getParent();
        if (Files.isDirectory(side)) {
            var committed = readMarker(side.resolve(COMMITTED), COMMITTED_MAGIC);
            if (committed.isPresent()) {
                log.warn("finishing the rescale of {} from {} to {} cores that a crash interrupted after its commit"
                        + " (checkpoint {})", directory, committed.get().oldCores(), committed.get().newCores(),
                        committed.get().checkpointId());
                switchOver(side, committed.get());
            } else {
                var intent = readMarker(side.resolve(INTENT), INTENT_MAGIC);
                if (intent.isPresent()) {
                    // Its checkpoint may have been published: it belongs to the layout being undone.
                    long id = intent.get().checkpointId();
                    if (store.listCheckpoints().contains(id)) {
                        store.deleteManifest(id);
                    }
                    // Only the files the rescale wrote, named with its id: never the older checkpoint's
                    // files its manifest referenced.
                    for (int core = 0; core < intent.get().newCores(); core++) {
                        for (boolean full : new boolean[] {true, false}) {
                            var path = CoreChains.stateFilePath(core, id, full);
                            try {
                                if (store.fileSize(path).isPresent()) {
                                    store.deleteFile(path);
                                }
                            } catch (NoSuchFileException e) {
                                // never written
                            }
                        }
                    }
                }
                log.warn("undoing the rescale of {} that a crash interrupted before its commit: the old layout stays",
                        directory);
                deleteDirectory(side);
                io.syncDirectory(parent);
            }
        }
        if (Files.isDirectory(directory)) {
            io.deleteIfExists(directory.resolve(INTENT));
            io.deleteIfExists(directory.resolve(COMMITTED));
        }
    }

    /**
     * Replaces the old layout in the directory by the committed new one in {@code side}: deletes
     * every file of the directory that is not one of the new layout's, then moves the new layout's
     * files in, then removes the markers (the intent first: a side directory with an intent and no
     * commit is undone) and the side directory. Idempotent: a crash anywhere in it is finished by
     * running it again, which the commit marker (still there until the end) makes the next open do.
     */
    private void switchOver(Path side, Marker committed) throws IOException {
        var files = java.util.Set.copyOf(committed.files());
        Files.createDirectories(directory);
        try (var present = Files.list(directory)) {
            for (var path : present.toList()) {
                if (!files.contains(path.getFileName().toString())) {
                    io.deleteIfExists(path);
                }
            }
        }
        io.syncDirectory(directory);
        hook.reached(Step.OLD_DELETED);
        for (var name : committed.files()) {
            var source = side.resolve(name);
            if (Files.exists(source)) {
                io.atomicMove(source, directory.resolve(name));
            }
        }
        io.syncDirectory(directory);
        io.syncDirectory(side);
        hook.reached(Step.SWITCHED);
        io.deleteIfExists(side.resolve(INTENT));
        io.syncDirectory(side);
        io.deleteIfExists(side.resolve(COMMITTED));
        io.syncDirectory(side);
        deleteDirectory(side);
        io.syncDirectory(directory.getParent());
    }

    private void deleteDirectory(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            for (var path : (Iterable<Path>) files::iterator) {
                io.deleteIfExists(path);
            }
        } catch (NoSuchFileException e) {
            return;
        }
        io.deleteIfExists(dir);
    }

    // ---- deciding ----------------------------------------------------------------------------------

    /** Where the state to rescale comes from. */
    private record Source(int cores, int keyGroups, boolean fromWal) {
    }

    private Optional<RecoveredState> rescaleIfNeeded() throws IOException {
        var source = source();
        if (source == null) {
            return Optional.empty();
        }
        return Optional.of(rescale(source));
    }

    /** What to rescale from, or null if the directory opens as it is. */
    private Source source() throws IOException {
        int cores = options.cores();
        var layout = Files.isDirectory(directory) ? WalLayout.read(directory) : Optional.<WalLayout>empty();
        if (layout.isPresent() && layout.get().keyGroups() != options.keyGroups()) {
            throw new IllegalArgumentException("the per-core WAL in " + directory + " spreads its keys over "
                    + layout.get().keyGroups() + " key groups (its " + WalLayout.FILE_NAME + "), but the option"
                    + " keyGroups (laminar.storage.key-groups) is " + options.keyGroups() + ": the number of key"
                    + " groups is chosen once per directory and checkpoint store; set it back to "
                    + layout.get().keyGroups());
        }
        if (WalLayout.holdsCoreLogs(directory)) {
            var view = PerCoreWalView.inspect(directory);
            if (!isEmpty(view)) {
                if (layout.isPresent()) {
                    return layout.get().cores() == cores ? null
                            : new Source(layout.get().cores(), layout.get().keyGroups(), true);
                }
                return new Source(view.cores(), 0, true); // written before key groups: re-place every key
            }
            if (layout.map(WalLayout::cores).orElse(view.cores()) != cores) {
                // Logs without a single record (a first open a crash interrupted, or never written):
                // nothing to move; they are created afresh with the configured number of cores.
                log.info("the per-core WAL in {} holds no record: its logs are created afresh for {} cores", directory,
                        cores);
                WalLayout.deleteEmptyLogs(directory, io);
            }
        }
        // A new directory (or logs without a record): it restores the newest checkpoint of the store.
        var newest = newestManifest();
        if (newest.isEmpty()) {
            return null;
        }
        var manifest = newest.get();
        if (manifest.keyGroups() != 0 && manifest.keyGroups() != options.keyGroups()) {
            throw new IllegalArgumentException("checkpoint " + manifest.checkpointId() + " in " + store
                    + " spreads its keys over " + manifest.keyGroups() + " key groups, but the option keyGroups"
                    + " (laminar.storage.key-groups) is " + options.keyGroups() + ": the number of key groups is"
                    + " chosen once per directory and checkpoint store; set it to " + manifest.keyGroups());
        }
        int oldCores = manifest.walPositions().size();
        if (oldCores == cores && manifest.keyGroups() == options.keyGroups()) {
            return null; // restored as it is (adopted) by the recovery
        }
        if (oldCores < 1) {
            return null; // refused, with its reason, by the recovery
        }
        return new Source(oldCores, manifest.keyGroups(), false);
    }

    private static boolean isEmpty(PerCoreWalView view) {
        var start = view.startPositions();
        var durable = view.durablePositions();
        for (int core = 0; core < view.cores(); core++) {
            if (start.position(core) != 0 || durable.position(core) != 0) {
                return false;
            }
        }
        return true;
    }

    /** The newest manifest that reads, newest first (damaged ones are left to the recovery's report). */
    private Optional<CheckpointManifest> newestManifest() throws IOException {
        var ids = new ArrayList<>(store.listCheckpoints());
        ids.sort((a, b) -> Long.compare(b, a));
        for (long id : ids) {
            try {
                var manifest = store.readManifest(id);
                if (manifest.isPresent()) {
                    return manifest;
                }
            } catch (CheckpointCorruptException e) {
                log.warn("checkpoint {} is unreadable ({}); looking at the older ones to decide on a rescale", id,
                        e.getMessage());
            }
        }
        return Optional.empty();
    }

    /**
     * As {@link #newestManifest()}, skipping manifests a fenced owner published too late (void by
     * {@link OwnerFences}), which the recovery skips too: a replicated shard's zombie owner must not
     * decide its number of cores.
     */
    private Optional<CheckpointManifest> newestValidManifest() throws IOException {
        var fences = OwnerFences.of(store);
        var ids = new ArrayList<>(store.listCheckpoints());
        ids.sort((a, b) -> Long.compare(b, a));
        for (long id : ids) {
            try {
                var manifest = store.readManifest(id);
                if (manifest.isPresent() && fences.voidReason(manifest.get()).isEmpty()) {
                    return manifest;
                }
            } catch (CheckpointCorruptException e) {
                log.warn("checkpoint {} is unreadable ({}); looking at the older ones to decide on a rescale", id,
                        e.getMessage());
            }
        }
        return Optional.empty();
    }

    // ---- rescaling ---------------------------------------------------------------------------------

    private RecoveredState rescale(Source source) throws IOException {
        long started = System.nanoTime();
        int newCores = options.cores();
        int keyGroups = options.keyGroups();
        boolean legacy = source.keyGroups() == 0;
        log.warn("rescaling {} from {} to {} cores ({} key groups{})", directory, source.cores(), newCores, keyGroups,
                legacy ? "; it was written before key groups, so every key is re-placed" : "");
        PerCoreWalManager oldWal = null;
        try {
            RecoveredState recovered;
            long highestEpoch;
            long highestPosition;
            if (source.fromWal()) {
                // The old logs, locked and repaired as any open does, with their own layout.
                int openKeyGroups = legacy ? Math.max(keyGroups, source.cores()) : source.keyGroups();
                oldWal = PerCoreWalManager.open(directory, options.withKeyGroups(openKeyGroups)
                        .withCores(source.cores()));
                recovered = RecoveryManager.dryRun(oldWal, store, placement).recover();
                highestEpoch = oldWal.epoch();
                highestPosition = max(oldWal.durablePositions());
            } else {
                recovered = RecoveryManager.dryRun(PerCoreWalView.empty(source.cores(), source.keyGroups()), store,
                        placement).recover();
                highestEpoch = -1;
                highestPosition = 0;
            }
            var restored = recovered.checkpoint();
            if (restored == null && !source.fromWal()) {
                throw new StorageException("cannot restore " + store + " onto " + newCores + " cores: none of its"
                        + " checkpoints is usable (" + recovered.report().skipped() + ")");
            }
            if (restored != null) {
                highestEpoch = Math.max(highestEpoch, restored.epoch());
                highestPosition = Math.max(highestPosition, restored.walPositions().stream().mapToLong(p -> p).max()
                        .orElse(0));
            }
            long stateBytesRead = restored == null ? 0 : restored.files().stream().mapToLong(StateFileRef::size).sum();
            long recoveredAt = System.nanoTime();
            hook.reached(Step.RECOVERED);
            // Keyed entries straight into the new cores' stores (the old ones' arrays, not copies),
            // core-local ones merged by the placement; the old stores are dropped after the rescale.
            var pieces = pieces(source, keyGroups, newCores);
            // The old checkpoint's chains are referenced, not rewritten, when they are plain chains of
            // key-grouped state; else (before key groups, no checkpoint, or the old checkpoint itself a
            // rescale's) the new cores' states are written whole, which compacts those references away.
            boolean references = restored != null && !legacy && !restored.hasBaseChains();
            // Two independent reads of the old states side by side (with one new core the regrouping is a
            // single thread): the new cores' stores, and beside them the core-local merge, the check of
            // the checkpoint's states and the DELTAs. Nothing is written before both ended.
            var regroupedHolder = new AtomicReference<Regrouping.Result>();
            var localHolder = new AtomicReference<List<TreeMap<String, byte[][]>>>();
            var deltasHolder = new AtomicReference<List<List<StateChange>>>();
            Regrouping.runParallel(2, task -> {
                if (task == 0) {
                    regroupedHolder.set(regroup(recovered.coreStates(), pieces, keyGroups, source));
                    return;
                }
                var merged = coreLocal(recovered.coreStates(), source, keyGroups, newCores);
                localHolder.set(merged);
                if (references) {
                    regroupCheck(recovered.checkpointStates(), pieces, keyGroups, source);
                    deltasHolder.set(deltas(recovered, source, keyGroups, newCores, merged));
                }
            });
            var newStates = withCoreLocal(regroupedHolder.get(), localHolder.get());
            var moved = newStates.states();
            long logicalBytes = newStates.logicalBytes();
            long entries = newStates.entries();
            long regroupedAt = System.nanoTime();
            long checkpointId = new IncrementalCheckpointManager(store, 1, 0, 1.0).nextCheckpointId();
            long epoch = highestEpoch + 1;
            // After every old position (and never 0): a recovery of the new logs without this
            // checkpoint sees a WAL whose beginning is gone and refuses, rather than start empty.
            long position = Math.max(8, (highestPosition + 7) & ~7L);
            var side = side();
            var parent = directory.getParent();
            Files.createDirectories(side);
            io.syncDirectory(parent);
            writeMarker(side, INTENT, INTENT_MAGIC, new Marker(checkpointId, source.cores(), newCores, List.of()));
            hook.reached(Step.INTENT_WRITTEN);
            var positions = new long[newCores];
            Arrays.fill(positions, position);
            // Small first segments: each records its own capacity, and the logs go on with segments of the
            // configured size; cores full-size segments written with zeros would cost more than the rest.
            PerCoreWalManager.createAt(side, options.withSmallestSegments(), CorePositions.of(positions), epoch);
            hook.reached(Step.LOGS_CREATED);
            var written = new StateFileRef[newCores];
            var baseChains = new java.util.TreeMap<String, List<BaseChain>>();
            var files = new java.util.LinkedHashSet<StateFileRef>();
            if (references) {
                var deltas = deltasHolder.get();
                Regrouping.runParallel(newCores, core -> written[core] = writeStateFile(core, checkpointId, epoch,
                        false, sink -> deltas.get(core).forEach(change -> {
                            if (change.isDelete()) {
                                sink.onDelete(change.key());
                            } else {
                                sink.onPut(change.key(), change.value());
                            }
                        })));
                var refs = new HashMap<String, StateFileRef>();
                restored.files().forEach(ref -> refs.put(ref.path(), ref));
                for (int core = 0; core < newCores; core++) {
                    var bases = new ArrayList<BaseChain>();
                    for (var piece : pieces.get(core)) {
                        var chain = restored.operators().get(CoreChains.name(piece.source())).stateFiles();
                        bases.add(new BaseChain(piece.source(), piece.first(), piece.end(), chain));
                        chain.forEach(path -> files.add(refs.get(path)));
                    }
                    baseChains.put(CoreChains.name(core), bases);
                }
            } else {
                Regrouping.runParallel(newCores, core -> written[core] = writeStateFile(core, checkpointId, epoch,
                        true, sink -> moved.get(core).forEach(sink::onPut)));
            }
            long writtenBytes = 0;
            for (var ref : written) {
                files.add(ref);
                writtenBytes += ref.size();
            }
            var operators = operators(restored, source.cores(), written);
            var walPositions = new ArrayList<Long>();
            for (long p : positions) {
                walPositions.add(p);
            }
            var manifest = new CheckpointManifest(checkpointId, epoch, Instant.now(), walPositions,
                    restored == null ? Map.of() : restored.sources(), operators, List.copyOf(files),
                    references ? restored.checkpointId() : null, logicalBytes, writtenBytes,
                    restored == null ? Long.MIN_VALUE : restored.watermark(), keyGroups, baseChains);
            store.publishManifest(manifest);
            long publishedAt = System.nanoTime();
            hook.reached(Step.CHECKPOINT_PUBLISHED);
            var layoutFiles = new ArrayList<String>();
            try (var listed = Files.list(side)) {
                for (var path : listed.toList()) {
                    var name = path.getFileName().toString();
                    if (!name.equals(INTENT) && !name.endsWith(".tmp")) {
                        layoutFiles.add(name);
                    }
                }
            }
            layoutFiles.sort(null);
            var committed = new Marker(checkpointId, source.cores(), newCores, layoutFiles);
            writeMarker(side, COMMITTED, COMMITTED_MAGIC, committed);
            hook.reached(Step.COMMITTED);
            if (oldWal != null) {
                oldWal.close();
                oldWal = null;
            }
            switchOver(side, committed);
            int keyGroupsMoved = legacy ? keyGroups : movedKeyGroups(keyGroups, source.cores(), newCores);
            var report = new RescaleReport(source.cores(), newCores, keyGroups, keyGroupsMoved, legacy,
                    restored == null ? null : restored.checkpointId(), checkpointId, stateBytesRead,
                    recovered.report().bytesReplayed(), entries, Duration.ofNanos(System.nanoTime() - started));
            log.warn("rescaled {} from {} to {} cores in {} ms: {} of {} key groups moved, {} entries, {} bytes read"
                    + " (state files {}, WAL {}), {} bytes of {} state files written ({}); the new layout starts from"
                    + " checkpoint {} (recovered in {} ms, regrouped in {} ms, new logs, state files and manifest written in {} ms, switched"
                    + " in {} ms)", directory, report.oldCores(), newCores, report.duration().toMillis(), keyGroupsMoved,
                    keyGroups, entries, report.bytesRead(), stateBytesRead, report.walBytesRead(), writtenBytes,
                    references ? "DELTA" : "FULL", references ? "the old checkpoint's files are referenced by key group"
                            : "the whole state", checkpointId, (recoveredAt - started) / 1_000_000,
                    (regroupedAt - recoveredAt) / 1_000_000, (publishedAt - regroupedAt) / 1_000_000,
                    (System.nanoTime() - publishedAt) / 1_000_000);
            var perCore = new ArrayList<Long>();
            for (int core = 0; core < newCores; core++) {
                perCore.add(0L);
            }
            var recoveryReport = new RecoveryReport(checkpointId, false, List.of(), 0, 0, perCore, report.duration(),
                    0, report);
            return new RecoveredState(moved, manifest.sources(), manifest.operators(), epoch, recoveryReport, manifest,
                    moved);
        } finally {
            if (oldWal != null) {
                oldWal.close();
            }
        }
    }

    /**
     * The rescale's checkpoint's operators: the restored checkpoint's, but for the old cores' chains,
     * and one chain per new core naming its state file in {@code written}.
     */
    private static Map<String, OperatorCheckpoint> operators(CheckpointManifest restored, int oldCores,
            StateFileRef[] written) {
        var operators = new LinkedHashMap<String, OperatorCheckpoint>();
        if (restored != null) {
            restored.operators().forEach((name, operator) -> {
                if (!isChain(name, oldCores)) {
                    operators.put(name, operator);
                }
            });
        }
        for (int core = 0; core < written.length; core++) {
            operators.put(CoreChains.name(core), new OperatorCheckpoint(new byte[0], List.of(written[core].path())));
        }
        return operators;
    }

    private static boolean isChain(String operator, int cores) {
        for (int core = 0; core < cores; core++) {
            if (CoreChains.name(core).equals(operator)) {
                return true;
            }
        }
        return false;
    }

    private static long max(CorePositions positions) {
        long highest = 0;
        for (int core = 0; core < positions.cores(); core++) {
            highest = Math.max(highest, positions.position(core));
        }
        return highest;
    }

    /** How many of {@code keyGroups} key groups have another core among {@code newCores} than among {@code oldCores}. */
    static int movedKeyGroups(int keyGroups, int oldCores, int newCores) {
        int moved = 0;
        for (int group = 0; group < keyGroups; group++) {
            if (KeyGroups.coreOfKeyGroup(group, keyGroups, oldCores)
                    != KeyGroups.coreOfKeyGroup(group, keyGroups, newCores)) {
                moved++;
            }
        }
        return moved;
    }

    /**
     * Per new core, what it takes from each old core: the key groups of its range that the old core
     * owned (before key groups: its whole range, from every old core).
     */
    private static List<List<Regrouping.Piece>> pieces(Source source, int keyGroups, int newCores) {
        boolean legacy = source.keyGroups() == 0;
        var targets = new ArrayList<List<Regrouping.Piece>>();
        for (int core = 0; core < newCores; core++) {
            var range = KeyGroups.rangeOf(core, keyGroups, newCores);
            var pieces = new ArrayList<Regrouping.Piece>();
            for (int old = 0; old < source.cores(); old++) {
                if (legacy) {
                    pieces.add(new Regrouping.Piece(old, range.first(), range.end()));
                    continue;
                }
                var owned = KeyGroups.rangeOf(old, keyGroups, source.cores());
                int first = Math.max(owned.first(), range.first());
                int end = Math.min(owned.end(), range.end());
                if (first < end) {
                    pieces.add(new Regrouping.Piece(old, first, end));
                }
            }
            targets.add(pieces);
        }
        return targets;
    }

    private Regrouping.Result regroup(List<StateSnapshot> states, List<List<Regrouping.Piece>> pieces, int keyGroups,
            Source source) throws IOException {
        try {
            return Regrouping.build(states, pieces, placement, keyGroups);
        } catch (Regrouping.Misplaced e) {
            throw misplaced(e, source, keyGroups, "");
        }
    }

    private void regroupCheck(List<StateSnapshot> states, List<List<Regrouping.Piece>> pieces, int keyGroups,
            Source source) throws IOException {
        try {
            Regrouping.check(states, pieces, placement, keyGroups);
        } catch (Regrouping.Misplaced e) {
            throw misplaced(e, source, keyGroups, " in the checkpoint's state files");
        }
    }

    private StorageException misplaced(Regrouping.Misplaced e, Source source, int keyGroups, String where) {
        int owner = KeyGroups.coreOfKeyGroup(e.keyGroup, keyGroups, source.cores());
        return new StorageException("cannot rescale " + directory + ": " + e.getMessage().replace("old state "
                + e.source, "core " + e.source) + where + " by the state placement " + placement + ", which core "
                + owner + " owns among " + source.cores() + ": the placement does not match how the application routes"
                + " its keys, and moving the state by it would put entries where the application never looks. Give"
                + " the runtime the StatePlacement that matches its routing. Nothing was changed");
    }

    /** The new cores' states, their entries and their keys' and values' bytes. */
    private record NewStates(List<StateSnapshot> states, long entries, long logicalBytes) {
    }

    /**
     * The new cores' states: per new core, its regrouped keyed entries and its core-local entries
     * ({@link #coreLocal}) put on top.
     */
    private static NewStates withCoreLocal(Regrouping.Result regrouped, List<TreeMap<String, byte[][]>> local) {
        var stores = regrouped.stores();
        var states = new ArrayList<StateSnapshot>(stores.size());
        long entries = 0;
        long logicalBytes = 0;
        for (int core = 0; core < stores.size(); core++) {
            var store = stores.get(core);
            logicalBytes += regrouped.logicalBytes()[core];
            for (var entry : local.get(core).values()) {
                store.put(entry[0], entry[1]);
                logicalBytes += entry[0].length + (long) entry[1].length;
            }
            var state = store.snapshot();
            states.add(state);
            entries += state.size();
        }
        return new NewStates(List.copyOf(states), entries, logicalBytes);
    }

    /**
     * Per new core, its core-local entries (hex of the key -> {key, merged value}), in key order:
     * each merged by the placement from the old cores whose keys the new core receives.
     */
    private List<TreeMap<String, byte[][]>> coreLocal(List<StateSnapshot> oldStates, Source source, int keyGroups,
            int newCores) {
        boolean legacy = source.keyGroups() == 0;
        var local = new TreeMap<String, byte[][]>(); // hex key -> value per old core
        var localKeys = new HashMap<String, byte[]>();
        for (int oldCore = 0; oldCore < oldStates.size(); oldCore++) {
            int from = oldCore;
            oldStates.get(oldCore).forEach((key, value) -> {
                if (placement.keyGroupOf(key, keyGroups) == StatePlacement.CORE_LOCAL) {
                    var name = java.util.HexFormat.of().formatHex(key);
                    localKeys.putIfAbsent(name, key.clone());
                    local.computeIfAbsent(name, k -> new byte[oldStates.size()][])[from] = value.clone();
                }
            });
        }
        var perCore = new ArrayList<TreeMap<String, byte[][]>>();
        for (int core = 0; core < newCores; core++) {
            var range = KeyGroups.rangeOf(core, keyGroups, newCores);
            var merged = new TreeMap<String, byte[][]>();
            for (var entry : local.entrySet()) {
                var values = new ArrayList<byte[]>();
                boolean any = false;
                for (int oldCore = 0; oldCore < oldStates.size(); oldCore++) {
                    if (legacy || overlaps(KeyGroups.rangeOf(oldCore, keyGroups, source.cores()), range)) {
                        var value = entry.getValue()[oldCore];
                        values.add(value);
                        any |= value != null;
                    }
                }
                if (any) {
                    var key = localKeys.get(entry.getKey());
                    var value = placement.mergeCoreLocal(key, java.util.Collections.unmodifiableList(values), range,
                            keyGroups);
                    if (value != null) {
                        merged.put(entry.getKey(), new byte[][] {key, value});
                    }
                }
            }
            perCore.add(merged);
        }
        return perCore;
    }

    /**
     * Per new core, in key order, what its DELTA holds on top of its base chains (the old
     * checkpoint's chains restricted to its key groups, which never hold core-local entries): every
     * change the old WAL's records made after the checkpoint to its keyed entries, and a put of each
     * of its core-local entries.
     */
    private List<List<StateChange>> deltas(RecoveredState recovered, Source source, int keyGroups, int newCores,
            List<TreeMap<String, byte[][]>> local) throws IOException {
        // Per old core (in parallel), its changes routed to the new cores; each list in key order.
        var routed = new ArrayList<List<List<StateChange>>>();
        for (int old = 0; old < source.cores(); old++) {
            var lists = new ArrayList<List<StateChange>>();
            for (int core = 0; core < newCores; core++) {
                lists.add(new ArrayList<>());
            }
            routed.add(lists);
        }
        Regrouping.runParallel(source.cores(), old -> recovered.coreStates().get(old).changesSince(
                recovered.checkpointStates().get(old), new ChangelogSink() {
                    @Override
                    public void onPut(byte[] key, byte[] value) {
                        route(key, new StateChange(key, value));
                    }

                    @Override
                    public void onDelete(byte[] key) {
                        route(key, StateChange.deleted(key));
                    }

                    @Override
                    public void onClear() {
                        throw new IllegalStateException("a difference of two states holds no clear");
                    }

                    private void route(byte[] key, StateChange change) {
                        int group = placement.keyGroupOf(key, keyGroups);
                        if (group != StatePlacement.CORE_LOCAL) {
                            routed.get(old).get(KeyGroups.coreOfKeyGroup(group, keyGroups, newCores)).add(change);
                        }
                    }
                }));
        var deltas = new ArrayList<List<StateChange>>();
        for (int core = 0; core < newCores; core++) {
            deltas.add(new ArrayList<>());
        }
        Regrouping.runParallel(newCores, core -> {
            var delta = deltas.get(core);
            int sources = 0;
            for (var lists : routed) {
                sources += lists.get(core).isEmpty() ? 0 : 1;
                delta.addAll(lists.get(core));
            }
            for (var entry : local.get(core).values()) {
                delta.add(new StateChange(entry[0], entry[1]));
            }
            if (sources > 1 || !local.get(core).isEmpty()) {
                delta.sort((a, b) -> Arrays.compareUnsigned(a.key(), b.key()));
            }
        });
        return deltas;
    }

    /** Writes one state file of the rescale's checkpoint for {@code core}: FULL or DELTA, entries from {@code entries}. */
    private StateFileRef writeStateFile(int core, long checkpointId, long epoch, boolean full,
            java.util.function.Consumer<ChangelogSink> entries) throws IOException {
        return writeStateFile(CoreChains.stateFilePath(core, checkpointId, full), core, checkpointId, epoch, full,
                entries);
    }

    /** As {@link #writeStateFile(int, long, long, boolean, java.util.function.Consumer)}, at {@code path}. */
    private StateFileRef writeStateFile(String path, int core, long checkpointId, long epoch, boolean full,
            java.util.function.Consumer<ChangelogSink> entries) throws IOException {
        var header = new StateFileFormat.Header(full ? StateFileFormat.FULL : StateFileFormat.DELTA, core, epoch,
                checkpointId);
        return store.writeFile(path, out -> {
            var writer = new StateFileFormat.Writer(out, header);
            try {
                entries.accept(writer);
            } catch (java.io.UncheckedIOException e) {
                throw e.getCause();
            }
            writer.finish();
        });
    }

    private static boolean overlaps(KeyGroups.Range a, KeyGroups.Range b) {
        return a.first() < b.end() && b.first() < a.end();
    }

    // ---- a replicated shard ------------------------------------------------------------------------

    /**
     * What {@link #rescaleReplicated} did: the rescale, and how many changes it restored from the
     * replicated log into the old layout before regrouping (0 when the old layout's own WAL was read).
     *
     * @param rescale                 the rescale
     * @param recordsFromReplication  the replicated changes restored after the old checkpoint
     */
    public record Replicated(RescaleReport rescale, long recordsFromReplication) {
        public Replicated {
            Objects.requireNonNull(rescale, "rescale");
        }
    }

    /**
     * Opens the per-core WAL of a replicated shard ({@code LaminarRuntime.Builder.replicator}) with
     * {@code options}' number of cores, publishing and deleting nothing in the store: a replicated
     * shard is rescaled only by {@code LaminarRuntime.start()}, after it fenced the previous owner and
     * claimed the store ({@link #rescaleReplicated}). If the directory holds logs with records of
     * another number of cores, they are <em>set aside</em>, unchanged, in the sibling directory
     * {@code <wal>}{@value #REPLICATED_SUFFIX} (the layout file, every file of the core logs; the
     * runtime's {@code replication-*} files stay), and the directory gets new, empty logs; the start
     * recovers the old layout from there. Crash-safe: {@value #MOVE_INTENT} (the names to move) is
     * written before the first rename and {@value #MOVE_DONE} after the last, so an interrupted move is
     * finished by the next open, whatever its number of cores; while the old layout is aside, the
     * directory's logs hold no record and are created afresh for the configured cores.
     *
     * <p>Logs of another number of cores left by a takeover that never reached its first checkpoint
     * (the runtime's {@code replication-takeover.pending} file) hold nothing that was acknowledged:
     * they are deleted, and the takeover is repeated with the new number of cores.
     *
     * @throws IllegalArgumentException if the directory records another number of key groups
     * @throws StorageException         if the directory holds an interrupted unreplicated rescale, or
     *                                  logs written before key groups with another number of cores (the
     *                                  message says what to do), or a step failed (the next open
     *                                  finishes it)
     */
    public static PerCoreWalManager openReplicated(Path directory, PerCoreWalOptions options) {
        var rescaler = new Rescaler(directory, options, null, StatePlacement.BY_STORE_KEY, step -> { });
        try {
            rescaler.setAsideOtherLayout();
        } catch (IOException e) {
            throw new StorageException("cannot set the per-core WAL in " + directory + " aside to rescale it to "
                    + options.cores() + " cores: " + e + ". Nothing is lost: the next start finishes the move", e);
        }
        return PerCoreWalManager.open(directory, options);
    }

    /**
     * Whether the WAL directory {@code walDirectory} has an old layout set aside by
     * {@link #openReplicated} that no rescale has consumed yet: a history of its own, which the
     * runtime's stale-directory check must treat as such.
     */
    public static boolean holdsLayoutSetAside(Path walDirectory) {
        var aside = walDirectory.toAbsolutePath().resolveSibling(walDirectory.getFileName() + REPLICATED_SUFFIX);
        return Files.exists(aside.resolve(MOVE_DONE)) || Files.exists(aside.resolve(MOVE_INTENT));
    }

    /**
     * Rescales a replicated shard to {@code wal}'s number of cores, if needed, inside
     * {@code LaminarRuntime.start()}: only after {@code replicator} was opened (the previous owner is
     * fenced in the replicated log) and the store claimed (fenced there too), so nothing is published
     * by a process that does not own the shard. {@code wal} holds no record (a takeover, or the old
     * layout set aside by {@link #openReplicated}). The old layout is recovered in full with its own
     * number of cores in memory:
     * <ul>
     *   <li>set aside (a restart on the shard's own directory with other cores): the newest usable
     *       checkpoint plus the old logs' records after it, as an unscaled restart would
     *       ({@link RecoveryManager#dryRun}); the old WAL holds every acknowledged change (an
     *       acknowledgement needs the local fdatasync);</li>
     *   <li>otherwise, if the newest checkpoint has another number of cores (a takeover): that
     *       checkpoint, then every change the replicated log holds after its {@link
     *       ChangeReplicator#SOURCE_NAME} positions and from its epoch on, restored into the old cores
     *       ({@link ChangeReplicator#restore} with the checkpoint's number of cores: a clear covers one
     *       old core's keys).</li>
     * </ul>
     * The entries are then regrouped by key group ({@link Regrouping}, core-local ones merged by
     * {@code placement}) and one checkpoint is published: a FULL state file per new core (named with
     * the claimed owner epoch), the old checkpoint's sources and operators, the replicated log's
     * current end as its replication positions ({@link ChangeReplicator#positions()}: every change
     * before it is in the state), the owner's tag, an epoch above every old one, and per-core
     * positions after every old one, which {@code wal} then adopts as on any takeover; its id follows
     * the newest. The runtime recovers from it and restores nothing more from the log.
     *
     * <p>Crash-safe: the published manifest is the commit point. Before it, nothing of the old layout
     * was changed, and a start repeats the rescale (to any number of cores); files a failed attempt
     * wrote carry that attempt's owner epoch and are removed by the next checkpoint's orphan cleanup.
     * With an old layout set aside, {@value #INTENT} names the checkpoint id first, so a start after a
     * crash between the publish and the removal of the old logs sees the rescale done, removes them and
     * goes on from the rescale's checkpoint (rescaling it again if the cores changed once more).
     *
     * @return what was rescaled, or empty if the shard keeps its number of cores
     * @throws StorageException if the old layout cannot be recovered (no usable checkpoint, no
     *                          replication positions, another number of key groups, a replicated
     *                          change that does not fit), with what to do; nothing was published
     * @throws IOException      if the store or the old logs cannot be read or written
     */
    public static Optional<Replicated> rescaleReplicated(PerCoreWalManager wal, CheckpointStore store,
            ChangeReplicator replicator, StatePlacement placement) throws IOException {
        return rescaleReplicated(wal, store, replicator, placement, step -> { });
    }

    static Optional<Replicated> rescaleReplicated(PerCoreWalManager wal, CheckpointStore store,
            ChangeReplicator replicator, StatePlacement placement, StepHook hook) throws IOException {
        var rescaler = new Rescaler(wal.directory(), wal.options(), Objects.requireNonNull(store, "store"),
                Objects.requireNonNull(placement, "placement"), hook);
        return rescaler.rescaleReplicated(wal, Objects.requireNonNull(replicator, "replicator"));
    }

    /**
     * Why the newest checkpoint of {@code store} cannot be rescaled onto {@code wal}'s cores and key
     * groups at a replicated takeover, or empty if it can (or needs no rescale): checked before
     * anyone is fenced.
     */
    public static Optional<String> replicatedTakeoverRefusal(CheckpointStore store, PerCoreWalManager wal)
            throws IOException {
        int cores = wal.cores();
        int keyGroups = wal.keyGroups();
        var rescaler = new Rescaler(wal.directory(), wal.options(), store, StatePlacement.BY_STORE_KEY, step -> { });
        var newest = rescaler.newestValidManifest();
        if (newest.isEmpty() || newest.get().walPositions().size() == cores) {
            return Optional.empty();
        }
        var manifest = newest.get();
        if (manifest.keyGroups() != keyGroups) {
            return Optional.of("checkpoint " + manifest.checkpointId() + " spreads its keys over "
                    + (manifest.keyGroups() == 0 ? "no key groups (it was written before them)"
                            : manifest.keyGroups() + " key groups")
                    + ", but this WAL over " + keyGroups + " (laminar.storage.key-groups): set the option to "
                    + manifest.keyGroups() + (manifest.keyGroups() == 0 ? "; a checkpoint from before key groups is"
                            + " rescaled only without replication" : ""));
        }
        if (!manifest.sources().containsKey(ChangeReplicator.SOURCE_NAME)) {
            return Optional.of("checkpoint " + manifest.checkpointId() + " (written with "
                    + manifest.walPositions().size() + " cores) holds no replication positions (source '"
                    + ChangeReplicator.SOURCE_NAME + "'): it was taken without replication, so the replicated "
                    + "changes after it cannot be told apart from those in it. Start the previous owner again with "
                    + "durability replicated until it has taken a checkpoint");
        }
        return Optional.empty();
    }

    private Path replicatedSide() {
        return directory.resolveSibling(directory.getFileName() + REPLICATED_SUFFIX);
    }

    /** See {@link #openReplicated}. */
    private void setAsideOtherLayout() throws IOException {
        var parent = directory.getParent();
        if (Files.isDirectory(side())) {
            throw new StorageException("the per-core WAL in " + directory + " has an unreplicated rescale that a crash"
                    + " interrupted (" + side() + "); its rollback changes the checkpoint store, which a replicated"
                    + " shard does only after it owns the shard. Start once with laminar.storage.durability=local"
                    + " (it finishes or undoes the rescale), then again with replication");
        }
        var aside = replicatedSide();
        if (Files.isDirectory(aside)) {
            if (readMarker(aside.resolve(MOVE_DONE), MOVE_DONE_MAGIC).isEmpty()) {
                var intent = readMarker(aside.resolve(MOVE_INTENT), MOVE_INTENT_MAGIC);
                if (intent.isPresent()) {
                    log.warn("finishing the move of the old layout of {} ({} cores) into {} that a crash interrupted",
                            directory, intent.get().oldCores(), aside);
                    moveAside(aside, intent.get());
                } else {
                    deleteDirectory(aside); // the intent never landed: nothing was moved
                    io.syncDirectory(parent);
                }
            }
            if (Files.isDirectory(aside)) {
                // The old layout waits there for the start; the logs here hold no record.
                if (WalLayout.holdsCoreLogs(directory)) {
                    var layout = WalLayout.read(directory);
                    var view = PerCoreWalView.inspect(directory);
                    if (!isEmpty(view)) {
                        throw new StorageException("the per-core WAL in " + directory + " holds records although the "
                                + "old layout of its shard is still set aside in " + aside + " (a rescale of the "
                                + "replicated shard has not completed): it was not written by this library. Nothing "
                                + "was changed; move " + directory + " away and start again");
                    }
                    if (layout.map(WalLayout::cores).orElse(view.cores()) != options.cores()) {
                        WalLayout.deleteEmptyLogs(directory, io);
                    }
                }
                log.warn("the per-core WAL of {} is being rescaled: its old layout is set aside in {} until the runtime"
                        + " owns the shard and rescales it to {} cores", directory, aside, options.cores());
                return;
            }
        }
        if (!WalLayout.holdsCoreLogs(directory)) {
            return;
        }
        var layout = WalLayout.read(directory);
        if (layout.isPresent() && layout.get().keyGroups() != options.keyGroups()) {
            throw new IllegalArgumentException("the per-core WAL in " + directory + " spreads its keys over "
                    + layout.get().keyGroups() + " key groups (its " + WalLayout.FILE_NAME + "), but the option"
                    + " keyGroups (laminar.storage.key-groups) is " + options.keyGroups() + ": the number of key"
                    + " groups is chosen once per directory and checkpoint store; set it back to "
                    + layout.get().keyGroups());
        }
        var view = PerCoreWalView.inspect(directory);
        int oldCores = layout.map(WalLayout::cores).orElse(view.cores());
        if (oldCores == options.cores() || isEmpty(view) && layout.isEmpty()) {
            return; // opened as it is (PerCoreWalManager.open checks the rest)
        }
        if (isEmpty(view)) {
            log.info("the per-core WAL in {} holds no record: its logs are created afresh for {} cores", directory,
                    options.cores());
            WalLayout.deleteEmptyLogs(directory, io);
            return;
        }
        if (Files.exists(directory.resolve(TAKEOVER_PENDING))) {
            log.warn("the per-core WAL in {} is what a takeover of its shard with {} cores left before its first "
                    + "checkpoint (nothing of it was acknowledged): deleted; the takeover is repeated with {} cores",
                    directory, oldCores, options.cores());
            WalLayout.deleteEmptyLogs(directory, io);
            return;
        }
        if (layout.isEmpty()) {
            throw new StorageException("the per-core WAL in " + directory + " was written before key groups with "
                    + oldCores + " cores; a replicated shard is rescaled only from key-grouped state. Start it once with "
                    + oldCores + " cores (or rescale it with laminar.storage.durability=local), then with "
                    + options.cores());
        }
        // The logs must not be in use, and torn tails are repaired as any open does, before they move.
        PerCoreWalManager.open(directory, options.withCores(oldCores).withKeyGroups(layout.get().keyGroups())).close();
        var names = new ArrayList<String>();
        try (var files = Files.list(directory)) {
            for (var path : files.toList()) {
                var name = path.getFileName().toString();
                if (WalLayout.isLayoutFile(name)) {
                    names.add(name);
                }
            }
        }
        names.sort(null);
        Files.createDirectories(aside);
        io.syncDirectory(parent);
        var intent = new Marker(0, oldCores, options.cores(), List.copyOf(names));
        writeMarker(aside, MOVE_INTENT, MOVE_INTENT_MAGIC, intent);
        log.warn("setting the per-core WAL in {} ({} cores) aside in {}: the runtime rescales the replicated shard to"
                + " {} cores once it owns it", directory, oldCores, aside, options.cores());
        moveAside(aside, intent);
    }

    /** Moves the files {@code intent} names from the directory into {@code aside} (those still here), then marks it done. */
    private void moveAside(Path aside, Marker intent) throws IOException {
        for (var name : intent.files()) {
            var source = directory.resolve(name);
            if (Files.exists(source)) {
                io.atomicMove(source, aside.resolve(name));
            }
        }
        io.syncDirectory(directory);
        io.syncDirectory(aside);
        writeMarker(aside, MOVE_DONE, MOVE_DONE_MAGIC, intent);
    }

    private Optional<Replicated> rescaleReplicated(PerCoreWalManager wal, ChangeReplicator replicator)
            throws IOException {
        long started = System.nanoTime();
        var aside = replicatedSide();
        var parent = directory.getParent();
        var setAside = Files.isDirectory(aside) ? readMarker(aside.resolve(MOVE_DONE), MOVE_DONE_MAGIC)
                : Optional.<Marker>empty();
        if (setAside.isPresent()) {
            var intent = readMarker(aside.resolve(INTENT), INTENT_MAGIC);
            if (intent.isPresent() && store.listCheckpoints().contains(intent.get().checkpointId())) {
                log.warn("the rescale of {} from {} to {} cores published checkpoint {} before a crash: deleting the old"
                        + " layout set aside in {}", directory, intent.get().oldCores(), intent.get().newCores(),
                        intent.get().checkpointId(), aside);
                deleteDirectory(aside);
                io.syncDirectory(parent);
                setAside = Optional.empty();
            }
        }
        int newCores = wal.cores();
        int keyGroups = wal.keyGroups();
        Source source;
        RecoveredState recovered;
        long highestEpoch;
        long highestPosition;
        long fromReplication = 0;
        PerCoreWalManager oldWal = null;
        try {
            if (setAside.isPresent()) {
                source = new Source(setAside.get().oldCores(), keyGroups, true);
                log.warn("rescaling the replicated shard of {} from {} to {} cores: its own old layout (set aside in {}),"
                        + " then a checkpoint of the moved state", directory, source.cores(), newCores, aside);
                oldWal = PerCoreWalManager.open(aside, options.withCores(source.cores()));
                recovered = RecoveryManager.dryRun(oldWal, store, placement).recover();
                highestEpoch = oldWal.epoch();
                highestPosition = max(oldWal.durablePositions());
            } else {
                var newest = newestValidManifest();
                if (newest.isEmpty() || newest.get().walPositions().size() == newCores
                        || newest.get().walPositions().isEmpty()) {
                    return Optional.empty(); // adopted as it is by the recovery (or refused by it, with its reason)
                }
                var refusal = replicatedTakeoverRefusal(store, wal);
                if (refusal.isPresent()) {
                    throw new StorageException("cannot take the shard of " + store + " over into " + directory + " with "
                            + newCores + " cores: " + refusal.get());
                }
                source = new Source(newest.get().walPositions().size(), keyGroups, false);
                log.warn("taking the replicated shard of {} over with {} cores; its checkpoints have {}: the old layout"
                        + " (checkpoint and replicated changes) is recovered, then regrouped", store, newCores,
                        source.cores());
                recovered = restoreFromReplication(source, replicator);
                fromReplication = recovered.report().recordsFromReplication();
                highestEpoch = -1;
                highestPosition = 0;
            }
            var restored = recovered.checkpoint();
            if (restored != null) {
                highestEpoch = Math.max(highestEpoch, restored.epoch());
                highestPosition = Math.max(highestPosition, restored.walPositions().stream().mapToLong(p -> p).max()
                        .orElse(0));
            }
            long stateBytesRead = restored == null ? 0 : restored.files().stream().mapToLong(StateFileRef::size).sum();
            hook.reached(Step.RECOVERED);
            var pieces = pieces(source, keyGroups, newCores);
            var newStates = withCoreLocal(regroup(recovered.coreStates(), pieces, keyGroups, source),
                    coreLocal(recovered.coreStates(), source, keyGroups, newCores));
            var moved = newStates.states();
            long logicalBytes = newStates.logicalBytes();
            long entries = newStates.entries();
            long checkpointId = new IncrementalCheckpointManager(store, 1, 0, 1.0).nextCheckpointId();
            long epoch = highestEpoch + 1;
            long position = Math.max(8, (highestPosition + 7) & ~7L);
            if (setAside.isPresent()) {
                writeMarker(aside, INTENT, INTENT_MAGIC, new Marker(checkpointId, source.cores(), newCores, List.of()));
            }
            hook.reached(Step.INTENT_WRITTEN);
            long ownerEpoch = store.ownerEpoch();
            var written = new StateFileRef[newCores];
            Regrouping.runParallel(newCores, core -> written[core] = writeStateFile(
                    CoreChains.stateFilePath(core, checkpointId, true, ownerEpoch), core, checkpointId, epoch, true,
                    sink -> moved.get(core).forEach(sink::onPut)));
            long writtenBytes = 0;
            var files = new ArrayList<StateFileRef>();
            for (var ref : written) {
                files.add(ref);
                writtenBytes += ref.size();
            }
            var operators = operators(restored, source.cores(), written);
            var sources = new LinkedHashMap<String, ConnectorCheckpoint>(restored == null ? Map.of() : restored.sources());
            // Every change before the log's end is in the moved state: a later takeover starts after it.
            sources.put(ChangeReplicator.SOURCE_NAME, new ConnectorCheckpoint(replicator.positions(), Map.of()));
            sources.remove(OwnerFences.SOURCE_NAME);
            if (ownerEpoch >= 0) {
                sources.put(OwnerFences.SOURCE_NAME, OwnerFences.tag(ownerEpoch));
            }
            var walPositions = new ArrayList<Long>();
            for (int core = 0; core < newCores; core++) {
                walPositions.add(position);
            }
            var manifest = new CheckpointManifest(checkpointId, epoch, Instant.now(), walPositions, sources, operators,
                    files, null, logicalBytes, writtenBytes, restored == null ? Long.MIN_VALUE : restored.watermark(),
                    keyGroups);
            store.publishManifest(manifest);
            hook.reached(Step.CHECKPOINT_PUBLISHED);
            if (oldWal != null) {
                oldWal.close();
                oldWal = null;
            }
            if (Files.isDirectory(aside)) {
                deleteDirectory(aside);
                io.syncDirectory(parent);
            }
            hook.reached(Step.SWITCHED);
            int keyGroupsMoved = movedKeyGroups(keyGroups, source.cores(), newCores);
            var report = new RescaleReport(source.cores(), newCores, keyGroups, keyGroupsMoved, false,
                    restored == null ? null : restored.checkpointId(), checkpointId, stateBytesRead,
                    recovered.report().bytesReplayed(), entries, Duration.ofNanos(System.nanoTime() - started));
            log.warn("rescaled the replicated shard of {} from {} to {} cores in {} ms: {} of {} key groups moved, {}"
                    + " entries, {} bytes read (state files {}, WAL {}), {} changes from the replicated log, {} bytes of"
                    + " FULL state files written; it starts from checkpoint {}", directory, source.cores(), newCores,
                    report.duration().toMillis(), keyGroupsMoved, keyGroups, entries, report.bytesRead(),
                    stateBytesRead, report.walBytesRead(), fromReplication, writtenBytes, checkpointId);
            return Optional.of(new Replicated(report, fromReplication));
        } finally {
            if (oldWal != null) {
                oldWal.close();
            }
        }
    }

    /**
     * The old layout of a takeover: the newest checkpoint usable with {@code source}'s cores, then
     * every replicated change after it, applied to the old cores' stores. Its report counts the
     * changes in {@link RecoveryReport#recordsFromReplication()}.
     */
    private RecoveredState restoreFromReplication(Source source, ChangeReplicator replicator) throws IOException {
        var old = RecoveryManager.dryRun(PerCoreWalView.empty(source.cores(), source.keyGroups()), store, placement)
                .recover();
        var restored = old.checkpoint();
        if (restored == null) {
            throw new StorageException("cannot take the shard of " + store + " over into " + directory + ": none of its"
                    + " checkpoints of " + source.cores() + " cores is usable (" + old.report().skipped() + "); nothing "
                    + "was published");
        }
        var positions = restored.sources().get(ChangeReplicator.SOURCE_NAME);
        if (positions == null) {
            throw new StorageException("cannot take the shard of " + store + " over into " + directory + ": checkpoint "
                    + restored.checkpointId() + " holds no replication positions (source '"
                    + ChangeReplicator.SOURCE_NAME + "'); start the previous owner again with durability replicated "
                    + "until it has taken a checkpoint");
        }
        var stores = new ArrayList<ChangelogAwareStateStore>();
        var replayers = new ChangelogSink[source.cores()];
        for (int core = 0; core < source.cores(); core++) {
            stores.add(ChangelogAwareStateStore.fromSnapshot(old.coreStates().get(core), ChangelogSink.NONE));
            replayers[core] = stores.get(core).replayer();
        }
        long records = replicator.restore(positions.offsets(), restored.epoch(), source.cores(),
                new ReplicatedChangeSink() {
                    @Override
                    public void change(int core, ByteBuffer change) {
                        StateChangeFormat.apply(change, replayers[checkCore(core)]);
                    }

                    @Override
                    public void clear(int core, java.util.function.Predicate<byte[]> scope) {
                        var doomed = new ArrayList<byte[]>();
                        stores.get(checkCore(core)).snapshot().forEach((key, value) -> {
                            if (scope.test(key)) {
                                doomed.add(key);
                            }
                        });
                        doomed.forEach(replayers[core]::onDelete);
                    }

                    private int checkCore(int core) {
                        if (core < 0 || core >= replayers.length) {
                            throw new StorageException("a replicated change of core " + core + " follows checkpoint "
                                    + restored.checkpointId() + " of " + replayers.length + " cores: the replicated log"
                                    + " and the checkpoint store belong to different shards");
                        }
                        return core;
                    }
                });
        var states = stores.stream().map(ChangelogAwareStateStore::snapshot).toList();
        var report = old.report().withReplication(records, old.report().duration());
        return new RecoveredState(states, old.sources(), old.operators(), old.epoch(), report, restored,
                old.checkpointStates());
    }

    // ---- markers -------------------------------------------------------------------------------

    /** A marker's content; {@code files}: the new layout's file names (the commit marker's only). */
    private record Marker(long checkpointId, int oldCores, int newCores, List<String> files) {
    }

    private void writeMarker(Path dir, String name, int magic, Marker marker) throws IOException {
        var names = marker.files().stream().map(n -> n.getBytes(java.nio.charset.StandardCharsets.UTF_8)).toList();
        int length = MARKER_HEADER + names.stream().mapToInt(n -> 2 + n.length).sum() + 4;
        var buffer = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(magic).putInt(1).putLong(marker.checkpointId()).putInt(marker.oldCores())
                .putInt(marker.newCores()).putInt(names.size());
        for (var n : names) {
            buffer.putShort((short) n.length).put(n);
        }
        var crc = new CRC32C();
        crc.update(buffer.array(), 0, length - 4);
        buffer.putInt((int) crc.getValue()).flip();
        var temporary = dir.resolve(name + ".tmp");
        try (var channel = io.open(temporary, EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING))) {
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            channel.force(true);
        }
        io.atomicMove(temporary, dir.resolve(name));
        io.syncDirectory(dir);
    }

    /** The marker in {@code file}, or empty if it is absent or does not verify (never renamed into place whole). */
    private static Optional<Marker> readMarker(Path file, int magic) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        if (bytes.length < MARKER_HEADER + 4) {
            return Optional.empty();
        }
        var buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        var crc = new CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        if (buffer.getInt(bytes.length - 4) != (int) crc.getValue() || buffer.getInt(0) != magic
                || buffer.getInt(4) != 1) {
            return Optional.empty();
        }
        int count = buffer.getInt(24);
        buffer.position(MARKER_HEADER);
        var files = new ArrayList<String>();
        for (int i = 0; i < count; i++) {
            var name = new byte[Short.toUnsignedInt(buffer.getShort())];
            buffer.get(name);
            var text = new String(name, java.nio.charset.StandardCharsets.UTF_8);
            if (text.isEmpty() || text.contains("/") || text.contains("\\") || text.equals("..")) {
                throw new StorageException("the rescale marker " + file + " names the file '" + text + "', which"
                        + " cannot be one of a per-core WAL's: it was not written by this library");
            }
            files.add(text);
        }
        return Optional.of(new Marker(buffer.getLong(8), buffer.getInt(16), buffer.getInt(20), List.copyOf(files)));
    }
}

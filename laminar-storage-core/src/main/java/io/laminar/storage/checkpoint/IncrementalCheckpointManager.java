package io.laminar.storage.checkpoint;

import io.laminar.storage.concurrent.Threads;
import io.laminar.storage.state.StateChange;
import io.laminar.storage.state.StateSnapshot;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.OwnerFences;
import io.laminar.storage.store.StateFileRef;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the per-core state of checkpoints into a {@link CheckpointStore} as immutable files, and
 * keeps the store tidy.
 *
 * <h2>Deltas and chains</h2>
 * A core's state at a checkpoint is a chain of files: one full snapshot, then deltas. A checkpoint
 * writes, per core, only what changed since that core's previous committed checkpoint
 * ({@link StateSnapshot#changesSince}) as a new DELTA file, and references the earlier files of the
 * chain; a core with no change writes nothing and references its chain as it was. A FULL file is
 * written instead when the core has no committed predecessor (the first checkpoint, or the first
 * after a restart that did not {@link #resume} from the recovered checkpoint), when the chain already
 * holds {@code maxDeltas} deltas, or when its
 * deltas add up to more than {@code maxDeltaFraction} of its full file: so recovery reads at most one
 * full file and {@code maxDeltas} deltas per core. Files are named
 * {@code state/core-NNNN/<checkpoint id, 20 digits>-full.lsf} or {@code -delta.lsf} (with
 * {@code -e<owner epoch>} before {@code -full} in a claimed store) and never rewritten;
 * their format is {@link StateFileFormat}.
 *
 * <h2>Retention and orphans</h2>
 * {@link #applyRetention()} keeps the newest {@code retainedCheckpoints} manifests, deletes older
 * manifests, then deletes every file no remaining manifest references. {@link #deleteOrphans()}
 * deletes files no published manifest references (left by a crash between writing state files and
 * publishing the manifest, or by a failed checkpoint whose files {@link #discard} could not delete).
 * {@link #discard} deletes the files of a checkpoint that failed, as soon as it failed. All three
 * assume this manager is the store's only writer.
 *
 * <h2>Thread-safety</h2>
 * Not thread-safe: one checkpoint thread (Ring 1) uses it; the snapshots it reads are immutable.
 */
final class IncrementalCheckpointManager {

    private static final Logger log = LoggerFactory.getLogger(IncrementalCheckpointManager.class);
    private static final Pattern STATE_FILE = Pattern.compile(
            "state/core-\\d{4}/(\\d{20})(?:-e(\\d{1,19}))?-(full|delta)\\.lsf");

    private final CheckpointStore store;
    private final int retainedCheckpoints;
    private final int maxDeltas;
    private final double maxDeltaFraction;
    private final Map<Integer, Chain> committed = new TreeMap<>();
    private Long committedId;
    /**
     * The state files {@link #writeState} wrote, or began to write, since the last commit or
     * discard. Synchronized: the cores' files may be written on several threads at once.
     */
    private final List<String> uncommitted = Collections.synchronizedList(new ArrayList<>());

    /**
     * One core's committed chain: the snapshot it represents, its files (full first), their sizes,
     * and the logical size of the state (see {@link #logicalBytes}).
     */
    private record Chain(StateSnapshot snapshot, List<StateFileRef> files, long fullBytes, long deltaBytes,
            long logicalBytes) {
    }

    /** What {@link #writeState} wrote for one checkpoint, to put in its manifest and then {@link #commit}. */
    static final class WrittenState {
        private final List<List<StateFileRef>> chains;
        private final long writtenBytes;
        private final long stateBytes;
        private final Long parentId;
        private final List<Chain> next;

        private WrittenState(List<List<StateFileRef>> chains, long writtenBytes, long stateBytes, Long parentId,
                List<Chain> next) {
            this.chains = chains;
            this.writtenBytes = writtenBytes;
            this.stateBytes = stateBytes;
            this.parentId = parentId;
            this.next = next;
        }

        /** Per core, its chain of files, full first. */
        List<List<StateFileRef>> chains() {
            return chains;
        }

        /** Every file of every chain, without repeats. */
        List<StateFileRef> files() {
            var all = new java.util.LinkedHashSet<StateFileRef>();
            chains.forEach(all::addAll);
            return List.copyOf(all);
        }

        /** The bytes this checkpoint wrote. */
        long writtenBytes() {
            return writtenBytes;
        }

        /**
         * The logical size of the whole state this checkpoint represents, all cores: the sum of the
         * lengths of every key and value (without the file format's framing), whatever part of it
         * this checkpoint wrote.
         */
        long stateBytes() {
            return stateBytes;
        }

        /** The checkpoint whose files this one builds on, or null if every core wrote a full file. */
        Long parentId() {
            return parentId;
        }
    }

    /**
     * @param store               where files go
     * @param retainedCheckpoints how many newest checkpoints to keep (at least 1)
     * @param maxDeltas           the most deltas a chain may hold before a full file is written (0: always full)
     * @param maxDeltaFraction    a full file is written once a chain's deltas exceed this fraction of its full file
     */
    IncrementalCheckpointManager(CheckpointStore store, int retainedCheckpoints, int maxDeltas,
            double maxDeltaFraction) {
        if (retainedCheckpoints < 1) {
            throw new IllegalArgumentException("retainedCheckpoints must be at least 1, but was " + retainedCheckpoints);
        }
        if (maxDeltas < 0) {
            throw new IllegalArgumentException("maxDeltas must not be negative, but was " + maxDeltas);
        }
        if (!(maxDeltaFraction > 0)) {
            throw new IllegalArgumentException("maxDeltaFraction must be positive, but was " + maxDeltaFraction);
        }
        this.store = store;
        this.retainedCheckpoints = retainedCheckpoints;
        this.maxDeltas = maxDeltas;
        this.maxDeltaFraction = maxDeltaFraction;
    }

    /** The store. */
    CheckpointStore store() {
        return store;
    }


    /**
     * The next checkpoint id that collides with nothing in the store: above every published
     * manifest and every state file (an orphan not yet deleted must not be overwritten).
     */
    long nextCheckpointId() throws IOException {
        long highest = -1;
        for (long id : store.listCheckpoints()) {
            highest = Math.max(highest, id);
        }
        for (var file : store.listFiles()) {
            var m = STATE_FILE.matcher(file);
            if (m.matches()) {
                highest = Math.max(highest, Long.parseLong(m.group(1)));
            }
        }
        return highest + 1;
    }

    /**
     * Writes the state files of checkpoint {@code checkpointId}: per core, a delta against its
     * committed chain, a full file, or nothing if it did not change. Nothing is committed: call
     * {@link #commit} once the manifest is published.
     *
     * <p>The files go up {@link CheckpointStore#concurrentFileWrites()} at a time (the calling
     * thread alone if that is 1, else a pool of {@code laminar-checkpoint-write-} threads for this
     * call). If a file fails, no further file is begun, and the call still waits for every file
     * under way before it throws the first failure (the others suppressed on it), so that
     * {@link #discard} finds every file that was begun and no write lands after it.
     */
    WrittenState writeState(long checkpointId, long epoch, List<StateSnapshot> snapshots) throws IOException {
        int cores = snapshots.size();
        var chainOf = new Chain[cores];
        var writtenBy = new long[cores];
        var delta = new boolean[cores];
        Regrouping.Task one = core -> {
            var snapshot = snapshots.get(core);
            var previous = committed.get(core);
            boolean full = previous == null || previous.files().size() - 1 >= maxDeltas
                    || previous.deltaBytes() > maxDeltaFraction * previous.fullBytes();
            delta[core] = !full;
            if (full) {
                var logical = new long[1];
                var ref = writeFile(core, checkpointId, epoch, true, null, snapshot, logical);
                writtenBy[core] = ref.size();
                chainOf[core] = new Chain(snapshot, List.of(ref), ref.size(), 0, logical[0]);
            } else {
                // The delta's change of the logical size: kept up to date from the changes alone, so
                // that a small delta costs no walk of the whole state.
                var logical = new long[] {previous.logicalBytes()};
                var ref = writeFile(core, checkpointId, epoch, false, previous.snapshot(), snapshot, logical);
                if (ref == null) {
                    chainOf[core] = new Chain(snapshot, previous.files(), previous.fullBytes(), previous.deltaBytes(),
                            previous.logicalBytes());
                } else {
                    writtenBy[core] = ref.size();
                    var files = new ArrayList<>(previous.files());
                    files.add(ref);
                    chainOf[core] = new Chain(snapshot, List.copyOf(files), previous.fullBytes(),
                            previous.deltaBytes() + ref.size(), logical[0]);
                }
            }
        };
        inParallel(cores, Math.min(store.concurrentFileWrites(), cores), "laminar-checkpoint-write-", one);
        var chains = new ArrayList<List<StateFileRef>>();
        var next = new ArrayList<Chain>();
        long written = 0;
        long stateBytes = 0;
        boolean reusesFiles = false;
        for (int core = 0; core < cores; core++) {
            reusesFiles |= delta[core];
            written += writtenBy[core];
            chains.add(chainOf[core].files());
            next.add(chainOf[core]);
            stateBytes += chainOf[core].logicalBytes();
        }
        return new WrittenState(List.copyOf(chains), written, stateBytes, reusesFiles ? committedId : null,
                List.copyOf(next));
    }

    /**
     * Runs {@code task} for 0 to {@code count - 1}, {@code parallel} at a time on a pool of
     * {@code threadPrefix} threads for this call (on the calling thread if {@code parallel} is 1).
     * After a failure no further task begins; the call waits for every task under way, then throws
     * the first failure with the others suppressed on it. See {@link #writeState}.
     */
    private static void inParallel(int count, int parallel, String threadPrefix, Regrouping.Task task)
            throws IOException {
        if (parallel <= 1) {
            for (int i = 0; i < count; i++) {
                task.run(i);
            }
            return;
        }
        var pool = Executors.newFixedThreadPool(parallel, Threads.numberedDaemonFactory(threadPrefix));
        var failed = new AtomicBoolean();
        try {
            var futures = new ArrayList<Future<?>>();
            for (int i = 0; i < count; i++) {
                int index = i;
                futures.add(pool.submit(() -> {
                    if (failed.get()) {
                        return null; // failed already: begin no further task
                    }
                    try {
                        task.run(index);
                    } catch (IOException | RuntimeException | Error e) {
                        failed.set(true);
                        throw e;
                    }
                    return null;
                }));
            }
            Throwable failure = null;
            boolean interrupted = false;
            for (var future : futures) {
                while (true) {
                    try {
                        future.get();
                        break;
                    } catch (InterruptedException e) {
                        interrupted = true; // the writes under way must end before this returns
                    } catch (ExecutionException e) {
                        if (failure == null) {
                            failure = e.getCause();
                        } else {
                            failure.addSuppressed(e.getCause());
                        }
                        break;
                    }
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            if (failure != null) {
                throw Causes.asIOException(failure);
            }
        } finally {
            pool.shutdown();
        }
    }

    /**
     * Continues the chains of a recovered checkpoint, so that the first checkpoint after a restart
     * writes deltas against it rather than full files. Call it before the first {@link #writeState}.
     *
     * <p>A checkpoint with base chains (a rescale's) is not continued: the next checkpoint writes
     * full files.
     *
     * <p>{@code checkpointStates} must be, per core, exactly the state that checkpoint's chain holds
     * (as {@link RecoveredState#checkpointStates()}: restored from its files, before the WAL
     * replay): a delta is the difference between a cut and this state, so it is exact whatever the
     * live store was built from, but only if this state is the chain's.
     *
     * @throws IllegalArgumentException if the manifest does not have one chain per core, or names
     *                                  a file it does not list
     */
    void resume(CheckpointManifest manifest, List<StateSnapshot> checkpointStates) {
        if (manifest.hasBaseChains()) {
            // A rescale's checkpoint: its chains are references into an older checkpoint's files
            // plus deltas. The next checkpoint writes full files, and retention can then let the
            // older files go.
            log.info("checkpoint {} was written by a rescale and references older state files: the next checkpoint"
                    + " writes full files", manifest.checkpointId());
            committed.clear();
            committedId = null;
            return;
        }
        var refs = new java.util.HashMap<String, StateFileRef>();
        manifest.files().forEach(ref -> refs.put(ref.path(), ref));
        var chains = new TreeMap<Integer, Chain>();
        for (int core = 0; core < checkpointStates.size(); core++) {
            var entry = manifest.operators().get(CoreChains.name(core));
            if (entry == null || entry.stateFiles().isEmpty()) {
                throw new IllegalArgumentException("checkpoint " + manifest.checkpointId() + " has no state chain for core "
                        + core);
            }
            var files = new ArrayList<StateFileRef>();
            long deltaBytes = 0;
            for (var path : entry.stateFiles()) {
                var ref = refs.get(path);
                if (ref == null) {
                    throw new IllegalArgumentException("checkpoint " + manifest.checkpointId() + " names " + path
                            + " in core " + core + "'s chain but does not list it");
                }
                if (!files.isEmpty()) {
                    deltaBytes += ref.size();
                }
                files.add(ref);
            }
            chains.put(core, new Chain(checkpointStates.get(core), List.copyOf(files), files.get(0).size(),
                    deltaBytes, checkpointStates.get(core).logicalBytes()));
        }
        committed.clear();
        committed.putAll(chains);
        committedId = manifest.checkpointId();
    }

    /** The checkpoint whose state was written is published: later checkpoints build on it. */
    void commit(long checkpointId, WrittenState state) {
        for (int core = 0; core < state.next.size(); core++) {
            committed.put(core, state.next.get(core));
        }
        committedId = checkpointId;
        uncommitted.clear();
    }

    /**
     * Deletes the state files {@link #writeState} wrote, or began to write, for checkpoint
     * {@code checkpointId} since the last {@link #commit}, once that checkpoint failed. Deletes
     * nothing if the store shows a manifest of {@code checkpointId} published all the same (a
     * publish that threw may have landed: the files are then that checkpoint's), or cannot tell.
     * Only that manifest can reference them: they are named with its id, and later ids are not
     * published yet. Either way the files are no longer this manager's to delete: what is left is
     * an orphan for {@link #deleteOrphans} or a published checkpoint for retention.
     *
     * @return how many files were deleted
     * @throws IOException if the store cannot tell whether the manifest is published (nothing is
     *                     deleted), or a deletion failed (the others are still tried, and their
     *                     failures are suppressed on the first)
     */
    int discard(long checkpointId) throws IOException {
        var files = List.copyOf(uncommitted);
        uncommitted.clear();
        if (files.isEmpty()) {
            return 0;
        }
        if (store.readManifest(checkpointId).isPresent()) {
            log.warn("checkpoint {} failed, but its manifest is published all the same: its {} state files stay, and "
                    + "recovery may use it", checkpointId, files.size());
            return 0;
        }
        IOException failure = null;
        int deleted = 0;
        for (var file : files) {
            try {
                store.deleteFile(file);
                deleted++;
            } catch (IOException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
        return deleted;
    }

    /**
     * Writes one file, streaming it straight into the store; for a delta with no change writes
     * nothing and returns null. Adds to {@code logical[0]} the change of the state's logical size
     * the file makes (for a full file: its whole size).
     */
    private StateFileRef writeFile(int core, long checkpointId, long epoch, boolean full, StateSnapshot older,
            StateSnapshot snapshot, long[] logical) throws IOException {
        var header = new StateFileFormat.Header(full ? StateFileFormat.FULL : StateFileFormat.DELTA, core, epoch,
                checkpointId);
        if (full) {
            return write(CoreChains.stateFilePath(core, checkpointId, true, store.ownerEpoch()), out -> {
                var writer = new StateFileFormat.Writer(out, header);
                try {
                    snapshot.forEach((key, value) -> {
                        logical[0] += key.length + (long) value.length;
                        writer.onPut(key, value);
                    });
                } catch (UncheckedIOException e) {
                    throw e.getCause();
                }
                writer.finish();
            });
        }
        List<StateChange> changes = snapshot.changesSince(older); // small: know whether it is empty first
        if (changes.isEmpty()) {
            return null;
        }
        for (var change : changes) {
            var before = older.get(change.key());
            if (change.isDelete()) {
                if (before != null) {
                    logical[0] -= change.key().length + (long) before.length;
                }
            } else {
                logical[0] += before == null ? change.key().length + (long) change.value().length
                        : change.value().length - (long) before.length;
            }
        }
        return write(CoreChains.stateFilePath(core, checkpointId, false, store.ownerEpoch()), out -> {
            var writer = new StateFileFormat.Writer(out, header);
            try {
                for (var change : changes) {
                    if (change.isDelete()) {
                        writer.onDelete(change.key());
                    } else {
                        writer.onPut(change.key(), change.value());
                    }
                }
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
            writer.finish();
        });
    }

    /** Writes a state file into the store, remembering it until the commit so that {@link #discard} finds it. */
    private StateFileRef write(String path, CheckpointStore.ContentWriter content) throws IOException {
        uncommitted.add(path); // before the write: one that fails may still have landed
        try {
            return store.writeFile(path, content);
        } catch (FileAlreadyExistsException e) {
            uncommitted.remove(path); // the file with other bytes is not this write's
            throw e;
        }
    }

    /**
     * Keeps the newest {@code retainedCheckpoints} manifests, deletes the older ones, then deletes
     * the files no remaining manifest references. Returns the retained manifests, oldest first
     * (those that could be read). Deleting manifests first means a crash in between leaves only
     * orphan files, never a manifest without its files. A manifest a fenced owner published too
     * late ({@link OwnerFences}: void) is not retained, does not count towards the number kept, and
     * is deleted.
     */
    List<CheckpointManifest> applyRetention(Runnable beforeDeleting) throws IOException {
        var fences = OwnerFences.of(store);
        var live = new ArrayList<Long>();
        var voided = new ArrayList<Long>();
        for (long id : store.listCheckpoints()) {
            if (isVoid(id, fences)) {
                voided.add(id);
            } else {
                live.add(id);
            }
        }
        int drop = Math.max(0, live.size() - retainedCheckpoints);
        if ((drop > 0 || !voided.isEmpty()) && beforeDeleting != null) {
            beforeDeleting.run();
        }
        for (long id : voided) {
            log.warn("deleting checkpoint {}: a fenced owner published it after the shard was taken over", id);
            store.deleteManifest(id);
        }
        for (int i = 0; i < drop; i++) {
            store.deleteManifest(live.get(i));
        }
        deleteOrphans();
        var retained = new ArrayList<CheckpointManifest>();
        for (long id : live.subList(drop, live.size())) {
            try {
                store.readManifest(id).ifPresent(retained::add);
            } catch (IOException | RuntimeException e) {
                log.warn("retained checkpoint {} cannot be read: {}", id, e.toString());
            }
        }
        return retained;
    }

    /** Whether checkpoint {@code id} is void under {@code fences}; an unreadable manifest is not (it protects). */
    private boolean isVoid(long id, OwnerFences fences) {
        try {
            var manifest = store.readManifest(id);
            return manifest.isPresent() && fences.voidReason(manifest.get()).isPresent();
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * Deletes every state file that no published manifest references. A manifest that cannot be
     * read protects nothing... so to be safe, nothing is deleted while any manifest is unreadable
     * unless the file's checkpoint id is newer than every manifest. A void manifest
     * ({@link OwnerFences}) protects nothing. A store claimed by owner epoch {@code e} deletes only
     * files of epochs up to {@code e} (their names say which): never a file of a newer owner, even if
     * this owner is fenced and its delete lands late. Then lets the store remove what interrupted
     * writes left that is not a file ({@link CheckpointStore#cleanUpIncompleteWrites()}).
     * Returns how many files were deleted. The files are deleted
     * {@link CheckpointStore#concurrentFileWrites()} at a time (on {@code laminar-checkpoint-delete-}
     * threads for this call if that is more than 1); if one fails, the call throws once the deletes
     * under way have ended, and the files not yet begun stay for the next cleanup.
     */
    int deleteOrphans() throws IOException {
        var fences = OwnerFences.of(store);
        long mine = store.ownerEpoch();
        Set<String> referenced = new HashSet<>();
        boolean unreadable = false;
        long newestManifest = -1;
        for (long id : store.listCheckpoints()) {
            newestManifest = Math.max(newestManifest, id);
            try {
                var manifest = store.readManifest(id);
                if (manifest.isPresent() && fences.voidReason(manifest.get()).isEmpty()) {
                    manifest.get().files().forEach(f -> referenced.add(f.path()));
                }
            } catch (IOException | RuntimeException e) {
                unreadable = true;
            }
        }
        var orphans = new ArrayList<String>();
        for (var file : store.listFiles()) {
            if (referenced.contains(file)) {
                continue;
            }
            var m = STATE_FILE.matcher(file);
            if (!m.matches()) {
                continue; // not ours
            }
            if (unreadable && Long.parseLong(m.group(1)) <= newestManifest) {
                continue;
            }
            long fileEpoch = m.group(2) == null ? 0 : Long.parseLong(m.group(2));
            if (mine >= 0 && fileEpoch > mine) {
                continue; // a newer owner's: never this owner's to delete
            }
            orphans.add(file);
        }
        // Each delete waits for a round trip to an object store: several at once, as files are written.
        inParallel(orphans.size(), Math.min(store.concurrentFileWrites(), orphans.size()),
                "laminar-checkpoint-delete-", i -> store.deleteFile(orphans.get(i)));
        if (!orphans.isEmpty()) {
            log.debug("deleted {} state files no checkpoint references", orphans.size());
        }
        store.cleanUpIncompleteWrites();
        return orphans.size();
    }
}

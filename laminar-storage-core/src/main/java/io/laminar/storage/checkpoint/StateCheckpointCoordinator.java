package io.laminar.storage.checkpoint;

import io.laminar.storage.StorageException;
import io.laminar.storage.changelog.ChangelogDrainer;
import io.laminar.storage.changelog.CoreCut;
import io.laminar.storage.changelog.CutContext;
import io.laminar.storage.concurrent.Threads;
import io.laminar.storage.percore.CorePositions;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.replication.ChangeReplicator;
import io.laminar.storage.state.StateSnapshot;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.ConnectorCheckpoint;
import io.laminar.storage.store.OperatorCheckpoint;
import io.laminar.storage.store.OwnerFences;
import io.laminar.storage.store.StateFileRef;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.ToLongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs checkpoints of a per-core WAL and its core threads' state, at an interval and on demand, one
 * at a time, on its own Ring 1 thread.
 *
 * <h2>One checkpoint</h2>
 * <ol>
 *   <li>Cut: {@link io.laminar.storage.percore.EpochCoordinator#prepareCheckpoint} advances the
 *       epoch; each core thread, at its next {@link io.laminar.storage.changelog.CoreChangelog#pollCheckpoint}
 *       call, snapshots its store in O(1) and publishes a barrier marker right after its last change;
 *       the drainer (started with {@code ChangelogOptions.withAlignedBarriers(true)}) writes the
 *       barrier when it dequeues the marker. Once every barrier is durable, the barrier positions are
 *       exactly the cuts of the snapshots. Ring 0 pauses only for the snapshot.</li>
 *   <li>Files: the {@link IncrementalCheckpointManager} writes each core's delta (or full) state file
 *       on this thread.</li>
 *   <li>Manifest: published with the barrier positions as WAL positions, the source offsets, operator
 *       states and watermark the {@code sources}, {@code operators} and {@code watermark} functions
 *       make of the cores' cuts (each captured by its core thread at its barrier), and per core an
 *       operator entry {@code core-NNNN} whose state files are the core's chain (full first).</li>
 *   <li>Retention: manifests beyond the newest {@code retainedCheckpoints} are deleted, then files
 *       no retained manifest references.</li>
 *   <li>Truncation: only now, and only up to the WAL positions of the oldest retained checkpoint
 *       taken with this WAL (its barriers are in this WAL; a checkpoint another machine wrote into
 *       the same store does not count), so that recovering from any retained checkpoint still
 *       finds every record it needs.</li>
 * </ol>
 * A checkpoint that fails before its manifest is published leaves the previous checkpoints intact,
 * and the state files it wrote are deleted as its failure is handled (see
 * {@link IncrementalCheckpointManager#discard}): if publishing the manifest threw, the store is
 * first asked whether the manifest landed all the same, and if it did, or the store cannot tell,
 * the files stay. A file that cannot be deleted is left to the next checkpoint's orphan cleanup,
 * and its failure is added to the checkpoint's failure as suppressed, never in its place. (A
 * publish that lands only after the store answered that it had not, such as a timed-out request
 * an object store still completes, finds its files gone: recovery skips that checkpoint as it
 * skips any with a missing file.) Once the manifest is published the
 * checkpoint exists: a failure of retention or truncation is logged and reported to
 * {@link CheckpointListener#publishedButNotCleanedUp}, and the checkpoint still completes (the
 * future completes with its manifest and listeners hear {@code completed}); the next checkpoint
 * retries the deletions and the truncation. Listeners hear of start, completion and failure.
 *
 * <h2>Thread-safety</h2>
 * Thread-safe: {@link #triggerCheckpoint()} may be called from any thread; checkpoints run one
 * after another on the coordinator's thread. Core threads must keep calling
 * {@code pollCheckpoint}, idle or busy, or checkpoints fail with a timeout naming them.
 */
public final class StateCheckpointCoordinator implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(StateCheckpointCoordinator.class);

    private final PerCoreWalManager wal;
    private final ChangelogDrainer drainer;
    private final CheckpointStore store;
    private final IncrementalCheckpointManager files;
    private final Duration interval;
    private final Duration barrierTimeout;
    private final Function<List<CoreCut>, Map<String, ConnectorCheckpoint>> sources;
    private final Function<List<CoreCut>, Map<String, OperatorCheckpoint>> operators;
    private final ToLongFunction<List<CoreCut>> watermark;
    private final Consumer<CheckpointStep> stepObserver;
    private final ChangeReplicator replicator; // null: no replication
    private final List<CheckpointListener> listeners = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService thread;
    private long nextId = -1; // checkpoint thread only
    private volatile boolean closed;

    private StateCheckpointCoordinator(Builder b) {
        this.wal = b.wal;
        this.drainer = b.drainer;
        this.store = b.store;
        this.files = new IncrementalCheckpointManager(b.store, b.retainedCheckpoints, b.maxDeltas, b.maxDeltaFraction);
        if (b.resumeFrom != null && b.resumeFrom.checkpoint() != null) {
            if (b.resumeFrom.checkpointStates().size() != b.wal.cores()) {
                throw new IllegalArgumentException("the recovered state has " + b.resumeFrom.checkpointStates().size()
                        + " cores, the WAL has " + b.wal.cores());
            }
            files.resume(b.resumeFrom.checkpoint(), b.resumeFrom.checkpointStates());
        }
        this.interval = b.interval;
        this.barrierTimeout = b.barrierTimeout;
        this.sources = b.sources;
        this.operators = b.operators;
        this.watermark = b.watermark;
        this.stepObserver = b.stepObserver;
        this.replicator = b.replicator;
        this.listeners.addAll(b.listeners);
        this.thread = Executors.newSingleThreadScheduledExecutor(Threads.daemonFactory("laminar-checkpoint"));
    }

    /** A builder over the WAL, its (aligned) drainer and the store. */
    public static Builder builder(PerCoreWalManager wal, ChangelogDrainer drainer, CheckpointStore store) {
        return new Builder(wal, drainer, store);
    }

    /** Starts the periodic checkpoints (if an interval was set); returns this. */
    public StateCheckpointCoordinator start() {
        if (interval != null && !interval.isZero()) {
            long millis = Math.max(1, interval.toMillis());
            thread.scheduleWithFixedDelay(() -> {
                try {
                    runCheckpoint();
                } catch (Throwable e) {
                    // reported to the listeners already
                }
            }, millis, millis, TimeUnit.MILLISECONDS);
        }
        return this;
    }

    /** Adds a listener. */
    void addListener(CheckpointListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /**
     * Runs a checkpoint as soon as the one under way (if any) is done. The future completes with
     * its manifest, or exceptionally with the cause of its failure.
     */
    public CompletableFuture<CheckpointManifest> triggerCheckpoint() {
        if (closed) {
            return CompletableFuture.failedFuture(new IllegalStateException("the checkpoint coordinator is closed"));
        }
        var result = new CompletableFuture<CheckpointManifest>();
        try {
            thread.execute(() -> {
                try {
                    result.complete(runCheckpoint());
                } catch (Throwable e) {
                    result.completeExceptionally(e);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            result.completeExceptionally(new IllegalStateException("the checkpoint coordinator is closed", e));
        }
        return result;
    }

    private CheckpointManifest runCheckpoint() throws Exception {
        if (closed) {
            throw new IllegalStateException("the checkpoint coordinator is closed");
        }
        long started = System.nanoTime();
        long id = -1;
        try {
            if (nextId < 0) {
                files.deleteOrphans(); // left by a crash mid-checkpoint
                nextId = files.nextCheckpointId();
            }
            id = nextId++; // never reused, even if this one fails
            long startedId = id;
            notify(l -> l.started(startedId));
            // Taken before the epoch advances: every replicated record before these positions belongs
            // to an earlier epoch, so it is in this checkpoint (recovery skips the rest of those).
            var replicated = replicator == null ? null : replicator.positions();
            // 1. The aligned cut.
            var prepared = wal.epochCoordinator().prepareCheckpoint(barrierTimeout);
            var cuts = new ArrayList<CoreCut>();
            var snapshots = new ArrayList<StateSnapshot>();
            for (int core = 0; core < wal.cores(); core++) {
                var cut = drainer.changelog(core).cutAt(prepared.epoch());
                if (cut == null) {
                    throw new StorageException("core " + core + " has a barrier for epoch " + prepared.epoch()
                            + " but no snapshot for it: is the drainer started with aligned barriers and does the "
                            + "core thread call pollCheckpoint?");
                }
                cuts.add(cut);
                snapshots.add(cut.state());
            }
            step(CheckpointStep.CUT);
            // 2.-3. State files, on this (Ring 1) thread.
            var written = files.writeState(id, prepared.epoch(), snapshots);
            step(CheckpointStep.STATE_FILES_WRITTEN);
            // 4. The manifest.
            // Operator states and the watermark come from the cuts, captured by each core thread at
            // its barrier: consistent with the state snapshots and the source offsets.
            var cutList = List.copyOf(cuts);
            var ops = new LinkedHashMap<String, OperatorCheckpoint>(operators.apply(cutList));
            for (int core = 0; core < wal.cores(); core++) {
                if (ops.containsKey(CoreChains.name(core))) {
                    throw new IllegalArgumentException("the operator name " + CoreChains.name(core)
                            + " is taken by the state chain of core " + core);
                }
                var paths = written.chains().get(core).stream().map(StateFileRef::path).toList();
                ops.put(CoreChains.name(core), new OperatorCheckpoint(new byte[0], paths));
            }
            var sourceMap = new LinkedHashMap<String, ConnectorCheckpoint>(sources.apply(cutList));
            if (sourceMap.containsKey(ChangeReplicator.SOURCE_NAME)) {
                throw new IllegalArgumentException("the source name " + ChangeReplicator.SOURCE_NAME
                        + " is reserved for the replication positions");
            }
            if (sourceMap.containsKey(OwnerFences.SOURCE_NAME)) {
                throw new IllegalArgumentException("the source name " + OwnerFences.SOURCE_NAME
                        + " is reserved for the owner epoch of the checkpoint's writer");
            }
            if (replicated != null) {
                sourceMap.put(ChangeReplicator.SOURCE_NAME, new ConnectorCheckpoint(replicated, Map.of()));
            }
            if (store.ownerEpoch() >= 0) {
                // Who published it: a fenced owner's late manifest is then void (OwnerFences).
                sourceMap.put(OwnerFences.SOURCE_NAME, OwnerFences.tag(store.ownerEpoch()));
            }
            var manifest = new CheckpointManifest(id, prepared.epoch(), Instant.now(),
                    boxed(prepared.replayFrom()), sourceMap, ops, written.files(),
                    written.parentId(), written.stateBytes(), written.writtenBytes(), watermark.applyAsLong(cutList),
                    wal.keyGroups());
            store.publishManifest(manifest);
            files.commit(id, written);
            // From here on the checkpoint exists and recovery may use it: a failure of a later step
            // (retention, truncation) does not make it a failed checkpoint. It is reported apart, and
            // only leaves more old checkpoints and WAL behind than retention wants, which the next
            // checkpoint deletes or truncates.
            afterPublish(manifest);
            var duration = Duration.ofNanos(System.nanoTime() - started);
            log.debug("checkpoint {} at epoch {} done in {} ms, {} bytes written", id, prepared.epoch(),
                    duration.toMillis(), written.writtenBytes());
            notify(l -> l.completed(manifest, duration, written.writtenBytes()));
            return manifest;
        } catch (Throwable e) {
            long failedId = id;
            discardStateFiles(failedId, e);
            log.warn("checkpoint {} failed; the previous checkpoint is intact", failedId, e);
            notify(l -> l.failed(failedId, e));
            throw e;
        }
    }

    /**
     * Deletes the state files failed checkpoint {@code id} wrote. A failure to do so is added to
     * {@code failure} as suppressed: the checkpoint's own failure is what its callers must hear.
     */
    private void discardStateFiles(long id, Throwable failure) {
        try {
            files.discard(id);
        } catch (Exception e) {
            failure.addSuppressed(e);
            log.warn("checkpoint {} failed and not every state file it wrote could be deleted; the next checkpoint "
                    + "deletes them: {}", id, e.toString());
        }
    }

    /** Steps 4 to 5 after the manifest is published: never throws; a failure goes to the listeners. */
    private void afterPublish(CheckpointManifest manifest) {
        var current = new CheckpointStep[] {CheckpointStep.MANIFEST_PUBLISHED};
        try {
            step(CheckpointStep.MANIFEST_PUBLISHED);
            // Retention, then truncation up to the oldest retained checkpoint.
            current[0] = CheckpointStep.RETENTION;
            var retained = files.applyRetention(() -> step(CheckpointStep.RETENTION));
            // Only checkpoints taken with this WAL bound the truncation: positions of a checkpoint
            // another machine wrote into the same store name records of its WAL, not of this one.
            var oldest = retained.stream().filter(this::takenWithThisWal).findFirst();
            if (oldest.isPresent()) {
                current[0] = CheckpointStep.TRUNCATION;
                step(CheckpointStep.TRUNCATION);
                var positions = new long[wal.cores()];
                for (int core = 0; core < positions.length; core++) {
                    positions[core] = oldest.get().walPositions().get(core);
                }
                wal.truncateBefore(CorePositions.of(positions));
            }
            // The replicated log: behind the oldest retained checkpoint, whichever WAL took it (a
            // retained checkpoint without positions, from before replication, holds it back).
            if (replicator != null && !retained.isEmpty()) {
                var positions = retained.get(0).sources().get(ChangeReplicator.SOURCE_NAME);
                if (positions != null) {
                    current[0] = CheckpointStep.TRUNCATION;
                    replicator.truncateBefore(positions.offsets());
                }
            }
        } catch (Exception e) {
            var step = current[0];
            log.warn("checkpoint {} is published and usable, but its {} step failed; the next checkpoint retries it",
                    manifest.checkpointId(), step, e);
            notify(l -> l.publishedButNotCleanedUp(manifest, step, e));
        }
    }

    /** Whether every core's WAL holds the checkpoint's barrier at its recorded position. */
    private boolean takenWithThisWal(CheckpointManifest manifest) {
        if (manifest.walPositions().size() != wal.cores()) {
            return false;
        }
        for (int core = 0; core < wal.cores(); core++) {
            if (!wal.isBarrierAt(core, manifest.walPositions().get(core), manifest.epoch())) {
                return false;
            }
        }
        return true;
    }

    private static List<Long> boxed(CorePositions positions) {
        var list = new ArrayList<Long>();
        for (long p : positions.toArray()) {
            list.add(p);
        }
        return list;
    }

    private void step(CheckpointStep step) {
        stepObserver.accept(step);
        long id = nextId - 1; // the checkpoint under way: runCheckpoint took its id
        notify(l -> l.step(id, step));
    }

    private void notify(Consumer<CheckpointListener> call) {
        for (var listener : listeners) {
            try {
                call.accept(listener);
            } catch (RuntimeException e) {
                log.warn("checkpoint listener {} threw", listener, e);
            }
        }
    }

    /** Stops the interval, lets a checkpoint under way finish, and stops the thread. */
    @Override
    public void close() {
        closed = true;
        thread.shutdown();
        try {
            if (!thread.awaitTermination(60, TimeUnit.SECONDS)) {
                thread.shutdownNow();
            }
        } catch (InterruptedException e) {
            thread.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    /** Settings of a {@link StateCheckpointCoordinator}. Not thread-safe. */
    public static final class Builder {
        private final PerCoreWalManager wal;
        private final ChangelogDrainer drainer;
        private final CheckpointStore store;
        private Duration interval = Duration.ZERO;
        private Duration barrierTimeout = Duration.ofSeconds(10);
        private int retainedCheckpoints = 3;
        private int maxDeltas = 10;
        private double maxDeltaFraction = 0.5;
        private Function<List<CoreCut>, Map<String, ConnectorCheckpoint>> sources = StateCheckpointCoordinator::perCore;
        private Function<List<CoreCut>, Map<String, OperatorCheckpoint>> operators =
                StateCheckpointCoordinator::perCoreOperators;
        private ToLongFunction<List<CoreCut>> watermark = StateCheckpointCoordinator::lowestWatermark;
        private Consumer<CheckpointStep> stepObserver = s -> { };
        private final List<CheckpointListener> listeners = new ArrayList<>();
        private RecoveredState resumeFrom;
        private ChangeReplicator replicator;

        private Builder(PerCoreWalManager wal, ChangelogDrainer drainer, CheckpointStore store) {
            this.wal = Objects.requireNonNull(wal, "wal");
            this.drainer = Objects.requireNonNull(drainer, "drainer");
            this.store = Objects.requireNonNull(store, "store");
        }

        /** Checkpoint every {@code interval} (measured from the end of one to the start of the next); zero: on demand only (default). */
        public Builder interval(Duration interval) {
            this.interval = Objects.requireNonNull(interval, "interval");
            return this;
        }

        /** How long to wait for every core's barrier (default 10 s). */
        public Builder barrierTimeout(Duration timeout) {
            this.barrierTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** How many newest checkpoints to keep (default 3). */
        public Builder retainedCheckpoints(int n) {
            this.retainedCheckpoints = n;
            return this;
        }

        /** The most deltas a core's chain holds before a full file (default 10). */
        public Builder maxDeltas(int n) {
            this.maxDeltas = n;
            return this;
        }

        /** A full file is written once a chain's deltas exceed this fraction of its full file (default 0.5). */
        public Builder maxDeltaFraction(double fraction) {
            this.maxDeltaFraction = fraction;
            return this;
        }

        /**
         * Makes the manifest's source offsets of the cores' cuts (the offsets each core thread
         * reported at its barrier). Default: one connector {@code core-NNNN} per core.
         */
        public Builder sources(Function<List<CoreCut>, Map<String, ConnectorCheckpoint>> sources) {
            this.sources = Objects.requireNonNull(sources, "sources");
            return this;
        }

        /**
         * Makes the manifest's operator states of the cores' cuts (the {@link CutContext#operatorStates()}
         * each core thread reported at its barrier, consistent with its state snapshot). Names
         * {@code core-NNNN} are taken. Default: each core's state {@code name} inline as operator
         * {@code core-NNNN/name}.
         */
        public Builder operators(Function<List<CoreCut>, Map<String, OperatorCheckpoint>> operators) {
            this.operators = Objects.requireNonNull(operators, "operators");
            return this;
        }

        /**
         * Makes the manifest's event-time watermark of the cores' cuts. Default: the lowest of the
         * cores' watermarks at their cuts, so {@link Long#MIN_VALUE} (none) if any core reported none.
         */
        public Builder watermark(ToLongFunction<List<CoreCut>> watermark) {
            this.watermark = Objects.requireNonNull(watermark, "watermark");
            return this;
        }

        /** Hears each step of each checkpoint on the checkpoint thread (tracing, crash tests). */
        public Builder stepObserver(Consumer<CheckpointStep> observer) {
            this.stepObserver = Objects.requireNonNull(observer, "observer");
            return this;
        }

        /**
         * Continues the checkpoint chains of the checkpoint {@code recovered} was restored from (if
         * any), so that the first checkpoint after the restart writes per core only what changed
         * since it (subject to the usual {@code maxDeltas} and {@code maxDeltaFraction} limits)
         * instead of a full file. Pass the {@link RecoveredState} of this WAL and store, as
         * {@link RecoveryManager#recover()} returned it. Without it, or after a recovery from the
         * WAL alone, the first checkpoint writes full files.
         */
        public Builder resumeFrom(RecoveredState recovered) {
            this.resumeFrom = Objects.requireNonNull(recovered, "recovered");
            return this;
        }

        /**
         * Records {@code replicator}'s {@link ChangeReplicator#positions()} in every manifest, as the
         * reserved source {@link ChangeReplicator#SOURCE_NAME}, taken right before the cut, and
         * truncates the replicated log behind the oldest retained checkpoint. Default: none.
         */
        public Builder replicator(ChangeReplicator replicator) {
            this.replicator = Objects.requireNonNull(replicator, "replicator");
            return this;
        }

        /** Adds a listener. */
        public Builder listener(CheckpointListener listener) {
            this.listeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        /** The coordinator; call {@link StateCheckpointCoordinator#start()} to start the interval. */
        public StateCheckpointCoordinator build() {
            return new StateCheckpointCoordinator(this);
        }
    }

    private static Map<String, OperatorCheckpoint> perCoreOperators(List<CoreCut> cuts) {
        var out = new LinkedHashMap<String, OperatorCheckpoint>();
        for (var cut : cuts) {
            cut.context().operatorStates().forEach((name, inline) ->
                    out.put(CoreChains.name(cut.core()) + "/" + name, new OperatorCheckpoint(inline, List.of())));
        }
        return out;
    }

    private static long lowestWatermark(List<CoreCut> cuts) {
        long lowest = Long.MAX_VALUE;
        for (var cut : cuts) {
            lowest = Math.min(lowest, cut.watermark());
        }
        return cuts.isEmpty() ? Long.MIN_VALUE : lowest;
    }

    private static Map<String, ConnectorCheckpoint> perCore(List<CoreCut> cuts) {
        var out = new LinkedHashMap<String, ConnectorCheckpoint>();
        for (var cut : cuts) {
            out.put(CoreChains.name(cut.core()), new ConnectorCheckpoint(cut.sourceOffsets(), Map.of()));
        }
        return out;
    }
}

package io.laminar.storage.runtime;

import io.laminar.storage.FencedException;
import io.laminar.storage.KeyGroups;
import io.laminar.storage.StorageException;
import io.laminar.storage.changelog.ChangelogDrainer;
import io.laminar.storage.changelog.ChangelogOptions;
import io.laminar.storage.changelog.CoreChangelog;
import io.laminar.storage.changelog.CutContext;
import io.laminar.storage.checkpoint.CheckpointListener;
import io.laminar.storage.checkpoint.CheckpointStep;
import io.laminar.storage.checkpoint.RecoveredState;
import io.laminar.storage.checkpoint.RecoveryListener;
import io.laminar.storage.checkpoint.RecoveryManager;
import io.laminar.storage.checkpoint.RecoveryOptions;
import io.laminar.storage.checkpoint.RecoveryReport;
import io.laminar.storage.checkpoint.Rescaler;
import io.laminar.storage.checkpoint.StateCheckpointCoordinator;
import io.laminar.storage.checkpoint.StatePlacement;
import io.laminar.storage.concurrent.Backoff;
import io.laminar.storage.concurrent.Threads;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.replication.ChangeReplicator;
import io.laminar.storage.replication.ReplicatedChangeSink;
import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.state.StateChangeFormat;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.ConnectorCheckpoint;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.jctools.queues.MpscArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The per-core threads of a stream processor together with what makes their state durable: on
 * {@link #start()} it recovers every core's state ({@link RecoveryManager}: newest valid checkpoint
 * plus WAL replay), starts the changelog drainer (aligned barriers), one thread per core and the
 * {@link StateCheckpointCoordinator}.
 *
 * <h2>Core threads</h2>
 * Core {@code c}'s thread owns core {@code c}'s {@link ChangelogAwareStateStore}: only tasks handed
 * to it with {@link #submit} or {@link #submitDurable} touch the store, one at a time in submission
 * order, so state needs no lock. Between two tasks, and while idle, the thread places its checkpoint
 * barrier when a checkpoint asks for it and reports the {@link CutContextProvider}'s context there.
 * Each core has a bounded multi-producer queue of tasks; a submitter finding it full waits for room
 * (backpressure on the caller, never on the core thread). Keys are spread over cores by
 * {@link #coreOf}: by key group, in contiguous ranges ({@link KeyGroups}).
 *
 * <h2>Durability</h2>
 * A task's changes are in memory when its {@code submit} future completes, and fsynced in the core's
 * WAL when its {@code submitDurable} future completes: only then may they be acknowledged to anyone.
 * The {@code submit} future completes on the core thread and the {@code submitDurable} future on the
 * runtime's acknowledger thread: use the {@code *Async} methods for continuations that are slow.
 *
 * <h2>Replicated durability</h2>
 * Built with a {@link Builder#replicator ChangeReplicator}, a {@code submitDurable} future completes
 * only once the task's changes are fsynced locally <em>and</em> acknowledged by the replicator; it
 * fails if the replica is not acknowledged within the replicator's timeout. {@link #start()} first
 * opens the replicator, which fences every earlier owner of the shard. If the data directory has no
 * history of its own (a takeover: another machine owned the shard), it restores the newest
 * checkpoint, then every replicated change after that checkpoint's replication positions
 * ({@link RecoveryReport#recordsFromReplication()}), and takes a checkpoint before it takes any task,
 * so that what it restored is in the store and not only in memory. A file
 * {@value #TAKEOVER_MARKER} in the WAL directory marks a takeover under way: it is created (and
 * fsynced) before the recovery and deleted after that checkpoint, so a crash in between repeats the
 * takeover instead of continuing from a local WAL that lacks the replicated changes. The start also
 * claims a new owner epoch in the checkpoint store ({@link CheckpointStore#claimOwnership()}), so an
 * older owner can no longer publish checkpoints or delete files. The claimed epoch is recorded in
 * {@value #OWNER_EPOCH_FILE} in the WAL directory; a directory with a WAL history of its own whose
 * shard has been owned with a newer epoch since (an old owner restarted on its stale disk) is
 * refused before it fences anyone.
 *
 * <p>A replicated shard started with another number of cores than its newest checkpoint (a
 * takeover) or its own WAL (set aside by {@code Rescaler.openReplicated}) is rescaled by
 * {@link #start()} once it owns the shard ({@link Rescaler#rescaleReplicated}): the old layout is
 * recovered with its own cores (checkpoint and replicated changes, or checkpoint and its own WAL),
 * regrouped by key group, and published as one checkpoint at the replicated log's end, which the
 * recovery then adopts; {@link RecoveryReport#rescale()} says what moved. A takeover whose newest
 * checkpoint cannot be rescaled (another number of key groups, no replication positions) is refused
 * before it fences anyone. A replicator that fails for good
 * (fenced by a new owner), or a checkpoint refused by the store with a {@link FencedException}, fails
 * the runtime ({@link #failure()}): every later task that changes state and every durable task fails.
 *
 * <h2>Lifecycle</h2>
 * {@link #start()} once, {@link #close()} once. Close refuses new tasks, runs the queued ones, takes
 * a final checkpoint if asked to, waits until every change is durable and stops the threads. It
 * does not close the WAL manager or the store: whoever opened them closes them, after the runtime.
 *
 * <p>Thread-safety: every method may be called from any thread.
 */
public final class LaminarRuntime implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LaminarRuntime.class);
    private static final int DRAIN_LIMIT = 256;
    private static final int SPINS = 100;
    private static final int YIELDS = 10;
    private static final long PARK_NANOS = 200_000;
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(60);

    private enum State { NEW, STARTING, RUNNING, CLOSING, CLOSED, FAILED }

    private final PerCoreWalManager wal;
    private final CheckpointStore store;
    private final ChangelogOptions changelogOptions;
    private final List<Consumer<StateCheckpointCoordinator.Builder>> checkpointCustomizers;
    private final CutContextProvider cutContext;
    private final CoreInitializer initializer;
    private final int taskQueueCapacity;
    private final boolean finalCheckpointOnClose;
    private final List<CheckpointListener> listeners = new CopyOnWriteArrayList<>();
    private final RecoveryListener recoveryListener;
    private final RecoveryOptions recoveryOptions;
    private final StatePlacement statePlacement;
    private final ChangeReplicator replicator; // null: local durability
    private final RecoveredState handedOver;

    private final Object lifecycle = new Object();
    private volatile State state = State.NEW;
    private volatile boolean accepting;
    private final AtomicInteger submitting = new AtomicInteger();
    private volatile ChangelogDrainer drainer;
    private volatile StateCheckpointCoordinator coordinator;
    private volatile Core[] cores;
    private volatile ExecutorService acknowledger;
    private volatile Thread acknowledgerThread;
    private volatile StorageException failure;
    private volatile RecoveryReport recoveryReport;
    private volatile Map<String, ConnectorCheckpoint> recoveredSources = Map.of();

    private LaminarRuntime(Builder b) {
        this.wal = b.wal;
        this.store = b.store;
        this.changelogOptions = b.changelogOptions.withAlignedBarriers(true);
        this.checkpointCustomizers = List.copyOf(b.checkpointCustomizers);
        this.cutContext = b.cutContext;
        this.initializer = b.initializer;
        this.taskQueueCapacity = b.taskQueueCapacity;
        this.finalCheckpointOnClose = b.finalCheckpointOnClose;
        this.listeners.addAll(b.listeners);
        this.recoveryListener = b.recoveryListener;
        this.recoveryOptions = b.recoveryOptions;
        this.statePlacement = b.statePlacement;
        this.replicator = b.replicator;
        this.handedOver = b.recovered;
    }

    /** The file in the WAL directory that marks a takeover whose first checkpoint is not yet taken. */
    public static final String TAKEOVER_MARKER = "replication-takeover.pending";
    /** The file in the WAL directory that holds the owner epoch this directory last claimed (decimal). */
    public static final String OWNER_EPOCH_FILE = "replication-owner-epoch";

    /** A builder over an open per-core WAL and a checkpoint store (both stay owned by the caller). */
    public static Builder builder(PerCoreWalManager wal, CheckpointStore store) {
        return new Builder(wal, store);
    }

    /**
     * Recovers the state of every core, runs each core's {@link CoreInitializer}, then starts the
     * core threads taking tasks and the checkpoints. Returns what the recovery did.
     *
     * @throws StorageException      if no consistent state can be recovered, or an initializer
     *                               failed (nothing is left running)
     * @throws IllegalStateException if called twice, or after {@link #close()}
     */
    public RecoveryReport start() {
        synchronized (lifecycle) {
            if (state != State.NEW) {
                throw new IllegalStateException("the runtime over " + wal.directory() + " is " + state
                        + "; start() may be called once");
            }
            if (wal.keyGroups() == 0) {
                throw new StorageException(legacyWal());
            }
            if (replicator == null && Rescaler.holdsLayoutSetAside(wal.directory())) {
                // Its WAL tail is only in the set-aside layout: a recovery of this directory would miss it.
                throw new StorageException("the per-core WAL of " + wal.directory() + " is being rescaled as a"
                        + " replicated shard (its old layout is set aside in " + wal.directory().getFileName()
                        + Rescaler.REPLICATED_SUFFIX + "): start it with a replicator (laminar.storage.durability="
                        + "replicated), which finishes the rescale; nothing was changed");
            }
            state = State.STARTING;
            try {
                boolean takeover = false;
                Rescaler.Replicated rescaled = null;
                if (replicator != null) {
                    // Before fencing anyone: a data directory another owner has superseded must not
                    // fence the real owner and then start from its stale WAL.
                    long previousOwner = refuseStaleDirectory();
                    refuseTakeoverThatCannotRescale();
                    replicator.open(wal.cores()); // fences the previous owner before anything is read
                    long ownerEpoch = store.claimOwnership(); // and fences its checkpoint publishing and deletes
                    log.info("owner epoch {} of the checkpoint store {} claimed (previous owner epoch {})", ownerEpoch,
                            store, previousOwner);
                    recordOwnerEpoch(ownerEpoch);
                    takeover = beginTakeoverIfNew();
                    if (takeover) {
                        // Only now, owning the shard: the old layout is recovered with its own cores,
                        // regrouped, and published as a checkpoint the recovery below adopts.
                        rescaled = Rescaler.rescaleReplicated(wal, store, replicator, statePlacement).orElse(null);
                    }
                }
                var recovered = handedOver != null && matchesWal(handedOver) ? handOver(handedOver)
                        : recoverFromWal();
                drainer = ChangelogDrainer.start(wal, changelogOptions, replicator);
                var checkpoints = StateCheckpointCoordinator.builder(wal, drainer, store)
                        .resumeFrom(recovered)
                        .listener(new Forwarder());
                if (replicator != null) {
                    checkpoints.replicator(replicator);
                }
                checkpointCustomizers.forEach(c -> c.accept(checkpoints));
                coordinator = checkpoints.build();
                acknowledger = Executors.newSingleThreadExecutor(r -> {
                    var thread = Threads.daemon("laminar-durable-ack", r);
                    acknowledgerThread = thread;
                    return thread;
                });
                var started = new Core[wal.cores()];
                for (int core = 0; core < started.length; core++) {
                    var changelog = drainer.changelog(core);
                    var coreStore = ChangelogAwareStateStore.fromSnapshot(recovered.coreStates().get(core), changelog);
                    started[core] = new Core(core, coreStore, changelog);
                }
                var report = recovered.report();
                if (rescaled != null) {
                    report = report.withRescale(rescaled.rescale());
                }
                if (takeover) {
                    report = restoreReplicated(recovered, report, started,
                            rescaled == null ? 0 : rescaled.recordsFromReplication());
                }
                cores = started;
                for (var core : started) {
                    core.thread.start();
                }
                for (var core : started) {
                    awaitInitialized(core);
                }
                coordinator.start();
                if (takeover) {
                    completeTakeover();
                }
                recoveryReport = report;
                recoveredSources = recovered.sources();
                accepting = true;
                state = State.RUNNING;
                log.info("started {} cores over {} (recovered checkpoint {}, {} WAL records replayed in {} ms)",
                        started.length, wal.directory(), recoveryReport.checkpointId(),
                        recoveryReport.recordsReplayed(), recoveryReport.duration().toMillis());
                return recoveryReport;
            } catch (IOException e) {
                stopAfterFailedStart();
                throw new StorageException("cannot recover " + wal.directory() + ": the checkpoint store could not "
                        + "be read (" + e + "); check that it is reachable and retry", e);
            } catch (RuntimeException | Error e) {
                stopAfterFailedStart();
                throw e;
            }
        }
    }

    /**
     * Refuses a WAL that has a history of its own but whose shard was owned by someone else since
     * this directory last owned it (the store's newest owner epoch is not the one this directory
     * recorded): its WAL lacks that owner's changes, and starting from it would bury them. Returns
     * the store's newest owner epoch.
     */
    private long refuseStaleDirectory() throws IOException {
        long newest = store.newestOwnerEpoch();
        boolean ownHistory = Rescaler.holdsLayoutSetAside(wal.directory())
                || !Files.exists(wal.directory().resolve(TAKEOVER_MARKER))
                && !wal.canAdopt(wal.startPositions(), wal.epoch());
        if (!ownHistory) {
            return newest; // a takeover: it restores everything from the store and Kafka
        }
        var file = wal.directory().resolve(OWNER_EPOCH_FILE);
        long mine = Files.exists(file) ? Long.parseLong(Files.readString(file).trim()) : 0;
        if (newest > mine) {
            throw new StorageException("the data directory " + wal.directory() + " is stale: it last owned its shard "
                    + (mine == 0 ? "before replication was enabled" : "with owner epoch " + mine) + ", but "
                    + store + " has been owned with owner epoch " + newest + " since, by another process whose "
                    + "changes this WAL does not hold. Nothing was fenced or changed. Delete this data directory (and "
                    + wal.directory().getFileName() + Rescaler.REPLICATED_SUFFIX + " beside the WAL, if there; every "
                    + "acknowledged change is in the checkpoint store and Kafka) and start again: it then takes the "
                    + "shard over");
        }
        return newest;
    }

    /**
     * Refuses, before anyone is fenced, a takeover whose newest checkpoint has another number of
     * cores but cannot be rescaled (another number of key groups, or no replication positions): the
     * refusal would otherwise come only after the running owner was fenced, leaving the shard with no
     * owner at all. A takeover that can be rescaled is rescaled after the claim
     * ({@link Rescaler#rescaleReplicated}).
     */
    private void refuseTakeoverThatCannotRescale() throws IOException {
        boolean takeover = !Rescaler.holdsLayoutSetAside(wal.directory())
                && (Files.exists(wal.directory().resolve(TAKEOVER_MARKER))
                        || wal.canAdopt(wal.startPositions(), wal.epoch()));
        if (!takeover) {
            return; // a restart on its own WAL (perhaps set aside to be rescaled): its recovery reads it
        }
        var refusal = Rescaler.replicatedTakeoverRefusal(store, wal);
        if (refusal.isPresent()) {
            throw new StorageException("cannot take over the shard of " + store + " into " + wal.directory()
                    + " with " + wal.cores() + " cores: " + refusal.get() + ". Nothing was fenced or changed: the "
                    + "running owner, if any, goes on");
        }
    }

    /** Durably records {@code epoch} as the owner epoch of this data directory (temp file, fsync, rename, dir fsync). */
    private void recordOwnerEpoch(long epoch) throws IOException {
        var file = wal.directory().resolve(OWNER_EPOCH_FILE);
        var temp = wal.directory().resolve(OWNER_EPOCH_FILE + ".tmp");
        try (var channel = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            channel.write(ByteBuffer.wrap((epoch + "\n").getBytes(StandardCharsets.US_ASCII)));
            channel.force(true);
        }
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (var dir = FileChannel.open(wal.directory(), StandardOpenOption.READ)) {
            dir.force(true);
        }
    }

    /**
     * Whether this start is a takeover: the WAL has no history of its own (or a marker says an
     * earlier takeover did not reach its first checkpoint). Writes the marker first.
     */
    private boolean beginTakeoverIfNew() throws IOException {
        var marker = wal.directory().resolve(TAKEOVER_MARKER);
        if (Files.exists(marker)) {
            log.warn("{} exists: the takeover of an earlier start did not complete its first checkpoint; "
                    + "restoring the replicated changes again", marker);
            return true;
        }
        // No data record of its own: what PerCoreWalManager.canAdopt accepts at its current positions.
        if (!wal.canAdopt(wal.startPositions(), wal.epoch())) {
            return false;
        }
        try (var channel = FileChannel.open(marker, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            channel.force(true);
        }
        try (var dir = FileChannel.open(wal.directory(), StandardOpenOption.READ)) {
            dir.force(true);
        }
        return true;
    }

    /**
     * Applies every replicated change after the restored checkpoint to the cores' stores; the report
     * counts them with the {@code rescaled} changes a rescale before the recovery restored.
     */
    private RecoveryReport restoreReplicated(RecoveredState recovered, RecoveryReport report, Core[] started,
            long rescaled) {
        long began = System.nanoTime();
        var manifest = recovered.checkpoint();
        Map<String, String> from = Map.of();
        if (manifest != null) {
            var positions = manifest.sources().get(ChangeReplicator.SOURCE_NAME);
            if (positions == null) {
                throw new StorageException("cannot take over " + wal.directory() + ": checkpoint "
                        + manifest.checkpointId() + " holds no replication positions (source '"
                        + ChangeReplicator.SOURCE_NAME + "'): it was taken without replication, so the replicated "
                        + "changes after it cannot be told apart from those in it. Start the previous owner again "
                        + "with durability replicated until it has taken a checkpoint, or restore without replication");
            }
            from = positions.offsets();
        }
        var replayers = new ChangelogSink[started.length];
        for (int core = 0; core < started.length; core++) {
            replayers[core] = started[core].store.replayer();
        }
        long records = replicator.restore(from, manifest == null ? -1 : manifest.epoch(),
                manifest == null ? started.length : manifest.walPositions().size(), new ReplicatedChangeSink() {
            @Override
            public void change(int core, ByteBuffer change) {
                StateChangeFormat.apply(change, replayers[checkCore(core)]);
            }

            @Override
            public void clear(int core, Predicate<byte[]> scope) {
                var store = started[checkCore(core)].store;
                var doomed = new ArrayList<byte[]>();
                store.snapshot().forEach((key, value) -> {
                    if (scope.test(key)) {
                        doomed.add(key);
                    }
                });
                doomed.forEach(replayers[core]::onDelete);
            }

            private int checkCore(int core) {
                if (core < 0 || core >= started.length) {
                    throw new StorageException("a replicated change of core " + core + " cannot be restored into "
                            + started.length + " cores: the replicated log and the checkpoint store belong to "
                            + "different shards");
                }
                return core;
            }
        });
        var duration = report.duration().plusNanos(System.nanoTime() - began);
        log.info("takeover of {}: {} replicated changes restored after checkpoint {}", wal.directory(),
                records + rescaled, report.checkpointId());
        return report.withReplication(records + rescaled, duration);
    }

    /** The first checkpoint of a takeover: from then on the restored changes are in the store. */
    private void completeTakeover() throws IOException {
        try {
            var manifest = coordinator.triggerCheckpoint().get(CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            log.info("takeover of {}: checkpoint {} holds the restored state", wal.directory(), manifest.checkpointId());
        } catch (ExecutionException e) {
            throw new StorageException("the first checkpoint of the takeover of " + wal.directory() + " failed ("
                    + e.getCause() + "); nothing was served. Start again: the takeover is repeated", e.getCause());
        } catch (TimeoutException e) {
            throw new StorageException("the first checkpoint of the takeover of " + wal.directory() + " did not "
                    + "complete within " + CLOSE_TIMEOUT + "; nothing was served. Start again", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException("interrupted during the first checkpoint of a takeover", e);
        }
        var marker = wal.directory().resolve(TAKEOVER_MARKER);
        Files.deleteIfExists(marker);
        try (var dir = FileChannel.open(wal.directory(), StandardOpenOption.READ)) {
            dir.force(true);
        }
    }

    /**
     * Whether the WAL holds exactly the barriers of the handed-over state's checkpoint and nothing
     * after them: then recovering it would give that state, which is used as it is.
     */
    private boolean matchesWal(RecoveredState state) {
        var manifest = state.checkpoint();
        if (manifest == null || manifest.walPositions().size() != wal.cores() || wal.keyGroups() != manifest.keyGroups()
                || state.coreStates().size() != wal.cores()) {
            return false;
        }
        var from = new long[wal.cores()];
        for (int core = 0; core < from.length; core++) {
            from[core] = manifest.walPositions().get(core);
            if (!wal.isBarrierAt(core, from[core], manifest.epoch())) {
                return false;
            }
        }
        var records = new int[1];
        wal.replay(io.laminar.storage.percore.CorePositions.of(from), record -> records[0]++);
        return records[0] == wal.cores(); // the barriers alone
    }

    /**
     * Recovers from the WAL and the store; a rescale's state that could not be used as it is (the
     * WAL changed since) still has its report carried.
     */
    private RecoveredState recoverFromWal() throws IOException {
        if (handedOver != null) {
            log.warn("the WAL in {} no longer holds just the barriers of the rescale's checkpoint {}: recovering it"
                    + " from the WAL and the store instead of starting from the moved state", wal.directory(),
                    handedOver.report().checkpointId());
        }
        var recovered = new RecoveryManager(wal, store, recoveryListener, recoveryOptions, statePlacement).recover();
        if (handedOver == null) {
            return recovered;
        }
        return new RecoveredState(recovered.coreStates(), recovered.sources(), recovered.operators(),
                recovered.epoch(), recovered.report().withRescale(handedOver.report().rescale()),
                recovered.checkpoint(), recovered.checkpointStates());
    }

    /** Uses a handed-over state, telling the recovery listener as a recovery would. */
    private RecoveredState handOver(RecoveredState state) {
        try {
            recoveryListener.started();
            recoveryListener.completed(state.report());
        } catch (RuntimeException e) {
            log.warn("recovery listener {} threw", recoveryListener, e);
        }
        log.info("starting from the state the rescale of {} moved (checkpoint {}), without reading it back",
                wal.directory(), state.report().checkpointId());
        return state;
    }

    private void awaitInitialized(Core core) {
        try {
            core.initialized.get();
        } catch (ExecutionException e) {
            throw new StorageException("the initializer of core " + core.index + " failed: " + e.getCause(),
                    e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException("interrupted while core " + core.index + " was initializing", e);
        }
    }

    private void stopAfterFailedStart() {
        state = State.FAILED;
        var started = cores;
        if (started != null) {
            for (var core : started) {
                core.stop = true;
                LockSupport.unpark(core.thread);
            }
            for (var core : started) {
                Threads.joinUninterruptibly(core.thread);
            }
        }
        if (coordinator != null) {
            coordinator.close();
        }
        if (drainer != null) {
            drainer.close();
        }
        if (acknowledger != null) {
            acknowledger.shutdown();
        }
    }

    /** Whether the runtime is started, not closing, and none of its core threads has died. */
    public boolean isRunning() {
        return state == State.RUNNING && failure == null;
    }

    /**
     * Why the runtime stopped taking tasks while running: a core thread died of an error thrown
     * outside any task (by the {@link CutContextProvider}, or an {@link Error} such as running out
     * of memory while taking a checkpoint snapshot). Empty while all is well. Such a runtime fails
     * every task and submission from then on; close it and restart: recovery restores every
     * durable change.
     */
    public Optional<StorageException> failure() {
        if (failure != null) {
            return Optional.of(failure);
        }
        var d = drainer;
        var cause = d == null ? Optional.<RuntimeException>empty() : d.failureCause();
        if (cause.isPresent() && cause.get() instanceof StorageException storage) {
            return Optional.of(storage);
        }
        return cause.map(c -> new StorageException("the changelog drainer of the runtime over " + wal.directory()
                + " failed: " + c + "; no change can be made durable any more", c));
    }

    /** Whether durable changes are replicated ({@link Builder#replicator}) before they are acknowledged. */
    public boolean isReplicated() {
        return replicator != null;
    }

    /**
     * What goes wrong with replication right now while the replicator retries (e.g. the brokers do
     * not answer: durable tasks wait and then fail after its ack timeout), or its failure for good;
     * empty while it works, and always empty without replication.
     */
    public Optional<String> replicationProblem() {
        return replicator == null ? Optional.empty() : replicator.problem();
    }

    /** The number of cores (the per-core WAL's). */
    public int cores() {
        return wal.cores();
    }

    /**
     * The core that owns {@code key}: the core whose range holds the key's key group
     * ({@link KeyGroups#coreOf}, the fixed hash of the format), the same in every JVM and every
     * version of this library. The key group of a key never changes; when the number of cores does,
     * a rescale ({@link io.laminar.storage.checkpoint.Rescaler}) moves whole key groups, and with them
     * the state of their keys, so a key's state is always on the core this returns.
     */
    public int coreOf(byte[] key) {
        return KeyGroups.coreOf(key, keyGroups(), wal.cores());
    }

    /** The core that owns {@code key} among {@code cores} cores and {@code keyGroups} key groups. */
    public static int coreOf(byte[] key, int keyGroups, int cores) {
        return KeyGroups.coreOf(key, keyGroups, cores);
    }

    /**
     * How many key groups keys are spread over (the WAL's {@link PerCoreWalManager#keyGroups()}).
     *
     * @throws IllegalStateException if the WAL was written before key groups (rescale it first)
     */
    public int keyGroups() {
        int keyGroups = wal.keyGroups();
        if (keyGroups == 0) {
            throw new IllegalStateException(legacyWal());
        }
        return keyGroups;
    }

    private String legacyWal() {
        return "the per-core WAL in " + wal.directory() + " was written before key groups existed: its keys are"
                + " placed by an older hash. Open it through io.laminar.storage.checkpoint.Rescaler (the Spring Boot"
                + " starter does), which re-places every key once";
    }

    /**
     * Runs {@code task} on core {@code core}'s thread after the tasks submitted to it before. The
     * future completes (on the core thread) with the task's result once it has run: its changes are
     * then visible to later tasks, but not yet durable. Waits while the core's queue is full.
     *
     * @throws IllegalArgumentException if there is no such core
     * @throws RejectedExecutionException if the queue is full and the caller is that core's own
     *                                    thread (it would wait for itself)
     * @return the task's future; failed with {@link IllegalStateException} if the runtime is not running
     */
    public <T> CompletableFuture<T> submit(int core, CoreTask<T> task) {
        return enqueue(core, task, false);
    }

    /**
     * As {@link #submit}, but the future completes only once every change the task made (and every
     * change before it on that core) is fsynced in the core's WAL; exceptionally if the WAL fails
     * first, with a {@link StorageException} that names the core and has as its cause what the WAL's
     * write or fdatasync threw ({@link PerCoreWalManager#failure}). Completed on the runtime's
     * acknowledger thread.
     */
    public <T> CompletableFuture<T> submitDurable(int core, CoreTask<T> task) {
        return enqueue(core, task, true);
    }

    private <T> CompletableFuture<T> enqueue(int core, CoreTask<T> work, boolean durable) {
        Objects.requireNonNull(work, "task");
        if (core < 0 || core >= wal.cores()) {
            throw new IllegalArgumentException("core must be between 0 and " + (wal.cores() - 1) + ", but was " + core);
        }
        // close() waits until no submitter is between the check of 'accepting' and its offer, so that
        // every task accepted here is run before the core threads stop.
        submitting.incrementAndGet();
        try {
            if (!accepting) {
                var died = failure;
                return CompletableFuture.failedFuture(died != null ? died : new IllegalStateException(
                        "the runtime over " + wal.directory() + " is " + state + ": it takes tasks only while running"));
            }
            var task = new Task<>(work, durable);
            offer(cores[core], task);
            return task.result;
        } finally {
            submitting.decrementAndGet();
        }
    }

    private void offer(Core core, Task<?> task) {
        while (!core.queue.offer(task)) {
            if (core.dead != null) {
                task.result.completeExceptionally(core.dead);
                return;
            }
            if (Thread.currentThread() == core.thread) {
                throw new RejectedExecutionException("the task queue of core " + core.index + " is full ("
                        + taskQueueCapacity + " tasks) and the task was submitted from that core's own thread, "
                        + "which would wait for itself; raise taskQueueCapacity or submit from another thread");
            }
            core.wake();
            LockSupport.parkNanos(50_000);
        }
        core.wake();
        if (core.dead != null) {
            core.failQueued(); // the thread died meanwhile: nobody else will run or fail the task
        }
    }

    /** Asks for a checkpoint now (see {@link StateCheckpointCoordinator#triggerCheckpoint()}). */
    public CompletableFuture<CheckpointManifest> triggerCheckpoint() {
        var c = coordinator;
        if (state != State.RUNNING || c == null) {
            return CompletableFuture.failedFuture(new IllegalStateException(
                    "the runtime over " + wal.directory() + " is " + state + ": checkpoints run only while it runs"));
        }
        return c.triggerCheckpoint();
    }

    /** Adds a listener of every checkpoint from now on (before or after start). */
    public void addCheckpointListener(CheckpointListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /** What the recovery did at {@link #start()}; empty before. */
    public Optional<RecoveryReport> recoveryReport() {
        return Optional.ofNullable(recoveryReport);
    }

    /** The source offsets of the checkpoint restored at start (empty if none, or before start). */
    public Map<String, ConnectorCheckpoint> recoveredSources() {
        return recoveredSources;
    }

    /** The per-core WAL. */
    public PerCoreWalManager wal() {
        return wal;
    }

    /** The checkpoint store. */
    public CheckpointStore store() {
        return store;
    }

    /** The changelog drainer. @throws IllegalStateException before {@link #start()} */
    public ChangelogDrainer drainer() {
        var d = drainer;
        if (d == null) {
            throw new IllegalStateException("the runtime over " + wal.directory() + " is not started");
        }
        return d;
    }

    /** The checkpoint coordinator. @throws IllegalStateException before {@link #start()} */
    public StateCheckpointCoordinator coordinator() {
        var c = coordinator;
        if (c == null) {
            throw new IllegalStateException("the runtime over " + wal.directory() + " is not started");
        }
        return c;
    }

    /**
     * Refuses new tasks, runs the queued ones, takes a final checkpoint if the builder asked for one,
     * waits until every change is durable, and stops the core threads, the checkpoints and the
     * drainer. Idempotent.
     *
     * @throws StorageException if changes could not be made durable (the WAL failed; its cause
     *                          says why); they were not acknowledged
     */
    @Override
    public void close() {
        var caller = Thread.currentThread();
        var running0 = cores;
        if (caller == acknowledgerThread || running0 != null && Arrays.stream(running0).anyMatch(c -> c.thread == caller)) {
            throw new IllegalStateException("close() was called on " + caller.getName() + ", a thread of the runtime, "
                    + "which close() waits for; call it from another thread");
        }
        synchronized (lifecycle) {
            if (state != State.RUNNING) {
                if (state == State.NEW) {
                    state = State.CLOSED;
                }
                return;
            }
            state = State.CLOSING;
            accepting = false;
            while (submitting.get() > 0) {
                Thread.onSpinWait();
            }
            var running = cores;
            // FIFO queues: a no-op behind each core's queued tasks completes once they have run.
            var drained = new ArrayList<CompletableFuture<?>>();
            for (var core : running) {
                var marker = new Task<>(context -> null, false);
                offer(core, marker);
                drained.add(marker.result);
            }
            for (int core = 0; core < running.length; core++) {
                awaitQuietly(drained.get(core), "the tasks queued on core " + core);
            }
            if (finalCheckpointOnClose && failure == null) {
                try {
                    var manifest = coordinator.triggerCheckpoint().get(CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                    log.info("final checkpoint {} taken on close", manifest.checkpointId());
                } catch (Exception e) {
                    log.warn("the final checkpoint on close failed; the next start recovers from the previous "
                            + "checkpoint and the WAL", e instanceof ExecutionException ? e.getCause() : e);
                }
            }
            coordinator.close();
            for (var core : running) {
                core.stop = true;
                LockSupport.unpark(core.thread);
            }
            for (var core : running) {
                Threads.joinUninterruptibly(core.thread);
            }
            StorageException notDurable = null;
            for (var core : running) {
                // read after join: the core thread is gone, its last count is visible
                long published = core.changelog.publishedChanges();
                try {
                    core.changelog.whenDurable(published).get(CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                } catch (ExecutionException | TimeoutException e) {
                    var cause = e instanceof ExecutionException ? e.getCause() : e;
                    if (notDurable == null) {
                        notDurable = new StorageException("closing the runtime over " + wal.directory()
                                + ": the changes of core " + core.index + " up to number " + published
                                + " could not be made durable (" + cause + "); they were not acknowledged", cause);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            drainer.close();
            acknowledger.shutdown();
            try {
                acknowledger.awaitTermination(CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            state = State.CLOSED;
            log.info("closed the runtime over {}", wal.directory());
            if (notDurable != null) {
                throw notDurable;
            }
        }
    }

    private static void awaitQuietly(CompletableFuture<?> future, String what) {
        try {
            future.get(CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            log.warn("closing: {} did not finish: {}", what, e.toString());
        }
    }

    /** One core: its thread, its store and its task queue. */
    private final class Core implements CoreContext, Runnable {
        final int index;
        final ChangelogAwareStateStore store;
        final CoreChangelog changelog;
        final MpscArrayQueue<Task<?>> queue;
        final Thread thread;
        final CompletableFuture<Void> initialized = new CompletableFuture<>();
        final Supplier<CutContext> cut;
        private final Backoff backoff = new Backoff(SPINS, YIELDS, PARK_NANOS); // core thread only
        volatile boolean parked;
        volatile boolean stop;
        volatile StorageException dead;
        private String lastPollFailure; // core thread only

        Core(int index, ChangelogAwareStateStore store, CoreChangelog changelog) {
            this.index = index;
            this.store = store;
            this.changelog = changelog;
            this.queue = new MpscArrayQueue<>(taskQueueCapacity);
            this.cut = () -> cutContext.cutContext(index, store);
            this.thread = Threads.daemon(String.format("laminar-core-%d", index), this);
        }

        @Override
        public int core() {
            return index;
        }

        @Override
        public ChangelogAwareStateStore store() {
            return store;
        }

        @Override
        public void run() {
            try {
                initializer.initialize(this);
                initialized.complete(null);
            } catch (Throwable e) {
                initialized.completeExceptionally(e);
                return;
            }
            try {
                while (true) {
                    pollCheckpoint();
                    if (queue.drain(this::runTask, DRAIN_LIMIT) > 0) {
                        backoff.reset();
                    } else if (stop) {
                        if (queue.isEmpty()) {
                            return;
                        }
                    } else {
                        idle();
                    }
                }
            } catch (Throwable e) {
                died(e);
            }
        }

        /** Fail-stop: the core's state may be half-changed in memory, so the runtime takes no more tasks. */
        private void died(Throwable cause) {
            var error = new StorageException("core " + index + "'s thread of the runtime over " + wal.directory()
                    + " died: " + cause + "; the runtime takes no more tasks. Close it and restart: recovery "
                    + "restores every durable change", cause);
            log.error("core {}'s thread died; the runtime takes no more tasks", index, cause);
            if (failure == null) {
                failure = error;
            }
            accepting = false;
            dead = error;
            failQueued();
        }

        /** Fails what is queued; once the thread is dead, any thread may call it. */
        synchronized void failQueued() {
            for (Task<?> task; (task = queue.poll()) != null; ) {
                task.result.completeExceptionally(dead);
            }
        }

        private void pollCheckpoint() {
            try {
                changelog.pollCheckpointWithContext(store, cut);
                lastPollFailure = null;
            } catch (RuntimeException e) {
                // The drainer failed, or the CutContextProvider threw: the checkpoint under way times
                // out naming this core (checkpoints fail, the health shows it). Say why once, not
                // every loop. An Error ends the thread instead (see died).
                if (!e.toString().equals(lastPollFailure)) {
                    lastPollFailure = e.toString();
                    log.warn("core {} could not place its checkpoint barrier", index, e);
                }
            }
        }

        private void runTask(Task<?> task) {
            task.run(this);
        }

        private void idle() {
            if (!backoff.spinOrYield()) {
                parked = true;
                if (queue.isEmpty() && !stop) {
                    LockSupport.parkNanos(backoff.parkNanos());
                }
                parked = false;
            }
        }

        void wake() {
            if (parked) {
                LockSupport.unpark(thread);
            }
        }
    }

    /** A submitted task and its future. */
    private final class Task<T> {
        final CoreTask<T> work;
        final boolean durable;
        final CompletableFuture<T> result = new CompletableFuture<>();

        Task(CoreTask<T> work, boolean durable) {
            this.work = work;
            this.durable = durable;
        }

        void run(Core core) {
            T value;
            try {
                value = work.run(core);
            } catch (Throwable e) {
                result.completeExceptionally(e);
                return;
            }
            if (!durable) {
                result.complete(value);
                return;
            }
            var stopped = failure().map(RuntimeException.class::cast);
            if (stopped.isPresent()) {
                // e.g. fenced: even a task that changed nothing must not be acknowledged as durable
                result.completeExceptionally(stopped.get());
                return;
            }
            core.changelog.whenDurable(core.changelog.publishedChanges()).whenCompleteAsync((change, failure) -> {
                if (failure != null) {
                    result.completeExceptionally(failure);
                } else {
                    result.complete(value);
                }
            }, acknowledger);
        }
    }

    /** Passes the coordinator's events on to the runtime's listeners (which may be added later). */
    private final class Forwarder implements CheckpointListener {
        @Override
        public void started(long checkpointId) {
            each(l -> l.started(checkpointId));
        }

        @Override
        public void step(long checkpointId, CheckpointStep step) {
            each(l -> l.step(checkpointId, step));
        }

        @Override
        public void completed(CheckpointManifest manifest, Duration duration, long writtenBytes) {
            each(l -> l.completed(manifest, duration, writtenBytes));
        }

        @Override
        public void publishedButNotCleanedUp(CheckpointManifest manifest, CheckpointStep step, Throwable cause) {
            fencedBy(cause);
            each(l -> l.publishedButNotCleanedUp(manifest, step, cause));
        }

        @Override
        public void failed(long checkpointId, Throwable cause) {
            fencedBy(cause);
            each(l -> l.failed(checkpointId, cause));
        }

        /** A newer owner fenced this one in the checkpoint store: the runtime fails, as when Kafka fences it. */
        private void fencedBy(Throwable cause) {
            if (cause instanceof FencedException fenced && failure == null) {
                log.error("the checkpoint store fenced this runtime: {}", fenced.getMessage());
                failure = fenced;
                accepting = false;
            }
        }

        private void each(Consumer<CheckpointListener> call) {
            for (var listener : listeners) {
                try {
                    call.accept(listener);
                } catch (RuntimeException e) {
                    log.warn("checkpoint listener {} threw", listener, e);
                }
            }
        }
    }

    /** Settings of a {@link LaminarRuntime}. Not thread-safe. */
    public static final class Builder {
        private final PerCoreWalManager wal;
        private final CheckpointStore store;
        private ChangelogOptions changelogOptions = ChangelogOptions.defaults();
        private final List<Consumer<StateCheckpointCoordinator.Builder>> checkpointCustomizers = new ArrayList<>();
        private CutContextProvider cutContext = CutContextProvider.NONE;
        private CoreInitializer initializer = CoreInitializer.NONE;
        private int taskQueueCapacity = 4096;
        private boolean finalCheckpointOnClose;
        private final List<CheckpointListener> listeners = new ArrayList<>();
        private RecoveryListener recoveryListener = RecoveryListener.NONE;
        private RecoveryOptions recoveryOptions = RecoveryOptions.DEFAULTS;
        private StatePlacement statePlacement =
                StatePlacement.BY_STORE_KEY;
        private ChangeReplicator replicator;
        private RecoveredState recovered;

        private Builder(PerCoreWalManager wal, CheckpointStore store) {
            this.wal = Objects.requireNonNull(wal, "wal");
            this.store = Objects.requireNonNull(store, "store");
        }

        /** The changelog queues' capacity, batch limit and overflow policy (barriers are always aligned). */
        public Builder changelogOptions(ChangelogOptions options) {
            this.changelogOptions = Objects.requireNonNull(options, "options");
            return this;
        }

        /**
         * Adjusts the checkpoint coordinator (interval, retention, sources, operators, listeners);
         * repeatable, applied in order. The runtime sets {@code resumeFrom} itself. Without an
         * interval, checkpoints run only when triggered.
         */
        public Builder checkpoints(Consumer<StateCheckpointCoordinator.Builder> customizer) {
            this.checkpointCustomizers.add(Objects.requireNonNull(customizer, "customizer"));
            return this;
        }

        /** What each core reports at its checkpoint cut (default: nothing). */
        public Builder cutContext(CutContextProvider provider) {
            this.cutContext = Objects.requireNonNull(provider, "provider");
            return this;
        }

        /** Runs on each core's thread after recovery, before any task (default: nothing). */
        public Builder onRecovered(CoreInitializer initializer) {
            this.initializer = Objects.requireNonNull(initializer, "initializer");
            return this;
        }

        /** The capacity of each core's task queue (default 4096; at least 2). */
        public Builder taskQueueCapacity(int capacity) {
            if (capacity < 2) {
                throw new IllegalArgumentException("taskQueueCapacity must be at least 2, but was " + capacity);
            }
            this.taskQueueCapacity = capacity;
            return this;
        }

        /** Whether {@link LaminarRuntime#close()} takes a last checkpoint (default false). */
        public Builder finalCheckpointOnClose(boolean enabled) {
            this.finalCheckpointOnClose = enabled;
            return this;
        }

        /** Adds a checkpoint listener; repeatable. */
        public Builder listener(CheckpointListener listener) {
            this.listeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        /** Hears the phases of the recovery {@link LaminarRuntime#start()} runs (default: nothing). */
        public Builder recoveryListener(RecoveryListener listener) {
            this.recoveryListener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** How the recovery {@link LaminarRuntime#start()} runs restores the checkpoint (default: {@link RecoveryOptions#DEFAULTS}). */
        public Builder recoveryOptions(RecoveryOptions options) {
            this.recoveryOptions = Objects.requireNonNull(options, "options");
            return this;
        }

        /**
         * The placement of the state's entries in key groups (default
         * {@link StatePlacement#BY_STORE_KEY}): the one the
         * {@link io.laminar.storage.checkpoint.Rescaler} was given. The recovery reads a rescale's
         * checkpoint (which references the older checkpoint's state files by key group) by it.
         */
        public Builder statePlacement(StatePlacement placement) {
            this.statePlacement = Objects.requireNonNull(placement, "placement");
            return this;
        }

        /**
         * Replicated durability: every durable change is also acknowledged by {@code replicator}
         * before its future completes, and a start on an empty directory takes the shard over from
         * the replicated log (see the class javadoc). The runtime opens the replicator in
         * {@link LaminarRuntime#start()}; the caller closes it after the runtime. Default: none.
         */
        public Builder replicator(ChangeReplicator replicator) {
            this.replicator = Objects.requireNonNull(replicator, "replicator");
            return this;
        }

        /**
         * The state the {@link io.laminar.storage.checkpoint.Rescaler} that opened the WAL recovered
         * and moved ({@code Rescaler.Opened.recovered()}; null: none): {@link #start()} starts from it
         * instead of reading the rescale's checkpoint back, if the WAL still holds exactly that
         * checkpoint's barriers and nothing after them (otherwise it recovers as usual). Its report
         * carries the rescale ({@link RecoveryReport#rescale()}). Not with a {@link #replicator}:
         * {@link #build()} refuses the combination (a replicated shard is rescaled by {@link #start()}
         * itself, after it owns the shard; open its WAL with {@code Rescaler.openReplicated}).
         */
        public Builder recovered(RecoveredState recovered) {
            this.recovered = recovered;
            return this;
        }

        /** The runtime, not started. */
        public LaminarRuntime build() {
            if (replicator != null && recovered != null) {
                // Rescaler.open publishes its checkpoint before this process owns the shard, with the old
                // replication positions and a new epoch that makes a takeover skip the replicated tail.
                throw new IllegalStateException("a runtime with a replicator cannot start from a rescaled state"
                        + " (Builder.recovered, from Rescaler.open): a replicated shard is rescaled by start() itself,"
                        + " after it owns the shard. Open the WAL of " + wal.directory() + " with"
                        + " Rescaler.openReplicated (any number of cores) and build the runtime without recovered(...)");
            }
            return new LaminarRuntime(this);
        }
    }
}

package io.laminar.storage.percore;

import io.laminar.storage.StorageException;
import io.laminar.storage.concurrent.Threads;
import io.laminar.storage.wal.WalFileNames;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalReader;
import io.laminar.storage.wal.WalRecord;
import io.laminar.storage.wal.WalStatistics;
import io.laminar.storage.wal.WriteAheadLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One write-ahead log per core in one directory, with a global epoch, durable acknowledgements by
 * per-core sequence number and a deterministic replay that merges the cores.
 *
 * <h2>Layout</h2>
 * Core {@code c}'s log is a {@link WriteAheadLog} named {@code core-0003} (four digits), so its
 * segments are {@code core-0003-<base position>.wal} and its lock file {@code core-0003.lock} (see
 * {@link WalFileNames}): the same record format, reader and recovery as any WAL. Every payload
 * starts with a 24-byte entry header (kind, epoch, sequence; documented byte by byte in
 * {@code CoreRecordFormat}).
 *
 * <h2>Key groups</h2>
 * The directory's {@link WalLayout} file records its number of cores and of key groups; it is
 * written when the directory is created, after every core's log exists. A directory is opened only
 * with the layout it recorded ({@link #keyGroups()}), and every core's log must be there. A directory
 * written before key groups existed (logs with records, no layout file) opens with
 * {@code keyGroups() == 0}: its keys were placed by an older hash, and the runtime refuses to serve
 * it until a rescale re-placed them ({@code io.laminar.storage.checkpoint.Rescaler}).
 *
 * <h2>Writing and epochs</h2>
 * Each core has one {@link CoreWalWriter}, used by exactly one thread. The global {@link #epoch()}
 * only grows; it is advanced by the {@link EpochCoordinator}. A core's owner notices an advance
 * on its next append (or {@link CoreWalWriter#pollEpoch()}) and writes a barrier record for the new
 * epoch itself; no other thread ever writes into a core's log. Epochs and sequences continue across
 * reopens: a core resumes after its last record, and the global epoch resumes at the highest epoch
 * found in any core's log.
 *
 * <h2>Durability</h2>
 * Each core's WAL has its own background syncer (group commit by default). Published per core:
 * {@link #durablePosition}, {@link #durableSequence} and {@link #whenDurable}; and overall:
 * {@link #durableEpoch()}, the highest epoch all of whose records are fsynced on every core (epoch
 * {@code e} is so on a core once a barrier for a later epoch is durable there).
 *
 * <h2>Replay</h2>
 * {@link #replay} visits the durable records from given per-core positions, epoch by epoch; within
 * an epoch core 0's records in sequence order, then core 1's, and so on. Nothing depends on clocks,
 * so every replay of the same logs visits the same records in the same order.
 * {@link #lastCompleteEpoch} gives the last epoch complete on every core, for a globally
 * consistent cut.
 *
 * <h2>Thread-safety</h2>
 * All methods of this class are thread-safe; each {@link CoreWalWriter} belongs to one thread.
 */
public final class PerCoreWalManager implements PerCoreWalView, AutoCloseable {

    private final Path directory;
    private final PerCoreWalOptions options;
    private final CoreState[] states;
    private final CoreWalWriter[] writers;
    private final ExecutorService completions;
    private final EpochCoordinator coordinator;
    private final java.util.List<PerCoreWalListener> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile long epoch;
    private volatile boolean closed;
    private volatile int keyGroups; // 0: a directory written before key groups

    private PerCoreWalManager(Path directory, PerCoreWalOptions options) {
        this.directory = directory;
        this.options = options;
        int cores = options.cores();
        this.states = new CoreState[cores];
        this.writers = new CoreWalWriter[cores];
        this.completions = Executors.newSingleThreadExecutor(Threads.daemonFactory("laminar-percore-acks"));
        this.coordinator = new EpochCoordinator(this);
    }

    /**
     * Opens (creating it if needed) the per-core WAL in {@code directory} and recovers every core's
     * log as {@link WriteAheadLog#open} does. A new core log starts with a first segment just large
     * enough for one entry ({@link PerCoreWalOptions#withSmallestSegments}) and goes on with
     * full-size ones, so that opening a new directory writes no full-size segment while it waits.
     *
     * @throws IllegalArgumentException if the directory holds the logs of a different number of cores
     * @throws StorageException         if a log cannot be opened or holds records it cannot have written
     */
    public static PerCoreWalManager open(Path directory, PerCoreWalOptions options) {
        var layout = WalLayout.read(directory);
        if (layout.isPresent()) {
            checkLayout(directory, layout.get(), options);
        } else {
            checkCoreCount(directory, options.cores());
        }
        var wal = new PerCoreWalManager(directory, options);
        try {
            // Highest core first: should the first open ever stop halfway, the directory still shows
            // the configured number of cores (the highest id) and the next open completes it.
            for (int core = options.cores() - 1; core >= 0; core--) {
                wal.openCore(core);
            }
        } catch (RuntimeException e) {
            wal.closeAfterFailedOpen(e);
            throw e;
        }
        long highest = 0;
        for (var state : wal.states) {
            highest = Math.max(highest, state.durableBarrierEpoch()); // each core's last epoch, as recovered
        }
        wal.epoch = highest;
        try {
            wal.keyGroups = layout.isPresent() ? layout.get().keyGroups() : wal.writeLayoutIfNew();
        } catch (RuntimeException e) {
            wal.closeAfterFailedOpen(e);
            throw e;
        }
        return wal;
    }

    /**
     * Writes the layout of a directory that has none: only if no core's log holds a record (a new
     * directory). Returns the key groups it now has, 0 for a directory written before key groups.
     */
    private int writeLayoutIfNew() {
        for (var state : states) {
            if (state.lastRecordPosition() >= 0 || state.wal.startPosition() != 0) {
                return 0;
            }
        }
        try {
            new WalLayout(cores(), options.keyGroups()).write(directory, options.wal().fileIO());
        } catch (IOException e) {
            throw new StorageException("cannot write the layout file " + directory.resolve(WalLayout.FILE_NAME)
                    + " of the new per-core WAL: " + e, e);
        }
        return options.keyGroups();
    }

    private static void checkLayout(Path directory, WalLayout layout, PerCoreWalOptions options) {
        if (layout.keyGroups() != options.keyGroups()) {
            throw new IllegalArgumentException("the per-core WAL in " + directory + " spreads its keys over "
                    + layout.keyGroups() + " key groups (its " + WalLayout.FILE_NAME + "), but the option keyGroups"
                    + " (laminar.storage.key-groups) is " + options.keyGroups() + ": the number of key groups is"
                    + " chosen once per directory and checkpoint store; set it back to " + layout.keyGroups());
        }
        if (layout.cores() != options.cores()) {
            throw new IllegalArgumentException("the per-core WAL in " + directory + " holds the logs of "
                    + layout.cores() + " cores (its " + WalLayout.FILE_NAME + "), but the option cores is "
                    + options.cores() + ": open it with cores(" + layout.cores() + "), or let the runtime rescale"
                    + " it to " + options.cores() + " cores (io.laminar.storage.checkpoint.Rescaler)");
        }
        var missing = new ArrayList<String>();
        var extra = new ArrayList<String>();
        try (var files = Files.list(directory)) {
            var present = new boolean[layout.cores()];
            for (var path : (Iterable<Path>) files::iterator) {
                var name = path.getFileName().toString();
                var walName = WalFileNames.logName(name);
                int core = walName.map(CoreRecordFormat::core).orElse(-1);
                if (core >= layout.cores()) {
                    extra.add(name);
                } else if (core >= 0) {
                    // A segment or the lock file: a log whose segments were deleted to start it at a
                    // checkpoint's position (adoptCheckpoint) keeps its lock file meanwhile.
                    present[core] = true;
                }
            }
            for (int core = 0; core < present.length; core++) {
                if (!present[core]) {
                    missing.add(CoreRecordFormat.walName(core));
                }
            }
        } catch (IOException e) {
            throw new StorageException("cannot list the per-core WAL directory " + directory + ": " + e, e);
        }
        if (!missing.isEmpty()) {
            throw new StorageException("the per-core WAL in " + directory + " was created with " + layout.cores()
                    + " cores (its " + WalLayout.FILE_NAME + "), but the logs of " + missing + " are missing (no"
                    + " segment or lock file): their records would be lost. Restore the missing files from a backup; opening"
                    + " would otherwise start those cores empty, so it is refused");
        }
        if (!extra.isEmpty()) {
            throw new StorageException("the per-core WAL in " + directory + " was created with " + layout.cores()
                    + " cores (its " + WalLayout.FILE_NAME + "), but it also holds files of other cores' logs: "
                    + extra + ". Move them away: they belong to another layout of this directory");
        }
    }

    /**
     * How many key groups this directory's keys are spread over (its {@link WalLayout}), or 0 for a
     * directory written before key groups, whose keys must be re-placed by a rescale before use.
     */
    @Override
    public int keyGroups() {
        return keyGroups;
    }

    private void openCore(int core) {
        var state = new CoreState(core, completions, listeners);
        var small = options.withSmallestSegments();
        if (small != options && !hasSegments(core)) {
            // A new log: its first segment only as large as one entry needs, as createAt makes, not
            // a full-size one written with zeros and synced while the open waits (tens of ms per
            // core; on an empty machine adoptCheckpoint then replaces it anyway). Opened again
            // below with the configured options, the log goes on with full-size segments.
            WriteAheadLog.create(directory, small.walOptions(core, io.laminar.storage.wal.WalListener.NONE), 0)
                    .close();
        }
        var log = WriteAheadLog.open(directory, options.walOptions(core, state));
        states[core] = state; // before anything can fail, so that a failed open closes this log too
        state.wal = log;
        var tail = recoverTail(core, log);
        state.recovered(log, tail.nextSequence, tail.epoch, tail.position);
        writers[core] = new CoreWalWriter(this, state, tail.nextSequence, tail.epoch);
    }

    /**
     * Adds a listener of every core's fdatasyncs and failures from now on (see
     * {@link PerCoreWalListener} for the threads it is called on and what it must not do).
     */
    public void addListener(PerCoreWalListener listener) {
        listeners.add(java.util.Objects.requireNonNull(listener, "listener"));
    }

    // ---- writing -----------------------------------------------------------------------------

    /** The writer of {@code core}; the first thread to use it becomes its only thread. */
    public CoreWalWriter writer(int core) {
        checkCore(core);
        checkOpen();
        return writers[core];
    }

    /** How many cores. */
    public int cores() {
        return states.length;
    }

    /** The global epoch: the epoch every core's next record belongs to, once its owner notices. */
    public long epoch() {
        return epoch;
    }

    long epochForWriters() {
        return epoch;
    }

    /** Advances the global epoch. Only the coordinator calls it, under its lock. */
    long advanceEpoch() {
        checkOpen();
        long next = epoch + 1;
        epoch = next;
        return next;
    }

    /** The coordinator of this WAL's checkpoints (one per WAL). */
    public EpochCoordinator epochCoordinator() {
        return coordinator;
    }

    // ---- durability --------------------------------------------------------------------------

    /** Every record of {@code core} before this position is fsynced. */
    public long durablePosition(int core) {
        checkCore(core);
        return states[core].wal.durablePosition();
    }

    /** {@link #durablePosition} of every core. */
    public CorePositions durablePositions() {
        var positions = new long[cores()];
        for (int core = 0; core < positions.length; core++) {
            positions[core] = states[core].wal.durablePosition();
        }
        return CorePositions.of(positions);
    }

    /**
     * Every record of {@code core} with a sequence up to this one is fsynced; -1 if none. Cheap and
     * allocation-free: the way for a busy owner to learn which of its entries are durable.
     */
    public long durableSequence(int core) {
        checkCore(core);
        return states[core].durableSequence();
    }

    /**
     * A future that completes with {@code sequence} once the record of {@code core} with that
     * sequence (and every earlier one) is fsynced, or exceptionally if the log fails or is closed
     * first. Completed on an internal thread, never on a writer or syncer.
     */
    public CompletableFuture<Long> whenDurable(int core, long sequence) {
        checkCore(core);
        checkOpen();
        return states[core].whenDurable(sequence);
    }

    /**
     * The highest epoch whose records are fsynced on every core: every core has a durable barrier
     * for a later epoch. -1 if there is none yet.
     */
    public long durableEpoch() {
        long lowest = Long.MAX_VALUE;
        for (var state : states) {
            lowest = Math.min(lowest, state.durableBarrierEpoch());
        }
        return lowest - 1;
    }

    /**
     * Whether {@code core}'s log has failed (a write or fdatasync threw): it refuses further
     * appends, and no record after its durable position will ever become durable.
     */
    public boolean isFailed(int core) {
        checkCore(core);
        return states[core].wal.isFailed();
    }

    /** Why {@code core}'s log failed ({@link WriteAheadLog#failure()}); empty while it has not. */
    public Optional<Throwable> failure(int core) {
        checkCore(core);
        return states[core].wal.failure();
    }

    /**
     * The segment file of {@code core}'s log that holds the record at {@code position}
     * ({@link WriteAheadLog#segmentFile}): what a message about that record names.
     */
    public Path segmentFile(int core, long position) {
        checkCore(core);
        return states[core].wal.segmentFile(position);
    }

    /**
     * The I/O backend {@code core}'s log writes with ({@link WriteAheadLog#ioBackend()}): the one the
     * options choose, or {@code file-channel} where an {@code -or-fallback} choice could not run it.
     * Every core's log is in one directory, so all cores report the same one.
     */
    public WalIoBackend ioBackend(int core) {
        checkCore(core);
        return states[core].wal.ioBackend();
    }

    /** Live counters of {@code core}'s log. */
    public WalStatistics statistics(int core) {
        checkCore(core);
        return states[core].wal.statistics();
    }

    // ---- truncation --------------------------------------------------------------------------

    /** The position of the oldest record still in each core's log. */
    public CorePositions startPositions() {
        var positions = new long[cores()];
        for (int core = 0; core < positions.length; core++) {
            positions[core] = states[core].wal.startPosition();
        }
        return CorePositions.of(positions);
    }

    /**
     * Deletes, core by core, the segments that lie entirely before the given position (as
     * {@link WriteAheadLog#truncateBefore} does): what a completed checkpoint calls with its
     * {@link PreparedCheckpoint#replayFrom()}. Every position is checked before anything is deleted.
     *
     * @return how many segments were deleted
     * @throws IllegalArgumentException if the positions are for another number of cores, or a
     *                                  position lies past a core's last record (the last record must
     *                                  stay: it is where the core's epoch and sequence continue from)
     */
    public int truncateBefore(CorePositions positions) {
        checkOpen();
        checkCores(positions, "positions");
        for (int core = 0; core < cores(); core++) {
            long position = positions.position(core);
            long keep = Math.max(states[core].lastRecordPosition(), states[core].wal.startPosition());
            if (position > keep) {
                throw new IllegalArgumentException("cannot truncate core " + core + " before position " + position
                        + ": its last record is at " + keep + " and must stay, because the core's epoch and "
                        + "sequence continue from it after a reopen; truncate to the positions of a prepared "
                        + "checkpoint");
            }
        }
        int deleted = 0;
        for (int core = 0; core < cores(); core++) {
            deleted += states[core].wal.truncateBefore(positions.position(core));
        }
        return deleted;
    }

    // ---- continuing from a checkpoint taken elsewhere ----------------------------------------

    /**
     * Whether the record of {@code core} at {@code position} is a durable barrier of
     * {@code barrierEpoch}: what every checkpoint's WAL position of a core is, in the WAL it was
     * taken with. False if no durable record starts there, or it is another record. Any thread.
     *
     * <p>Recovery checks it so that a checkpoint taken with another WAL (another machine's, which
     * issued the same positions to other records) is never replayed against this one.
     */
    public boolean isBarrierAt(int core, long position, long barrierEpoch) {
        checkCore(core);
        checkOpen();
        var log = states[core].wal;
        if (position < log.startPosition() || position >= log.durablePosition()) {
            return false;
        }
        WalReader reader;
        try {
            reader = log.reader(position);
        } catch (IllegalArgumentException e) {
            return false; // no record starts there
        }
        try (reader) {
            var record = reader.next();
            if (record == null || record.position() != position) {
                return false;
            }
            var entry = decode(core, record);
            return entry.kind() == RecordKind.BARRIER && entry.epoch() == barrierEpoch;
        } catch (StorageException | IllegalArgumentException e) {
            return false; // damaged, or the position lies inside a record
        }
    }

    /**
     * Whether this WAL has no history of its own, so that it may continue from a checkpoint with
     * these per-core positions and this epoch ({@link #adoptCheckpoint}): on every core, the log
     * holds no record and starts at or before the checkpoint's position, or it holds exactly one
     * record, the barrier of {@code checkpointEpoch} at that position (an adoption a crash
     * interrupted, or one that completed with nothing written since).
     */
    public boolean canAdopt(CorePositions positions, long checkpointEpoch) {
        checkOpen();
        checkCores(positions, "positions");
        for (int core = 0; core < cores(); core++) {
            var log = states[core].wal;
            long position = positions.position(core);
            long last = states[core].lastRecordPosition();
            boolean empty = last < 0 && log.startPosition() == log.writtenPosition();
            boolean adopted = last == position && log.startPosition() == position
                    && isBarrierAt(core, position, checkpointEpoch);
            if (!(empty && log.startPosition() <= position) && !adopted) {
                return false;
            }
        }
        return true;
    }

    /**
     * Makes a WAL with no history of its own (see {@link #canAdopt}) continue from a checkpoint
     * taken with another WAL, typically on another machine: restoring a checkpoint from an object
     * store into a new, empty data directory.
     *
     * <p>Each core's log is made to start at the checkpoint's position of that core (if it started
     * before it, it held no record and is created anew there, with a first segment only as large as
     * one entry needs, as {@link #createAt} makes) and gets one durable record
     * there, the barrier of {@code checkpointEpoch}, exactly as the WAL the checkpoint was taken
     * with had at that position. So positions never go backwards: every later record, barrier and
     * checkpoint of this WAL lies beyond the adopted checkpoint's positions, and the global epoch
     * continues from the checkpoint's, as if the checkpoint had been taken with this WAL. Records
     * that the other WAL held beyond those positions are not here: whoever adopts a checkpoint
     * restores its state and resumes sources from its offsets.
     *
     * <p>Crash-safe: a crash part-way leaves every core either untouched (empty), or empty at the
     * checkpoint's position, or holding just the barrier, and the next recovery adopts again. Call
     * it before any writer is used (recovery does). If it throws, close this WAL and open it again.
     *
     * @throws IllegalStateException    if a writer has been used, or the WAL has a history of its own
     * @throws IllegalArgumentException if the positions are for another number of cores
     * @throws StorageException         if a log cannot be recreated or the barrier cannot be made durable
     */
    public synchronized void adoptCheckpoint(CorePositions positions, long checkpointEpoch) {
        checkOpen();
        checkCores(positions, "positions");
        for (int core = 0; core < cores(); core++) {
            if (writers[core].isUsed()) {
                throw new IllegalStateException("cannot adopt a checkpoint into the per-core WAL in " + directory
                        + ": the writer of core " + core + " is already in use; adopt before anything is written");
            }
        }
        if (!canAdopt(positions, checkpointEpoch)) {
            throw new IllegalStateException("cannot adopt a checkpoint at " + positions + " (epoch " + checkpointEpoch
                    + ") into the per-core WAL in " + directory + ": it holds records of its own (from "
                    + startPositions() + "), which recovery must replay, or starts beyond those positions");
        }
        for (int core = 0; core < cores(); core++) {
            long position = positions.position(core);
            if (states[core].lastRecordPosition() != position) { // else the barrier is there already
                adoptCore(core, position, checkpointEpoch);
            }
        }
        long highest = epoch;
        for (var state : states) {
            highest = Math.max(highest, state.durableBarrierEpoch());
        }
        epoch = highest;
    }

    /**
     * Creates a new per-core WAL in {@code directory} (which must hold no core's log) whose core
     * {@code c}'s log starts at {@code positions.position(c)} with the durable barrier of
     * {@code epoch}, then writes its {@link WalLayout}: what {@link #adoptCheckpoint} makes of an
     * empty WAL, without first creating the logs at 0. For a rescale's new layout. Not opened: open
     * it with {@link #open}.
     *
     * @throws IllegalStateException if the directory holds a core's log already
     * @throws StorageException      if a log, its barrier or the layout cannot be written
     */
    public static void createAt(Path directory, PerCoreWalOptions options, CorePositions positions, long epoch) {
        if (positions.cores() != options.cores()) {
            throw new IllegalArgumentException("positions has positions for " + positions.cores()
                    + " cores, but the option cores is " + options.cores());
        }
        try {
            if (WalLayout.holdsCoreLogs(directory)) {
                throw new IllegalStateException("cannot create a per-core WAL in " + directory
                        + ": it holds a core's log already");
            }
        } catch (IOException e) {
            throw new StorageException("cannot list " + directory + ": " + e, e);
        }
        for (int core = options.cores() - 1; core >= 0; core--) {
            try (var log = WriteAheadLog.create(directory, options.walOptions(core, io.laminar.storage.wal.WalListener.NONE),
                    positions.position(core))) {
                var barrier = java.nio.ByteBuffer.allocate(CoreRecordFormat.HEADER_LENGTH)
                        .order(java.nio.ByteOrder.LITTLE_ENDIAN);
                CoreRecordFormat.putHeader(barrier, RecordKind.BARRIER, core, epoch, 0);
                long at = log.appendDurable(barrier).join();
                if (at != positions.position(core)) {
                    throw new StorageException("creating the log of core " + core + " in " + directory
                            + ": its barrier landed at position " + at + " instead of " + positions.position(core));
                }
            } catch (java.util.concurrent.CompletionException e) {
                throw new StorageException("cannot make the first barrier of core " + core + " durable in "
                        + directory + ": " + e.getCause(), e.getCause());
            }
        }
        try {
            new WalLayout(options.cores(), options.keyGroups()).write(directory, options.fileIO());
        } catch (IOException e) {
            throw new StorageException("cannot write the layout file " + directory.resolve(WalLayout.FILE_NAME)
                    + " of the new per-core WAL: " + e, e);
        }
    }

    private void adoptCore(int core, long position, long checkpointEpoch) {
        var log = states[core].wal;
        long start = log.startPosition();
        log.close();
        WriteAheadLog fresh;
        if (start != position) {
            deleteSegments(core); // they hold no record
            // A first segment just large enough for the barrier, as createAt makes: a full-size one
            // (and its spare) would be written and synced a second time on a restore into an empty
            // directory. The log goes on with full-size segments once it is opened again below.
            fresh = WriteAheadLog.create(directory, options.withSmallestSegments().walOptions(core,
                    io.laminar.storage.wal.WalListener.NONE), position);
        } else {
            fresh = WriteAheadLog.open(directory, options.walOptions(core, io.laminar.storage.wal.WalListener.NONE));
        }
        try (fresh) {
            var barrier = java.nio.ByteBuffer.allocate(CoreRecordFormat.HEADER_LENGTH)
                    .order(java.nio.ByteOrder.LITTLE_ENDIAN);
            CoreRecordFormat.putHeader(barrier, RecordKind.BARRIER, core, checkpointEpoch, 0);
            long at = fresh.appendDurable(barrier).join();
            if (at != position) {
                throw new StorageException("adopting a checkpoint: the barrier of core " + core + " landed at position "
                        + at + " instead of " + position + " in " + directory);
            }
        } catch (java.util.concurrent.CompletionException e) {
            throw new StorageException("cannot make the adopted checkpoint's barrier of core " + core + " durable in "
                    + directory + ": " + e.getCause(), e.getCause());
        }
        openCore(core); // recovers the log as any open does: its tail is the barrier
    }

    /** Whether core {@code core}'s log has a segment file in the directory. */
    private boolean hasSegments(int core) {
        var walName = CoreRecordFormat.walName(core);
        try (var files = Files.list(directory)) {
            return files.anyMatch(path -> WalFileNames.segmentBase(walName, path.getFileName().toString()) >= 0);
        } catch (IOException e) {
            return false; // no directory, or not one: opening the log reports it, as for any open
        }
    }

    private void deleteSegments(int core) {
        var walName = CoreRecordFormat.walName(core);
        var io = options.wal().fileIO();
        try (var files = Files.list(directory)) {
            for (var path : (Iterable<Path>) files::iterator) {
                if (WalFileNames.segmentBase(walName, path.getFileName().toString()) >= 0) {
                    io.deleteIfExists(path);
                }
            }
            io.syncDirectory(directory);
        } catch (IOException e) {
            throw new StorageException("cannot delete the empty log of core " + core + " in " + directory
                    + " to start it at a checkpoint's position: " + e, e);
        }
    }

    // ---- replay ------------------------------------------------------------------------------

    /** {@link #replay(CorePositions, long, Consumer)} of every durable record. */
    public ReplayResult replay(CorePositions from, Consumer<CoreRecord> visitor) {
        return replay(from, Long.MAX_VALUE, visitor);
    }

    /**
     * Passes the durable records (data and barriers) of every core from {@code from} to
     * {@code visitor}, in a deterministic order: epoch by epoch, up to and including
     * {@code throughEpoch}; within an epoch core 0's records in sequence order, then core 1's, and
     * so on. Records that become durable while the replay runs are not visited. Each record's body
     * is valid only during the call.
     *
     * @throws IllegalArgumentException if {@code from} is for another number of cores, or a
     *                                  position is not a record of that core's log
     * @throws StorageException         if a log holds a damaged or inconsistent record
     */
    public ReplayResult replay(CorePositions from, long throughEpoch, Consumer<CoreRecord> visitor) {
        checkOpen();
        checkCores(from, "from");
        var cursors = openCursors(from);
        try {
            return CoreCursor.merge(cursors, throughEpoch, visitor);
        } finally {
            CoreCursor.closeAll(cursors);
        }
    }

    /**
     * The last epoch complete on every core among the durable records from {@code from}: epoch
     * {@code e} is complete on a core when a barrier for a later epoch follows it in that core's
     * log (from {@code from} on, a core's first record tells which epoch it was in). Replaying
     * through this epoch gives a globally consistent cut. -1 if some core has no durable record
     * from {@code from}, so nothing is known to be complete. Reads the logs once.
     */
    public long lastCompleteEpoch(CorePositions from) {
        checkOpen();
        checkCores(from, "from");
        var cursors = openCursors(from);
        try {
            long complete = Long.MAX_VALUE;
            for (var cursor : cursors) {
                long highest = -1;
                for (; cursor.head != null; cursor.advance()) {
                    highest = cursor.head.epoch(); // epochs never decrease within a core's log
                }
                complete = Math.min(complete, highest < 0 ? -1 : highest - 1);
            }
            return complete;
        } finally {
            CoreCursor.closeAll(cursors);
        }
    }

    private CoreCursor[] openCursors(CorePositions from) {
        var cursors = new CoreCursor[cores()];
        try {
            for (int core = 0; core < cursors.length; core++) {
                var log = states[core].wal;
                cursors[core] = new CoreCursor(directory, core, CoreCursor.Source.of(log.reader(from.position(core))),
                        log.durablePosition());
                cursors[core].advance();
            }
        } catch (RuntimeException e) {
            CoreCursor.closeAll(cursors);
            throw e;
        }
        return cursors;
    }

    private CoreRecord decode(int core, WalRecord record) {
        return CoreCursor.decode(directory, core, record);
    }

    /**
     * The core whose log has WAL name {@code walName} ({@code core-0003}: 3), or -1 if the name is
     * no core's. For tools that look at a directory without opening it. Stateless; thread-safe.
     */
    public static int coreOfLog(String walName) {
        return CoreRecordFormat.core(walName);
    }

    /** The WAL name of core {@code core}'s log, {@code core-0003}. Stateless; thread-safe. */
    public static String logName(int core) {
        return CoreRecordFormat.walName(core);
    }

    /**
     * Decodes a record read from core {@code core}'s log (for example through
     * {@link io.laminar.storage.wal.WalInspection#forEachRecord}) as replay does. The body is a view
     * valid as long as the record's payload. Stateless; thread-safe.
     *
     * @throws IllegalArgumentException saying what is wrong if the payload is not a valid per-core entry of that core
     */
    public static CoreRecord decodeRecord(int core, WalRecord record) {
        var problem = CoreRecordFormat.check(record.payload(), core);
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        return decodeChecked(core, record);
    }

    private static CoreRecord decodeChecked(int core, WalRecord record) {
        var payload = record.payload();
        return new CoreRecord(core, CoreRecordFormat.kind(payload), CoreRecordFormat.epoch(payload),
                CoreRecordFormat.sequence(payload), record.position(), record.nextPosition(),
                CoreRecordFormat.body(payload));
    }

    // ---- opening -----------------------------------------------------------------------------

    /** Where a core's log stopped: its next sequence, its epoch and its last record's position (-1: none). */
    private record Tail(long nextSequence, long epoch, long position) {
    }

    /**
     * Finds a core's last record. Segment bases (in the file names) are record boundaries, so it
     * reads only the newest segment that holds a record rather than the whole log.
     */
    private Tail recoverTail(int core, WriteAheadLog log) {
        long start = log.startPosition();
        long written = log.writtenPosition();
        var bases = new ArrayList<Long>();
        var walName = CoreRecordFormat.walName(core);
        try (var files = Files.list(directory)) {
            files.mapToLong(p -> WalFileNames.segmentBase(walName, p.getFileName().toString()))
                    .filter(base -> base >= 0 && base >= start && base <= written)
                    .forEach(bases::add);
        } catch (IOException e) {
            bases.clear(); // the full scan below finds the same tail, only slower
        }
        bases.sort(Comparator.reverseOrder());
        bases.add(start);
        for (long base : bases) {
            Tail tail = lastRecordFrom(core, log, base);
            if (tail != null) {
                return tail;
            }
        }
        return new Tail(0, 0, -1);
    }

    private Tail lastRecordFrom(int core, WriteAheadLog log, long from) {
        WalReader reader;
        try {
            reader = log.reader(from);
        } catch (IllegalArgumentException e) {
            return null; // not a record boundary after all: an older base (or the start) will do
        }
        try (reader) {
            var cursor = new CoreCursor(directory, core, CoreCursor.Source.of(reader), log.writtenPosition());
            CoreRecord last = null;
            for (cursor.advance(); cursor.head != null; cursor.advance()) {
                last = cursor.head;
            }
            return last == null ? null : new Tail(last.sequence() + 1, last.epoch(), last.position());
        }
    }

    private static void checkCoreCount(Path directory, int cores) {
        int highest = -1;
        if (Files.isDirectory(directory)) {
            try (var files = Files.list(directory)) {
                for (var path : (Iterable<Path>) files::iterator) {
                    // A segment or lock file of a core's log; .dropped and temporary files do not count.
                    var walName = WalFileNames.logName(path.getFileName().toString());
                    highest = Math.max(highest, walName.map(CoreRecordFormat::core).orElse(-1));
                }
            } catch (IOException e) {
                throw new StorageException("cannot list the per-core WAL directory " + directory + ": " + e, e);
            }
        }
        if (highest >= 0 && highest + 1 != cores) {
            throw new IllegalArgumentException("the directory " + directory + " holds the logs of " + (highest + 1)
                    + " cores (core-0000 to " + CoreRecordFormat.walName(highest) + "), but the option cores is "
                    + cores + ": records are partitioned by core, so open it with cores(" + (highest + 1) + ")");
        }
    }

    // ---- lifecycle ---------------------------------------------------------------------------

    /** The directory of the logs. */
    public Path directory() {
        return directory;
    }

    /** The options the WAL was opened with. */
    public PerCoreWalOptions options() {
        return options;
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the per-core WAL in " + directory + " is closed");
        }
    }

    CoreState state(int core) {
        return states[core];
    }

    private void checkCore(int core) {
        if (core < 0 || core >= states.length) {
            throw new IllegalArgumentException("core " + core + " does not exist: cores is " + states.length
                    + ", so core ids are 0 to " + (states.length - 1));
        }
    }

    private void checkCores(CorePositions positions, String what) {
        if (positions.cores() != cores()) {
            throw new IllegalArgumentException(what + " has positions for " + positions.cores()
                    + " cores, but this per-core WAL has " + cores() + " (the option cores)");
        }
    }

    /**
     * Syncs and closes every core's log, completes the acknowledgements that became durable and
     * fails the rest. Writers must have stopped; their appends fail from now on. Idempotent.
     *
     * @throws StorageException if a log's final sync fails (after every log was closed)
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException error = null;
        for (var state : states) {
            if (state != null && state.wal != null) {
                try {
                    state.wal.close();
                } catch (RuntimeException e) {
                    if (error == null) {
                        error = e;
                    } else {
                        error.addSuppressed(e);
                    }
                }
            }
        }
        var closedError = new IllegalStateException("the per-core WAL in " + directory + " was closed");
        completions.shutdown();
        try {
            completions.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (var state : states) {
            if (state != null) {
                state.closeWaiters(closedError);
            }
        }
        if (error != null) {
            throw error;
        }
    }

    private void closeAfterFailedOpen(RuntimeException cause) {
        try {
            close();
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
        }
    }
}

package io.laminar.storage.checkpoint;

/**
 * Hears the phases of a recovery that a {@link RecoveryManager} runs, for tracing and progress
 * reports: each checkpoint it tries (reading its manifest and downloading and checking its state
 * files), then the replay of the WAL. Every method has an empty default.
 *
 * <p>Called on the thread that calls {@link RecoveryManager#recover()} (under a
 * {@link io.laminar.storage.runtime.LaminarRuntime}, the one calling {@code start()}), in this
 * order: {@link #started}; for each checkpoint tried, newest first, {@link #restoreStarted} then
 * {@link #restoreEnded}; {@link #replayStarted} and {@link #replayEnded} unless recovery stopped
 * before; then {@link #completed} or {@link #failed}. While a checkpoint's files are restored and while
 * the WAL is replayed, {@link #progress} comes every {@link RecoveryOptions#progressInterval()} (5 s
 * by default) and once at the end of the phase. An exception a listener throws is logged and
 * ignored. Return quickly: recovery waits (the parallel downloads go on meanwhile).
 */
public interface RecoveryListener {

    /** A listener that does nothing. */
    RecoveryListener NONE = new RecoveryListener() {
    };

    /** Recovery started: nothing was read yet. */
    default void started() {
    }

    /** Checkpoint {@code checkpointId} is tried: its manifest is read, its state files downloaded and checked. */
    default void restoreStarted(long checkpointId) {
    }

    /**
     * Trying checkpoint {@code checkpointId} ended.
     *
     * @param skipReason null if the checkpoint was restored; otherwise why it was skipped (the
     *                   reason a {@link SkippedCheckpoint} records), or why the store could not be
     *                   read (recovery then fails)
     */
    default void restoreEnded(long checkpointId, String skipReason) {
    }

    /**
     * The replay of the WAL starts, onto the restored checkpoint or, with {@code checkpointId} null,
     * onto an empty state (recovery from the WAL alone).
     */
    default void replayStarted(Long checkpointId) {
    }

    /**
     * How far the recovery is: bytes and files done of the total, the rate and the time left. Comes
     * every {@link RecoveryOptions#progressInterval()} while state files are restored (between
     * {@link #restoreStarted} and {@link #restoreEnded}; a checkpoint that is skipped may end before
     * its files are all read) and while the WAL is replayed (between {@link #replayStarted} and
     * {@link #replayEnded}), and once more when the phase has read everything.
     */
    default void progress(RecoveryProgress progress) {
    }

    /** The replay ended, having replayed {@code records} data records in {@code bytes} bytes of WAL. */
    default void replayEnded(long records, long bytes) {
    }

    /** Recovery completed with {@code report}. */
    default void completed(RecoveryReport report) {
    }

    /** Recovery failed with {@code cause} (it is thrown to the caller of {@code recover()} too). */
    default void failed(Throwable cause) {
    }
}

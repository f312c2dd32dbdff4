package io.laminar.storage.wal;

import java.nio.file.Path;

/**
 * Callbacks from a {@link WriteAheadLog}, for metrics and logging. Every method has an empty
 * default.
 *
 * <p>Methods are called on whichever thread syncs or fails the log: usually its syncer thread,
 * sometimes an appending thread (under {@link SyncPolicy.EveryAppend}, or one helping to write out
 * a full buffer). {@link #onSync} calls never overlap: they happen one at a time, under the log's
 * sync lock. Methods must be fast and must not call back into the log.
 */
public interface WalListener {

    /** A listener that does nothing. */
    WalListener NONE = new WalListener() {
    };

    /**
     * An fdatasync made {@code records} records ({@code bytes} bytes of frames) durable. Called
     * before the new durable position is published, so anyone who sees those records acknowledged
     * also sees this call's effects.
     */
    default void onSync(int records, long bytes, long nanos) {
    }

    /** {@code open} cut a torn tail off {@code segment} at {@code fileOffset}. */
    default void onTornTailTruncated(Path segment, long fileOffset, long bytes) {
    }

    /** The log failed and will refuse every further write. */
    default void onFailure(Throwable cause) {
    }
}

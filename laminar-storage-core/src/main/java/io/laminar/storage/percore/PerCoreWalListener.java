package io.laminar.storage.percore;

/**
 * Hears the fdatasyncs and failures of the logs of a {@link PerCoreWalManager}, for metrics and
 * health (added with {@link PerCoreWalManager#addListener}). Every method has an empty default.
 *
 * <p>{@link #onSync} is called on the thread that synced the core's log (its syncer thread, or an
 * appending thread under {@code SyncPolicy.everyAppend()}), one call at a time per core, under the
 * log's sync lock and before the durable position is published: it adds to the latency of every
 * durable acknowledgement, so it must be fast (record a timer, bump a counter) and must not block
 * or call back into the WAL. {@link #onFailure} is called on the manager's
 * {@code laminar-percore-acks} thread, not on the failing one, and may take its time. An exception
 * a listener throws is ignored.
 */
public interface PerCoreWalListener {

    /** An fdatasync of core {@code core}'s log made {@code records} records ({@code bytes} bytes) durable in {@code nanos}. */
    default void onSync(int core, int records, long bytes, long nanos) {
    }

    /** Core {@code core}'s log failed (a write or fdatasync threw) and refuses every further write. */
    default void onFailure(int core, Throwable cause) {
    }
}

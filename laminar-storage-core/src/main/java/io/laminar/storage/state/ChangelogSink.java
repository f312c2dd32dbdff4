package io.laminar.storage.state;

/**
 * Where a {@link ChangelogAwareStateStore} publishes every change it makes, in the order it makes
 * them; typically the changelog drainer's queue towards the per-core write-ahead log.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>The arrays passed in are valid only during the call: the caller may reuse or overwrite them
 *       right after. A sink copies what it needs before it returns.</li>
 *   <li>An entry must be replayable on its own: it holds the key bytes and, for a put, the value
 *       bytes themselves. Never log a hash of the key, an offset into memory or a file, or a
 *       reference to the store's arrays: the Rust original logged a key hash and an mmap offset, and
 *       nothing can be rebuilt from those after a crash.</li>
 *   <li>Replaying the entries in order on the state the store started from (empty, or a restored
 *       snapshot) must give the store's state: see {@link ChangelogAwareStateStore#replayer()}.</li>
 *   <li>If a method throws, the store does not apply the change, so state and changelog agree.</li>
 *   <li>It is called on the store's (core) thread and should not block: it sits on the put path.</li>
 * </ul>
 */
public interface ChangelogSink {

    /** A sink that drops every change, for stores whose changes need not be logged. */
    ChangelogSink NONE = new ChangelogSink() {
        @Override
        public void onPut(byte[] key, byte[] value) {
        }

        @Override
        public void onDelete(byte[] key) {
        }

        @Override
        public void onClear() {
        }
    };

    /** {@code key} now maps to {@code value}. */
    void onPut(byte[] key, byte[] value);

    /** {@code key} was removed (only called for keys that were present). */
    void onDelete(byte[] key);

    /** Every key was removed. */
    void onClear();
}

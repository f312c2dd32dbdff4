package io.laminar.storage.runtime;

import io.laminar.storage.state.ChangelogAwareStateStore;

/**
 * What a {@link CoreTask} or a {@link CoreInitializer} works with: its core and that core's state
 * store. Valid on the core's thread only, for the duration of the call.
 */
public interface CoreContext {

    /** The core, from 0 to {@code cores() - 1}. */
    int core();

    /** The core's state store: every change made to it is logged to the core's WAL. */
    ChangelogAwareStateStore store();
}

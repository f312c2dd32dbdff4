package io.laminar.storage.runtime;

import io.laminar.storage.changelog.CutContext;
import io.laminar.storage.state.StateStore;

/**
 * What a core reports at its checkpoint cut besides its state: source offsets, watermark and small
 * operator states. Called on the core's thread, between two tasks, exactly at the cut, so what it
 * returns is consistent with the state snapshot of the checkpoint.
 */
@FunctionalInterface
public interface CutContextProvider {

    /** Reports nothing. */
    CutContextProvider NONE = (core, store) -> CutContext.EMPTY;

    /** The core's context at the cut; {@code store} holds the core's state at the cut (read only). */
    CutContext cutContext(int core, StateStore store);
}

package io.laminar.storage.runtime;

/**
 * Runs once per core on the core's thread after recovery and before the core runs any task: the
 * place to finish work a crash interrupted (the core's store holds the recovered state). Changes it
 * makes are logged like any other. An exception fails {@link LaminarRuntime#start()}.
 */
@FunctionalInterface
public interface CoreInitializer {

    /** Does nothing. */
    CoreInitializer NONE = context -> { };

    void initialize(CoreContext context) throws Exception;
}

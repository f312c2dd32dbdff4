package io.laminar.storage.runtime;

/**
 * Work for one core: runs on that core's thread, with that core's state store, and must not block
 * (it holds up every other task of the core and the core's checkpoint barrier).
 *
 * @param <T> what the task returns
 */
@FunctionalInterface
public interface CoreTask<T> {

    /** Runs the task; an exception fails the task's future (changes made before it stay made). */
    T run(CoreContext context) throws Exception;
}

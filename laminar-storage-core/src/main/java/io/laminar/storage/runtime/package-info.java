/**
 * The hot per-core threads ("Ring 0") put together with the durability machinery: a
 * {@link io.laminar.storage.runtime.LaminarRuntime} recovers the state of every core, runs one thread
 * per core that owns that core's state store and runs the tasks handed to it, drains the changes
 * into the per-core WAL and takes checkpoints. What the Spring Boot starter runs.
 *
 * <p>The top of the core: it may depend on every other package of it, on JCTools (the task queues
 * of the core threads) and the JDK; nothing in the core depends on it.
 */
package io.laminar.storage.runtime;

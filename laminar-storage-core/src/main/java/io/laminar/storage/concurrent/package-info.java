/**
 * The thread plumbing shared by the other packages: daemon threads and their factories, joining a
 * thread whatever interrupts arrive meanwhile ({@link io.laminar.storage.concurrent.Threads}), and
 * the spin, yield, park back-off of the polling loops ({@link io.laminar.storage.concurrent.Backoff}).
 * Depends on nothing but the JDK; every other package may use it.
 */
package io.laminar.storage.concurrent;

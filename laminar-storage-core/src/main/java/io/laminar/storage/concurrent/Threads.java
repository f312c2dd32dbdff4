package io.laminar.storage.concurrent;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Making the library's daemon threads and waiting for them to end.
 *
 * <p>The threads are plain {@code new Thread(task, name)} with the daemon flag set: the same group,
 * priority, context class loader and inheritable thread-locals as the thread that makes them, and no
 * uncaught-exception handler of their own (the JVM's default handler reports what escapes a task).
 *
 * <p>Thread-safety: every method may be called from any thread; the factories are thread-safe.
 */
public final class Threads {

    private Threads() {
    }

    /** A new, unstarted daemon thread named {@code name} that runs {@code task}. */
    public static Thread daemon(String name, Runnable task) {
        var thread = new Thread(task, name);
        thread.setDaemon(true);
        return thread;
    }

    /**
     * A factory of daemon threads all named {@code name}, for a single-thread executor (a thread that
     * replaces one whose task threw gets the same name).
     */
    public static ThreadFactory daemonFactory(String name) {
        return task -> daemon(name, task);
    }

    /** A factory of daemon threads named {@code prefix + 1}, {@code prefix + 2}, ... in the order made. */
    public static ThreadFactory numberedDaemonFactory(String prefix) {
        var made = new AtomicInteger();
        return task -> daemon(prefix + made.incrementAndGet(), task);
    }

    /**
     * Waits, with no timeout, until {@code thread} has ended, however often the caller is interrupted
     * meanwhile; if it was, its interrupt status is set again before this returns.
     */
    public static void joinUninterruptibly(Thread thread) {
        if (joinDeferringInterrupt(thread)) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Waits as {@link #joinUninterruptibly} does, but leaves the interrupt to the caller: returns
     * whether the caller was interrupted meanwhile, in which case its interrupt status is now clear.
     * For a caller with more waits to do that a set interrupt status would cut short; it sets the
     * status again ({@code Thread.currentThread().interrupt()}) once they are done.
     */
    public static boolean joinDeferringInterrupt(Thread thread) {
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        return interrupted;
    }
}

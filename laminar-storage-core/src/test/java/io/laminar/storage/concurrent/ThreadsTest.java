package io.laminar.storage.concurrent;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class ThreadsTest {

    @Test
    void daemonIsAnUnstartedDaemonThreadWithTheNameAndNoHandlerOfItsOwn() throws Exception {
        assertThat(Thread.currentThread().isDaemon()).isFalse(); // so the flag is not merely inherited
        var ran = new CountDownLatch(1);
        var thread = Threads.daemon("laminar-test-thread", ran::countDown);

        assertThat(thread.getName()).isEqualTo("laminar-test-thread");
        assertThat(thread.isDaemon()).isTrue();
        assertThat(thread.getState()).isEqualTo(Thread.State.NEW);
        assertThat(thread.getUncaughtExceptionHandler()).isSameAs(thread.getThreadGroup());
        thread.start();
        assertThat(ran.await(10, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void daemonFactoryNamesEveryThreadTheSame() throws Exception {
        var factory = Threads.daemonFactory("laminar-test-single");
        var ran = new CountDownLatch(2);
        var first = factory.newThread(ran::countDown);
        var second = factory.newThread(ran::countDown);

        assertThat(first.getName()).isEqualTo("laminar-test-single");
        assertThat(second.getName()).isEqualTo("laminar-test-single");
        assertThat(first.isDaemon()).isTrue();
        assertThat(second.isDaemon()).isTrue();
        first.start();
        second.start();
        assertThat(ran.await(10, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void numberedDaemonFactoryCountsFromOnePerFactory() {
        var factory = Threads.numberedDaemonFactory("laminar-test-upload-");
        var other = Threads.numberedDaemonFactory("laminar-test-upload-");
        var names = new ArrayList<String>();
        for (int i = 0; i < 3; i++) {
            var thread = factory.newThread(() -> { });
            assertThat(thread.isDaemon()).isTrue();
            names.add(thread.getName());
        }

        assertThat(names).containsExactly("laminar-test-upload-1", "laminar-test-upload-2", "laminar-test-upload-3");
        assertThat(other.newThread(() -> { }).getName()).isEqualTo("laminar-test-upload-1");
    }

    @Test
    void joinUninterruptiblyWaitsThroughInterruptsUntilTheThreadEndsAndRestoresTheInterrupt() throws Exception {
        var release = new CountDownLatch(1);
        var target = Threads.daemon("laminar-test-target", () -> awaitQuietly(release));
        target.start();
        var interruptedAfter = new AtomicReference<Boolean>();
        var joiner = Threads.daemon("laminar-test-joiner", () -> {
            Threads.joinUninterruptibly(target);
            interruptedAfter.set(Thread.currentThread().isInterrupted());
        });
        joiner.start();

        for (int i = 0; i < 3; i++) {
            awaitState(joiner, Thread.State.WAITING);
            joiner.interrupt();
            awaitInterruptTaken(joiner);
        }
        joiner.join(200);
        assertThat(joiner.isAlive()).as("the join returned while its thread still ran").isTrue();

        release.countDown();
        joiner.join(10_000);
        assertThat(joiner.isAlive()).isFalse();
        assertThat(target.isAlive()).isFalse();
        assertThat(interruptedAfter.get()).isTrue();
    }

    @Test
    void joinDeferringInterruptReportsTheInterruptAndLeavesTheStatusClear() throws Exception {
        var release = new CountDownLatch(1);
        var target = Threads.daemon("laminar-test-target", () -> awaitQuietly(release));
        target.start();
        var reported = new AtomicBoolean();
        var statusAfter = new AtomicReference<Boolean>();
        var joiner = Threads.daemon("laminar-test-joiner", () -> {
            reported.set(Threads.joinDeferringInterrupt(target));
            statusAfter.set(Thread.currentThread().isInterrupted());
        });
        joiner.start();

        awaitState(joiner, Thread.State.WAITING);
        joiner.interrupt();
        awaitInterruptTaken(joiner);
        release.countDown();
        joiner.join(10_000);

        assertThat(joiner.isAlive()).isFalse();
        assertThat(reported).isTrue();
        assertThat(statusAfter.get()).isFalse();
    }

    @Test
    void joinReturnsAtOnceForAThreadThatEndedOrNeverStarted() throws Exception {
        var ended = Threads.daemon("laminar-test-ended", () -> { });
        ended.start();
        ended.join();
        var unstarted = Threads.daemon("laminar-test-unstarted", () -> { });

        assertThat(Threads.joinDeferringInterrupt(ended)).isFalse();
        assertThat(Threads.joinDeferringInterrupt(unstarted)).isFalse();
        Threads.joinUninterruptibly(unstarted);
        assertThat(Thread.currentThread().isInterrupted()).isFalse();
    }

    private static void awaitQuietly(CountDownLatch latch) {
        while (true) {
            try {
                latch.await();
                return;
            } catch (InterruptedException e) {
                // keep running until released
            }
        }
    }

    /** Waits until {@code joiner} has taken its interrupt (status clear again) and is back in join(). */
    private static void awaitInterruptTaken(Thread joiner) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (joiner.isInterrupted() || joiner.getState() != Thread.State.WAITING) {
            assertThat(System.nanoTime()).as("%s to take its interrupt", joiner.getName()).isLessThan(deadline);
            Thread.sleep(1);
        }
    }

    private static void awaitState(Thread thread, Thread.State state) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (thread.getState() != state) {
            assertThat(System.nanoTime()).as("%s to reach %s", thread.getName(), state).isLessThan(deadline);
            Thread.sleep(1);
        }
    }
}

package io.laminar.storage.crash;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Follows a crash-test child's stdout on a thread of its own: {@code READY} once it has recovered
 * and started, then {@code ACK <core> <operations>} whenever that many operations of a core are
 * durable. Keeps the highest acknowledgement per core.
 */
public final class ChildOutput {

    private final AtomicLongArray acks;
    private final CountDownLatch ready = new CountDownLatch(1);
    private final Thread reader;

    private ChildOutput(Process process, int cores) {
        acks = new AtomicLongArray(cores);
        reader = new Thread(() -> {
            try (var in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    var parts = line.split(" ");
                    if (parts[0].equals("READY")) {
                        ready.countDown();
                    } else if (parts[0].equals("ACK")) {
                        acks.accumulateAndGet(Integer.parseInt(parts[1]), Long.parseLong(parts[2]), Math::max);
                    }
                }
            } catch (IOException e) {
                // the child died: its stdout is closed
            }
        }, "child-output");
        reader.start();
    }

    /** Starts following {@code process}, which reports on {@code cores} cores. */
    public static ChildOutput follow(Process process, int cores) {
        return new ChildOutput(process, cores);
    }

    /** Whether the child said READY within the timeout. */
    public boolean awaitReady(long seconds) throws InterruptedException {
        return ready.await(seconds, TimeUnit.SECONDS);
    }

    /** Waits (bounded) for the child's stdout to end, then returns the highest ack per core. */
    public AtomicLongArray acks() throws InterruptedException {
        reader.join(TimeUnit.SECONDS.toMillis(30));
        return acks;
    }
}

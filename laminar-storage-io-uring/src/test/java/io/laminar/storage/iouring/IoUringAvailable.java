package io.laminar.storage.iouring;

import org.junit.jupiter.api.Assumptions;

/** Skips a test, with the reason, where io_uring cannot run (the kernel or seccomp refuses it). */
final class IoUringAvailable {

    private IoUringAvailable() {
    }

    static void assumeAvailable() {
        var unavailable = new IoUringProvider().unavailability();
        Assumptions.assumeTrue(unavailable.isEmpty(), () -> "io_uring cannot run here: " + unavailable.get().reason()
                + "; to run these tests, " + unavailable.get().fix());
    }
}

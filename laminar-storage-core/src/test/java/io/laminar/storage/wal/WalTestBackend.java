package io.laminar.storage.wal;

import org.junit.jupiter.api.Assumptions;

/**
 * The {@link WalIoBackend} the WAL's tests run with, so that one suite covers every backend: the
 * system property {@value #PROPERTY} ({@code file-channel} when unset). Core's pom runs the WAL
 * tests once more per backend (surefire executions {@code wal-backend-direct}, ...) with the property
 * set; {@code -Dlaminar.test.wal.io-backend=direct} does the same by hand. Tests build their options
 * from {@link #options()} instead of {@link WalOptions#builder()}; a child process they start gets
 * {@link #childJvmArgument()}. Part of the core's test-jar.
 *
 * <p>A backend that cannot run on the test machine fails the tests with
 * {@link WalIoBackendUnavailableException}: never silently green. The io_uring backend is the
 * exception, as it depends on the JDK and the kernel of the machine rather than on its file system:
 * where it cannot run ({@code laminar-storage-io-uring} missing, Java before 22, io_uring refused by
 * the kernel), {@link #options()} aborts the test with a JUnit assumption that gives the reason, so
 * the test is reported skipped, with the reason, instead of passing.
 */
public final class WalTestBackend {

    /** The system property naming the backend, spelled as in configuration. */
    public static final String PROPERTY = "laminar.test.wal.io-backend";

    private WalTestBackend() {
    }

    /** The backend the tests run with. */
    public static WalIoBackend backend() {
        return WalIoBackend.fromPropertyValue(System.getProperty(PROPERTY, WalIoBackend.FILE_CHANNEL.propertyValue()));
    }

    /** {@link WalOptions#builder()} with the tests' backend. */
    public static WalOptions.Builder options() {
        var backend = backend();
        if (backend == WalIoBackend.IO_URING) {
            var reason = SegmentIo.unavailableReason(backend);
            Assumptions.assumeTrue(reason == null, () -> "the WAL I/O backend io-uring cannot run here: " + reason);
        }
        return WalOptions.builder().ioBackend(backend);
    }

    /** The JVM argument that gives a child process the same backend. */
    public static String childJvmArgument() {
        return "-D" + PROPERTY + "=" + backend().propertyValue();
    }
}

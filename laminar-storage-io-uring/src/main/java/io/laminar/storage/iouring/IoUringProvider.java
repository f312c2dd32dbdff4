package io.laminar.storage.iouring;

import io.laminar.storage.io.FileIO;
import io.laminar.storage.wal.SegmentWriter;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalIoProvider;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The {@link WalIoBackend#IO_URING} backend, found by the core through {@link java.util.ServiceLoader}.
 * Whether io_uring runs here is probed once per JVM by setting up (and closing) a small ring: Linux
 * answers ENOSYS without io_uring (before 5.1, or seccomp filters as Docker's default profile
 * did) and EPERM when {@code kernel.io_uring_disabled} or a seccomp filter refuses it. Thread-safe.
 */
public final class IoUringProvider implements WalIoProvider {

    private static volatile Optional<Unavailable> probed;

    @Override
    public WalIoBackend backend() {
        return WalIoBackend.IO_URING;
    }

    @Override
    public Optional<Unavailable> unavailability() {
        var result = probed;
        if (result == null) {
            result = probe();
            probed = result;
        }
        return result;
    }

    private static Optional<Unavailable> probe() {
        if (!System.getProperty("os.name").startsWith("Linux")) {
            return Optional.of(new Unavailable("io_uring is a Linux interface and this is " + System.getProperty("os.name"),
                    "run on Linux 5.6 or newer", null));
        }
        try (var ring = new IoUring(2)) {
            return Optional.empty();
        } catch (IoUring.ErrnoException e) {
            return Optional.of(switch (e.errno()) {
                case IoUring.ENOSYS -> new Unavailable("the kernel has no io_uring (io_uring_setup answered ENOSYS: "
                        + "a kernel before 5.1, one built without CONFIG_IO_URING, or a seccomp filter of the container)",
                        "run on Linux 5.6 or newer and allow io_uring_setup, io_uring_enter and io_uring_register "
                        + "in the container's seccomp profile", e);
                case IoUring.EPERM -> new Unavailable("the kernel refuses io_uring to this process (io_uring_setup "
                        + "answered EPERM; kernel.io_uring_disabled is " + ioUringDisabled() + ")",
                        "set the sysctl kernel.io_uring_disabled to 0 (or to 1 with this user in the group of "
                        + "kernel.io_uring_group), and allow io_uring in the container's seccomp profile", e);
                default -> new Unavailable("io_uring_setup failed: " + e.getMessage(),
                        "check the process's limits (ulimit -l for locked memory on kernels before 5.12)", e);
            });
        } catch (IOException e) {
            return Optional.of(new Unavailable("an io_uring could not be set up (" + e.getMessage() + ")",
                    "check the process's limits (ulimit -l for locked memory on kernels before 5.12)", e));
        } catch (RuntimeException | LinkageError e) {
            return Optional.of(new Unavailable("the foreign function API could not call the kernel (" + e + ")",
                    "run on a JDK 22 or newer that allows native access (--enable-native-access=ALL-UNNAMED)", e));
        }
    }

    private static String ioUringDisabled() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/io_uring_disabled")).trim();
        } catch (IOException | RuntimeException e) {
            return "not readable";
        }
    }

    @Override
    public SegmentWriter open(Path path, FileChannel channel, FileIO io) throws IOException {
        try {
            return new IoUringSegmentWriter(path, channel, io);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }
}

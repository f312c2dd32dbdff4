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
 * Whether io_uring runs here is decided once per JVM: {@code /proc/sys/kernel/io_uring_disabled}
 * (Linux 6.6+) at 2 refuses it outright; otherwise a small ring is set up (and closed), and Linux
 * answers ENOSYS without io_uring (before 5.1, or seccomp filters as Docker's default profile did)
 * and EPERM when the sysctl (at 1, outside {@code kernel.io_uring_group}) or a seccomp filter refuses
 * it. Thread-safe.
 */
public final class IoUringProvider implements WalIoProvider {

    /** System property: {@code false} submits a batch's writes and its fdatasync separately (for measurements). */
    public static final String LINKED_PROPERTY = "laminar.storage.wal.io-uring.linked";
    /**
     * System property: {@code true} registers the log's write buffer with the kernel, so linked writes
     * are {@code IORING_OP_WRITE_FIXED}. Off by default: for buffered writes it measured no gain here,
     * and it pins the whole write buffer (32 MiB by default) per log, counted against {@code ulimit -l}.
     */
    public static final String FIXED_BUFFERS_PROPERTY = "laminar.storage.wal.io-uring.fixed-buffers";

    private static volatile Optional<Unavailable> probed;

    /**
     * How the writers submit, read once per provider from the system properties {@value #LINKED_PROPERTY}
     * (on unless {@code false}) and {@value #FIXED_BUFFERS_PROPERTY} (off unless {@code true}): what the
     * benchmarks compare.
     */
    record Tuning(boolean linked, boolean fixedBuffers) {
        static Tuning fromSystemProperties() {
            return new Tuning(!"false".equalsIgnoreCase(System.getProperty(LINKED_PROPERTY)),
                    "true".equalsIgnoreCase(System.getProperty(FIXED_BUFFERS_PROPERTY)));
        }
    }

    private final Tuning tuning = Tuning.fromSystemProperties();

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

    /** The sysctl that disables io_uring (Linux 6.6+): 0 allowed, 1 only for kernel.io_uring_group, 2 for nobody. */
    static final Path IO_URING_DISABLED = Path.of("/proc/sys/kernel/io_uring_disabled");

    private static Optional<Unavailable> probe() {
        if (!System.getProperty("os.name").startsWith("Linux")) {
            return Optional.of(new Unavailable("io_uring is a Linux interface and this is " + System.getProperty("os.name"),
                    "run on Linux 5.6 or newer", null));
        }
        return probe(IO_URING_DISABLED);
    }

    /**
     * Reads {@code ioUringDisabled} ({@code kernel.io_uring_disabled}) if it exists: at 2 the kernel
     * refuses every io_uring, so this says so without trying. Otherwise sets up (and closes) a 2-entry
     * ring and explains a refusal: ENOSYS (no io_uring, or a seccomp filter answering so), EPERM (the
     * sysctl at 1 for a process outside {@code kernel.io_uring_group}, or a seccomp filter).
     */
    static Optional<Unavailable> probe(Path ioUringDisabled) {
        String disabled = sysctl(ioUringDisabled);
        if ("2".equals(disabled)) {
            return Optional.of(new Unavailable("the kernel refuses io_uring to every process (kernel.io_uring_disabled "
                    + "is 2, read from " + ioUringDisabled + ")", "set the sysctl kernel.io_uring_disabled to 0 "
                    + "(sysctl -w kernel.io_uring_disabled=0, and in /etc/sysctl.d to keep it), or to 1 with this "
                    + "user in the group kernel.io_uring_group", null));
        }
        try (var ring = new IoUring(2)) {
            return Optional.empty();
        } catch (IoUring.ErrnoException e) {
            return Optional.of(switch (e.errno()) {
                case IoUring.ENOSYS -> new Unavailable("the kernel has no io_uring (io_uring_setup answered ENOSYS: "
                        + "a kernel before 5.1, one built without CONFIG_IO_URING, or a seccomp filter of the container)",
                        "run on Linux 5.6 or newer and allow io_uring_setup, io_uring_enter and io_uring_register "
                        + "in the container's seccomp profile", e);
                case IoUring.EPERM -> "1".equals(disabled)
                        ? new Unavailable("the kernel refuses io_uring to this process (io_uring_setup answered EPERM; "
                                + "kernel.io_uring_disabled is 1: only members of the group kernel.io_uring_group may "
                                + "use io_uring)", "add this user to the group of kernel.io_uring_group, or set the "
                                + "sysctl kernel.io_uring_disabled to 0", e)
                        : new Unavailable("the kernel refuses io_uring to this process (io_uring_setup answered EPERM "
                                + "while kernel.io_uring_disabled is " + (disabled == null ? "absent" : disabled)
                                + ": a seccomp filter, such as a container's profile, refuses it)",
                                "allow io_uring_setup, io_uring_enter and io_uring_register in the seccomp profile "
                                + "(for Docker: --security-opt seccomp=PROFILE)", e);
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

    /** The sysctl's value, trimmed, or null where the file does not exist or cannot be read (kernels before 6.6). */
    private static String sysctl(Path file) {
        try {
            return Files.readString(file).trim();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Whether the log should hand a batch's writes and its fdatasync over together: yes, unless turned off. */
    @Override
    public boolean linksWriteAndSync() {
        return tuning.linked();
    }

    @Override
    public SegmentWriter open(Path path, FileChannel channel, FileIO io) throws IOException {
        try {
            return new IoUringSegmentWriter(path, channel, io, tuning);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }
}

package io.laminar.storage.iouring;

import io.laminar.storage.wal.DirectRefusedChild;
import io.laminar.storage.wal.WalIoBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

/**
 * The child JVM of {@link IoUringRefusedBySeccompTest}: installs a seccomp filter on every thread of
 * this process that answers {@code io_uring_setup} with the errno named by {@code args[0]} ({@code EPERM}
 * or {@code ENOSYS}), as a container's profile does, then opens WALs in {@code args[1]}. Prints on
 * stdout: {@code NO-SECCOMP <why>} (exit 3) where the kernel does not let it install the filter;
 * otherwise {@code FILTERED}, {@code REFUSED <message>} for the open with {@code io-uring}, and for
 * each of two logs opened with {@code io-uring-or-fallback} {@code BACKEND <name> <backend>} and
 * {@code ACK <name> <records>} once its records are durable. The WARN goes to stderr (slf4j-simple).
 */
public final class SeccompChild {

    private static final boolean AARCH64 = System.getProperty("os.arch").equals("aarch64");
    private static final long SYS_PRCTL = AARCH64 ? 167 : 157;
    private static final long SYS_SECCOMP = AARCH64 ? 277 : 317;
    private static final int PR_SET_NO_NEW_PRIVS = 38;
    private static final int SECCOMP_SET_MODE_FILTER = 1;
    private static final int SECCOMP_FILTER_FLAG_TSYNC = 1;
    private static final int AUDIT_ARCH_X86_64 = 0xC000003E;
    private static final int AUDIT_ARCH_AARCH64 = 0xC00000B7;
    private static final int SYS_IO_URING_SETUP = 425; // the same on both
    private static final int SECCOMP_RET_ALLOW = 0x7fff0000;
    private static final int SECCOMP_RET_ERRNO = 0x00050000;
    private static final short BPF_LD_W_ABS = 0x20;
    private static final short BPF_JMP_JEQ_K = 0x15;
    private static final short BPF_RET_K = 0x06;

    private SeccompChild() {
    }

    public static void main(String[] args) throws Exception {
        int errno = switch (args[0]) {
            case "EPERM" -> IoUring.EPERM;
            case "ENOSYS" -> IoUring.ENOSYS;
            default -> throw new IllegalArgumentException(args[0]);
        };
        var dir = Path.of(args[1]);
        String refused = installFilter(errno);
        if (refused != null) {
            System.out.println("NO-SECCOMP " + refused);
            System.exit(3);
        }
        System.out.println("FILTERED");
        DirectRefusedChild.openRefusedThenFallback(dir, WalIoBackend.IO_URING, WalIoBackend.IO_URING_OR_FALLBACK);
        System.out.flush();
        System.exit(0);
    }

    /**
     * prctl(PR_SET_NO_NEW_PRIVS) and seccomp(SECCOMP_SET_MODE_FILTER, TSYNC) with the program:
     * load the architecture; if not this one, allow; load the system call number; if io_uring_setup,
     * fail with {@code errno}; else allow. Returns why it could not, or null.
     */
    private static String installFilter(int errno) {
        int arch = switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> AUDIT_ARCH_X86_64;
            case "aarch64" -> AUDIT_ARCH_AARCH64;
            default -> 0;
        };
        if (arch == 0) {
            return "no seccomp program here for the architecture " + System.getProperty("os.arch");
        }
        long r = IoUring.syscall(SYS_PRCTL, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0);
        if (r < 0) {
            return "prctl(PR_SET_NO_NEW_PRIVS) failed: " + Errno.describe((int) -r);
        }
        try (var arena = Arena.ofConfined()) {
            var program = arena.allocate(6 * 8L, 8);
            instruction(program, 0, BPF_LD_W_ABS, 0, 0, 4); // seccomp_data.arch
            instruction(program, 1, BPF_JMP_JEQ_K, 0, 3, arch); // other architecture: allow
            instruction(program, 2, BPF_LD_W_ABS, 0, 0, 0); // seccomp_data.nr
            instruction(program, 3, BPF_JMP_JEQ_K, 0, 1, SYS_IO_URING_SETUP);
            instruction(program, 4, BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno);
            instruction(program, 5, BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW);
            var fprog = arena.allocate(16, 8); // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
            fprog.set(ValueLayout.JAVA_SHORT, 0, (short) 6);
            fprog.set(ValueLayout.JAVA_LONG, 8, program.address());
            r = IoUring.syscall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, fprog.address(), 0, 0,
                    0);
            if (r != 0) {
                return "seccomp(SECCOMP_SET_MODE_FILTER) failed: " + (r < 0 ? Errno.describe((int) -r)
                        : "thread " + r + " could not be synchronized");
            }
        }
        return null;
    }

    /** struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; } */
    private static void instruction(java.lang.foreign.MemorySegment program, int index, short code, int jt, int jf,
            int k) {
        long at = index * 8L;
        program.set(ValueLayout.JAVA_SHORT, at, code);
        program.set(ValueLayout.JAVA_BYTE, at + 2, (byte) jt);
        program.set(ValueLayout.JAVA_BYTE, at + 3, (byte) jf);
        program.set(ValueLayout.JAVA_INT, at + 4, k);
    }
}

package io.laminar.storage.iouring;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * One Linux io_uring driven through raw system calls with the JDK's foreign function API:
 * {@code io_uring_setup}, {@code mmap} of the submission and completion rings and of the submission
 * entries, {@code io_uring_enter}. No liburing, no JNI. x86-64 and aarch64 system call numbers.
 *
 * <p>{@link #submitAndWait} puts entries in the submission ring, submits them all with one
 * {@code io_uring_enter} and waits for as many completions, which it returns in order of arrival.
 * Entries of one call may be linked ({@code IOSQE_IO_LINK}): the kernel starts each only once the
 * one before it succeeded, and completes the rest with {@code -ECANCELED} otherwise.
 *
 * <p>Not thread-safe: one thread at a time (the caller serializes). The ring's head and tail words
 * are shared with the kernel and read with acquire and written with release semantics, as
 * liburing does.
 */
final class IoUring implements AutoCloseable {

    static final byte IORING_OP_FSYNC = 3;
    static final byte IORING_OP_WRITE = 23;
    static final int IORING_FSYNC_DATASYNC = 1;
    static final byte IOSQE_IO_LINK = 1 << 2;
    private static final int IORING_ENTER_GETEVENTS = 1;
    private static final int IORING_FEAT_SINGLE_MMAP = 1;
    private static final long IORING_OFF_SQ_RING = 0L;
    private static final long IORING_OFF_CQ_RING = 0x8000000L;
    private static final long IORING_OFF_SQES = 0x10000000L;
    private static final int PROT_READ_WRITE = 0x1 | 0x2;
    private static final int MAP_SHARED_POPULATE = 0x01 | 0x8000;
    static final int EINTR = 4;
    static final int EPERM = 1;
    static final int ENOSYS = 38;

    private static final boolean AARCH64 = System.getProperty("os.arch").equals("aarch64");
    private static final long SYS_IO_URING_SETUP = 425; // the same on x86-64 and aarch64
    private static final long SYS_IO_URING_ENTER = 426;
    private static final long SYS_MMAP = AARCH64 ? 222 : 9;
    private static final long SYS_MUNMAP = AARCH64 ? 215 : 11;
    private static final long SYS_CLOSE = AARCH64 ? 57 : 3;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    /** {@code long syscall(long number, ...)} with six long arguments, capturing errno. */
    private static final MethodHandle SYSCALL = LINKER.downcallHandle(LINKER.defaultLookup().find("syscall")
            .orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_LONG), Linker.Option.firstVariadicArg(1), Linker.Option.captureCallState("errno"));

    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    private static final int SQE_SIZE = 64;
    private static final int CQE_SIZE = 16;

    private final Arena arena = Arena.ofShared();
    private final int ringFd;
    private final MemorySegment sqRing;
    private final MemorySegment cqRing;
    private final MemorySegment sqes;
    private final long sqRingSize;
    private final long cqRingSize;
    private final long sqesSize;
    private final int sqHead;
    private final int sqTail;
    private final int sqMask;
    private final int sqArray;
    private final int cqHead;
    private final int cqTail;
    private final int cqMask;
    private final int cqes;
    private final int entries;
    private boolean closed;

    /** A completion: {@code userData} of its submission entry and {@code res} (a negative errno on failure). */
    record Completion(long userData, int res) {
    }

    /** Sets up a ring of {@code entries} submission entries (a power of two). */
    IoUring(int entries) throws IOException {
        var params = arena.allocate(120);
        long fd = syscall(SYS_IO_URING_SETUP, entries, params.address(), 0, 0, 0, 0);
        if (fd < 0) {
            arena.close();
            throw new ErrnoException("io_uring_setup", (int) -fd);
        }
        this.ringFd = (int) fd;
        try {
            this.entries = params.get(ValueLayout.JAVA_INT, 0);
            int cqEntries = params.get(ValueLayout.JAVA_INT, 4);
            int features = params.get(ValueLayout.JAVA_INT, 20);
            // struct io_sqring_offsets at 40, struct io_cqring_offsets at 80
            sqHead = params.get(ValueLayout.JAVA_INT, 40);
            sqTail = params.get(ValueLayout.JAVA_INT, 44);
            sqMask = params.get(ValueLayout.JAVA_INT, 48);
            sqArray = params.get(ValueLayout.JAVA_INT, 64);
            cqHead = params.get(ValueLayout.JAVA_INT, 80);
            cqTail = params.get(ValueLayout.JAVA_INT, 84);
            cqMask = params.get(ValueLayout.JAVA_INT, 88);
            cqes = params.get(ValueLayout.JAVA_INT, 100);
            long sqSize = sqArray + (long) this.entries * 4;
            long cqSize = cqes + (long) cqEntries * CQE_SIZE;
            if ((features & IORING_FEAT_SINGLE_MMAP) != 0) {
                sqSize = Math.max(sqSize, cqSize);
                sqRingSize = sqSize;
                sqRing = mmap(sqSize, IORING_OFF_SQ_RING);
                cqRing = sqRing;
                cqRingSize = 0;
            } else {
                sqRingSize = sqSize;
                sqRing = mmap(sqSize, IORING_OFF_SQ_RING);
                cqRingSize = cqSize;
                cqRing = mmap(cqSize, IORING_OFF_CQ_RING);
            }
            sqesSize = (long) this.entries * SQE_SIZE;
            sqes = mmap(sqesSize, IORING_OFF_SQES);
        } catch (IOException | RuntimeException e) {
            syscall(SYS_CLOSE, ringFd, 0, 0, 0, 0, 0);
            arena.close();
            throw e;
        }
    }

    /** The number of submission entries. */
    int entries() {
        return entries;
    }

    /**
     * Fills the submission entry {@code index} (0 to {@code count - 1} of the next call) as a write of
     * {@code length} bytes at {@code address} to {@code fd} at {@code offset}, or an fdatasync when
     * {@code opcode} is {@link #IORING_OP_FSYNC}.
     */
    void prepare(int index, byte opcode, byte flags, int fd, long offset, long address, int length, int opFlags,
            long userData) {
        int tail = (int) INT.getAcquire(sqRing, (long) sqTail);
        int slot = (tail + index) & (int) INT.get(sqRing, (long) sqMask);
        var sqe = sqes.asSlice((long) slot * SQE_SIZE, SQE_SIZE);
        sqe.fill((byte) 0);
        sqe.set(ValueLayout.JAVA_BYTE, 0, opcode);
        sqe.set(ValueLayout.JAVA_BYTE, 1, flags);
        sqe.set(ValueLayout.JAVA_INT, 4, fd);
        sqe.set(ValueLayout.JAVA_LONG, 8, offset);
        sqe.set(ValueLayout.JAVA_LONG, 16, address);
        sqe.set(ValueLayout.JAVA_INT, 24, length);
        sqe.set(ValueLayout.JAVA_INT, 28, opFlags);
        sqe.set(ValueLayout.JAVA_LONG, 32, userData);
        sqRing.set(ValueLayout.JAVA_INT, sqArray + 4L * slot, slot);
    }

    /**
     * Publishes the {@code count} entries prepared with {@link #prepare}, submits them with one
     * {@code io_uring_enter} and waits for {@code count} completions, which it returns.
     */
    Completion[] submitAndWait(int count) throws IOException {
        if (closed) {
            throw new IOException("the io_uring is closed");
        }
        if (count > entries) {
            throw new IllegalArgumentException("count " + count + " exceeds the ring's " + entries + " entries");
        }
        int tail = (int) INT.getAcquire(sqRing, (long) sqTail);
        INT.setRelease(sqRing, (long) sqTail, tail + count);
        int toSubmit = count;
        var done = new Completion[count];
        int reaped = 0;
        while (reaped < count) {
            long r = syscall(SYS_IO_URING_ENTER, ringFd, toSubmit, count - reaped, IORING_ENTER_GETEVENTS, 0, 0);
            if (r < 0) {
                if (-r == EINTR) {
                    continue;
                }
                throw new ErrnoException("io_uring_enter", (int) -r);
            }
            toSubmit -= (int) Math.min(toSubmit, r);
            int head = (int) INT.get(cqRing, (long) cqHead);
            int cqTailNow = (int) INT.getAcquire(cqRing, (long) cqTail);
            int mask = (int) INT.get(cqRing, (long) cqMask);
            while (head != cqTailNow && reaped < count) {
                long at = cqes + (long) (head & mask) * CQE_SIZE;
                done[reaped++] = new Completion(cqRing.get(ValueLayout.JAVA_LONG, at),
                        cqRing.get(ValueLayout.JAVA_INT, at + 8));
                head++;
            }
            INT.setRelease(cqRing, (long) cqHead, head);
        }
        return done;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        syscall(SYS_MUNMAP, sqes.address(), sqesSize, 0, 0, 0, 0);
        if (cqRingSize != 0) {
            syscall(SYS_MUNMAP, cqRing.address(), cqRingSize, 0, 0, 0, 0);
        }
        syscall(SYS_MUNMAP, sqRing.address(), sqRingSize, 0, 0, 0, 0);
        syscall(SYS_CLOSE, ringFd, 0, 0, 0, 0, 0);
        arena.close();
    }

    private MemorySegment mmap(long size, long offset) throws IOException {
        long address = syscall(SYS_MMAP, 0, size, PROT_READ_WRITE, MAP_SHARED_POPULATE, ringFd, offset);
        if (address < 0 && address > -4096) {
            throw new ErrnoException("mmap of the io_uring", (int) -address);
        }
        return MemorySegment.ofAddress(address).reinterpret(size);
    }

    /**
     * A raw system call: returns its result, or minus errno when it failed (the C wrapper's -1 with
     * errno turned into the kernel's convention).
     */
    static long syscall(long number, long a, long b, long c, long d, long e, long f) {
        try (var call = Arena.ofConfined()) {
            var state = call.allocate(CALL_STATE);
            long r = (long) SYSCALL.invokeExact(state, number, a, b, c, d, e, f);
            if (r == -1) {
                return -(int) ERRNO.get(state, 0L);
            }
            return r;
        } catch (RuntimeException | Error x) {
            throw x;
        } catch (Throwable x) {
            throw new IllegalStateException(x);
        }
    }

    /** A failed system call, with its errno. */
    static final class ErrnoException extends IOException {
        private static final long serialVersionUID = 1L;
        private final int errno;

        ErrnoException(String call, int errno) {
            super(call + " failed: " + Errno.describe(errno));
            this.errno = errno;
        }

        int errno() {
            return errno;
        }
    }
}

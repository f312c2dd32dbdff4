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
 * <p>{@link #prepare} fills submission entries; {@link #submitAndWait} publishes them, submits them
 * all and waits for as many completions with one {@code io_uring_enter}, and keeps each completion's
 * result by entry ({@link #result}). Entries of one call may be linked ({@code IOSQE_IO_LINK}): the
 * kernel starts each only once the one before it completed in full, and completes the rest with
 * {@code -ECANCELED} otherwise. One buffer may be registered ({@link #registerBuffer}); writes from it
 * go out as {@code IORING_OP_WRITE_FIXED}.
 *
 * <p>The write path allocates nothing: the errno memory of its system calls is the ring's, and
 * completions are kept in an array. (The first version allocated an {@link Arena} and a completion
 * array per call.)
 *
 * <p>Not thread-safe: one thread at a time (the caller serializes). The ring's head and tail words
 * are shared with the kernel and read with acquire and written with release semantics, as
 * liburing does.
 */
final class IoUring implements AutoCloseable {

    static final byte IORING_OP_FSYNC = 3;
    static final byte IORING_OP_WRITE_FIXED = 5;
    static final byte IORING_OP_WRITE = 23;
    static final int IORING_FSYNC_DATASYNC = 1;
    static final byte IOSQE_IO_LINK = 1 << 2;
    private static final int IORING_REGISTER_BUFFERS = 0;
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
    static final int ECANCELED = 125;

    private static final boolean AARCH64 = System.getProperty("os.arch").equals("aarch64");
    private static final long SYS_IO_URING_SETUP = 425; // the same on x86-64 and aarch64
    private static final long SYS_IO_URING_ENTER = 426;
    private static final long SYS_IO_URING_REGISTER = 427;
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
    /** errno of this ring's system calls: allocated once, the ring being used by one thread at a time. */
    private final MemorySegment callState;
    /** {@code res} of the last {@link #submitAndWait}'s completions, by {@code userData} (the entry's index). */
    private final int[] results;
    /** The memory registered with {@link #registerBuffer}, or {@link MemorySegment#NULL}. */
    private MemorySegment registered = MemorySegment.NULL;
    private boolean closed;

    /** Sets up a ring of {@code entries} submission entries (a power of two). */
    IoUring(int entries) throws IOException {
        var params = arena.allocate(120);
        long fd = syscall(SYS_IO_URING_SETUP, entries, params.address(), 0, 0, 0, 0);
        if (fd < 0) {
            arena.close();
            throw new ErrnoException("io_uring_setup", (int) -fd);
        }
        this.ringFd = (int) fd;
        this.callState = arena.allocate(CALL_STATE);
        try {
            this.entries = params.get(ValueLayout.JAVA_INT, 0);
            this.results = new int[this.entries];
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
     * Fills the submission entry {@code index} (0 to {@code count - 1} of the next {@link #submitAndWait})
     * as a write of {@code length} bytes at {@code address} to {@code fd} at {@code offset}, or an
     * fdatasync when {@code opcode} is {@link #IORING_OP_FSYNC}. Its completion's {@code res} is
     * {@link #result result(index)}. A write whose memory lies inside the {@link #registerBuffer registered}
     * buffer becomes an {@code IORING_OP_WRITE_FIXED} of it. {@code flags} {@link #IOSQE_IO_LINK} links the
     * entry to the next one: the kernel starts that one only after this one completed in full, and
     * completes it with {@code -ECANCELED} otherwise (an error or a short write).
     */
    void prepare(int index, byte opcode, byte flags, int fd, long offset, long address, int length, int opFlags) {
        int tail = (int) INT.getAcquire(sqRing, (long) sqTail);
        int slot = (tail + index) & (int) INT.get(sqRing, (long) sqMask);
        long at = (long) slot * SQE_SIZE;
        for (long word = 0; word < SQE_SIZE; word += 8) {
            sqes.set(ValueLayout.JAVA_LONG_UNALIGNED, at + word, 0L);
        }
        if (opcode == IORING_OP_WRITE && inRegistered(address, length)) {
            opcode = IORING_OP_WRITE_FIXED;
            // buf_index 0: the one registered buffer
        }
        sqes.set(ValueLayout.JAVA_BYTE, at, opcode);
        sqes.set(ValueLayout.JAVA_BYTE, at + 1, flags);
        sqes.set(ValueLayout.JAVA_INT_UNALIGNED, at + 4, fd);
        sqes.set(ValueLayout.JAVA_LONG_UNALIGNED, at + 8, offset);
        sqes.set(ValueLayout.JAVA_LONG_UNALIGNED, at + 16, address);
        sqes.set(ValueLayout.JAVA_INT_UNALIGNED, at + 24, length);
        sqes.set(ValueLayout.JAVA_INT_UNALIGNED, at + 28, opFlags);
        sqes.set(ValueLayout.JAVA_LONG_UNALIGNED, at + 32, index);
        sqRing.set(ValueLayout.JAVA_INT, sqArray + 4L * slot, slot);
    }

    private boolean inRegistered(long address, int length) {
        long base = registered.address();
        return registered.byteSize() != 0 && address >= base && address + length <= base + registered.byteSize();
    }

    /**
     * Registers {@code memory} with the kernel ({@code IORING_REGISTER_BUFFERS}, one buffer, index 0):
     * the kernel pins its pages once, and writes from it are prepared as {@code IORING_OP_WRITE_FIXED},
     * which spares the kernel importing the user memory at each write. The memory must stay valid until
     * {@link #close}. The pinned pages count against the locked-memory limit ({@code ulimit -l}) on
     * kernels that account them; when the kernel refuses, this throws and writes stay plain.
     */
    void registerBuffer(MemorySegment memory) throws IOException {
        var iovec = arena.allocate(16);
        iovec.set(ValueLayout.JAVA_LONG, 0, memory.address());
        iovec.set(ValueLayout.JAVA_LONG, 8, memory.byteSize());
        long r = call(SYS_IO_URING_REGISTER, ringFd, IORING_REGISTER_BUFFERS, iovec.address(), 1, 0, 0);
        if (r < 0) {
            throw new ErrnoException("io_uring_register of " + memory.byteSize() + " bytes", (int) -r);
        }
        registered = memory;
    }

    /** The {@code res} of entry {@code index}'s completion in the last {@link #submitAndWait}: bytes written, 0, or minus errno. */
    int result(int index) {
        return results[index];
    }

    /**
     * Publishes the {@code count} entries prepared with {@link #prepare}, submits them with one
     * {@code io_uring_enter} that also waits for their {@code count} completions (more calls only if
     * a signal interrupts the wait), and keeps each completion's {@code res} for {@link #result}.
     * Allocates nothing.
     */
    void submitAndWait(int count) throws IOException {
        if (closed) {
            throw new IOException("the io_uring is closed");
        }
        if (count > entries) {
            throw new IllegalArgumentException("count " + count + " exceeds the ring's " + entries + " entries");
        }
        int tail = (int) INT.getAcquire(sqRing, (long) sqTail);
        INT.setRelease(sqRing, (long) sqTail, tail + count);
        int toSubmit = count;
        int reaped = 0;
        while (reaped < count) {
            long r = call(SYS_IO_URING_ENTER, ringFd, toSubmit, count - reaped, IORING_ENTER_GETEVENTS, 0, 0);
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
                long userData = cqRing.get(ValueLayout.JAVA_LONG, at);
                if (userData < 0 || userData >= count) {
                    throw new IOException("io_uring completion of an unknown entry " + userData);
                }
                results[(int) userData] = cqRing.get(ValueLayout.JAVA_INT, at + 8);
                reaped++;
                head++;
            }
            INT.setRelease(cqRing, (long) cqHead, head);
        }
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
        long address = call(SYS_MMAP, 0, size, PROT_READ_WRITE, MAP_SHARED_POPULATE, ringFd, offset);
        if (address < 0 && address > -4096) {
            throw new ErrnoException("mmap of the io_uring", (int) -address);
        }
        return MemorySegment.ofAddress(address).reinterpret(size);
    }

    /** {@link #syscall} with this ring's errno memory: allocates nothing. Under the caller's serialization. */
    private long call(long number, long a, long b, long c, long d, long e, long f) {
        return invoke(callState, number, a, b, c, d, e, f);
    }

    /**
     * A raw system call: returns its result, or minus errno when it failed (the C wrapper's -1 with
     * errno turned into the kernel's convention). Allocates its errno memory: for calls off the
     * write path (open, close, set-up).
     */
    static long syscall(long number, long a, long b, long c, long d, long e, long f) {
        try (var call = Arena.ofConfined()) {
            return invoke(call.allocate(CALL_STATE), number, a, b, c, d, e, f);
        }
    }

    private static long invoke(MemorySegment state, long number, long a, long b, long c, long d, long e, long f) {
        try {
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

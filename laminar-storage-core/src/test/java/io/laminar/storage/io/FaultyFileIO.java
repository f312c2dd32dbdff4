package io.laminar.storage.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.FileSystemException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;

/**
 * A {@link FileIO} over a real one that can make {@code force} and/or {@code write} throw
 * {@link IOException} (after N calls, once, or from a switch a test flips) and can slow writes and
 * fdatasyncs down. Files are real and every call that is not failed goes to the real file system,
 * with real fdatasync. Part of the core's test-jar: the starter's tests use it too.
 *
 * <p>Faults match files by their current name: a channel opened under one name follows its file
 * through {@link #atomicMove}, so a rule for {@link #SEGMENTS} also covers a segment that was
 * opened as the spare {@code *-next.wal.tmp} file and renamed.
 *
 * <p>It also tracks, per channel, whether every successful write was followed by a successful
 * {@code force}: {@link #closedWithUnsyncedWrites()} lists the files whose channel was closed with
 * writes that no fdatasync covered.
 *
 * <p>It makes calls fail; {@link PowerLossFileIO} makes what was not synced vanish at a simulated
 * power cut. They compose: {@code new FaultyFileIO(new PowerLossFileIO(root))} records what the
 * failed and the successful calls did (a failed {@code force} syncs nothing).
 *
 * <p>Thread-safe.
 */
public final class FaultyFileIO implements FileIO {

    /** Segment files of a log: {@code <name>-<20 digits>.wal}. */
    public static final Predicate<Path> SEGMENTS = path -> path.getFileName().toString().matches(".*-\\d{20}\\.wal");
    /** The spare segment file the log pre-writes: {@code <name>-next.wal.tmp}. */
    public static final Predicate<Path> SPARE_SEGMENT = path -> path.getFileName().toString().endsWith("-next.wal.tmp");
    /** Every file. */
    public static final Predicate<Path> ANY = path -> true;

    private final FileIO delegate;
    private final Fault forces = new Fault("fdatasync");
    private final Fault writes = new Fault("write");
    private final Set<Channel> openChannels = ConcurrentHashMap.newKeySet();
    private final List<Path> closedUnsynced = new CopyOnWriteArrayList<>();
    private volatile Slowdown slowWrites = Slowdown.NONE;
    private volatile Slowdown slowForces = Slowdown.NONE;
    private final Set<OpenOption> refusedOptions = ConcurrentHashMap.newKeySet();

    public FaultyFileIO(FileIO delegate) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
    }

    /** Over the real file system. */
    public static FaultyFileIO overSystem() {
        return new FaultyFileIO(FileIO.system());
    }

    /** The fault plan and counters of {@code FileChannel.force}. */
    public Fault forces() {
        return forces;
    }

    /** The fault plan and counters of every {@code FileChannel.write} and {@code transferFrom}. */
    public Fault writes() {
        return writes;
    }

    /** Sleeps {@code delay} before every write to a file that matches. {@link Duration#ZERO} stops it. */
    public FaultyFileIO slowWrites(Duration delay, Predicate<Path> files) {
        this.slowWrites = new Slowdown(delay.toNanos(), files);
        return this;
    }

    /**
     * Sleeps {@code delay} before every fdatasync of a file that matches, before its fault plan is
     * consulted (a slow disk that may also fail). {@link Duration#ZERO} stops it.
     */
    public FaultyFileIO slowForces(Duration delay, Predicate<Path> files) {
        this.slowForces = new Slowdown(delay.toNanos(), files);
        return this;
    }

    /**
     * Makes every later {@code open} with {@code option} fail as a file system that does not support
     * it does (Linux answers EINVAL): say {@code ExtendedOpenOption.DIRECT} on a file system that
     * refuses O_DIRECT.
     */
    public FaultyFileIO refuseOpenOption(OpenOption option) {
        refusedOptions.add(Objects.requireNonNull(option, "option"));
        return this;
    }

    /** Files whose channel was closed while it had writes that no successful fdatasync covered. */
    public List<Path> closedWithUnsyncedWrites() {
        return List.copyOf(closedUnsynced);
    }

    /** The files of the channels opened through this FileIO and not closed yet. */
    public List<Path> openFiles() {
        var files = new ArrayList<Path>();
        for (var channel : openChannels) {
            files.add(channel.path);
        }
        return files;
    }

    @Override
    public FileChannel open(Path path, Set<? extends OpenOption> options) throws IOException {
        for (var option : options) {
            if (refusedOptions.contains(option)) {
                throw new FileSystemException(path.toString(), null, "Invalid argument (injected: this file system "
                        + "does not support the open option " + option + ")");
            }
        }
        var channel = new Channel(delegate.open(path, options), normalize(path));
        openChannels.add(channel);
        return channel;
    }

    @Override
    public void atomicMove(Path source, Path target) throws IOException {
        delegate.atomicMove(source, target);
        var from = normalize(source);
        var to = normalize(target);
        for (var channel : openChannels) {
            if (channel.path.equals(from)) {
                channel.path = to;
            }
        }
    }

    @Override
    public void createLink(Path link, Path existing) throws IOException {
        delegate.createLink(link, existing);
    }

    @Override
    public void deleteIfExists(Path path) throws IOException {
        delegate.deleteIfExists(path);
    }

    @Override
    public void syncDirectory(Path directory) throws IOException {
        delegate.syncDirectory(directory);
    }

    private static void sleepNanos(long nanos) {
        long deadline = System.nanoTime() + nanos;
        for (long left = nanos; left > 0; left = deadline - System.nanoTime()) {
            LockSupport.parkNanos(left);
        }
    }

    private static Path normalize(Path path) {
        return path.toAbsolutePath().normalize();
    }

    /** A delay for the calls on the files that match; one object, so a test changes both at once. */
    private record Slowdown(long nanos, Predicate<Path> files) {
        static final Slowdown NONE = new Slowdown(0, ANY);

        Slowdown {
            Objects.requireNonNull(files, "files");
        }

        void sleepIfMatches(Path path) {
            if (nanos > 0 && files.test(path)) {
                sleepNanos(nanos);
            }
        }
    }

    /**
     * When one kind of call fails. Unarmed until one of the {@code fail*} methods is called; only
     * calls on files that match {@link #on} are counted and failed.
     */
    public static final class Fault {
        private final String operation;
        private Predicate<Path> files = ANY;
        private Predicate<Thread> threads = thread -> true;
        private long describeDelayNanos;
        private boolean armed;
        private long successesBeforeFailing;
        private long failuresLeft;
        private String message;
        private Runnable onInjection = () -> { };
        private long calls;
        private long injected;
        private long callsAfterFirstInjection;
        private final AtomicLong successesAfterFirstInjection = new AtomicLong();
        private final CountDownLatch firstInjection = new CountDownLatch(1);

        private Fault(String operation) {
            this.operation = operation;
            this.message = "injected " + operation + " failure";
        }

        /** Only calls on files that match count and fail. */
        public synchronized Fault on(Predicate<Path> files) {
            this.files = Objects.requireNonNull(files, "files");
            return this;
        }

        /**
         * Only calls on threads that match fail (calls on other threads still count in
         * {@link #calls()}, and as successes before failing they do not count).
         */
        public synchronized Fault onThreads(Predicate<Thread> threads) {
            this.threads = Objects.requireNonNull(threads, "threads");
            return this;
        }

        /**
         * The injected exception's {@code toString()} sleeps this long: whoever describes the
         * failure (as a log does when it records why it failed) is slowed down, which widens the
         * window between the failed call and the moment the log marks itself failed.
         */
        public synchronized Fault describeSlowly(Duration delay) {
            this.describeDelayNanos = delay.toNanos();
            return this;
        }

        /** The message of the injected {@link IOException} (the file name is appended). */
        public synchronized Fault withMessage(String message) {
            this.message = message;
            return this;
        }

        /** Runs on the failing thread, just before the injected exception is thrown. */
        public synchronized Fault onInjection(Runnable hook) {
            this.onInjection = Objects.requireNonNull(hook, "hook");
            return this;
        }

        /** The next {@code n} matching calls succeed; every matching call after them fails. */
        public synchronized Fault failAfter(long n) {
            return arm(n, Long.MAX_VALUE);
        }

        /**
         * The next {@code n} matching calls succeed, the one after them fails and later calls
         * succeed again: how Linux reports a failed writeback once and then lets fsync "succeed".
         */
        public synchronized Fault failOnceAfter(long n) {
            return arm(n, 1);
        }

        /** The switch: every matching call from now on fails. */
        public synchronized Fault failNow() {
            return arm(0, Long.MAX_VALUE);
        }

        /** The switch back: calls succeed again. */
        public synchronized Fault stopFailing() {
            armed = false;
            return this;
        }

        private Fault arm(long successes, long failures) {
            if (successes < 0) {
                throw new IllegalArgumentException("successes before failing must be >= 0, but was " + successes);
            }
            this.successesBeforeFailing = successes;
            this.failuresLeft = failures;
            this.armed = true;
            return this;
        }

        /** Matching calls so far, failed or not. */
        public synchronized long calls() {
            return calls;
        }

        /** Calls failed on purpose so far. */
        public synchronized long injected() {
            return injected;
        }

        /** Matching calls that started after the first injected failure (failed or not). */
        public synchronized long callsAfterFirstInjection() {
            return callsAfterFirstInjection;
        }

        /** Matching calls that started after the first injected failure and succeeded. */
        public long successesAfterFirstInjection() {
            return successesAfterFirstInjection.get();
        }

        /** Waits until the first failure has been injected. */
        public boolean awaitInjection(Duration timeout) throws InterruptedException {
            return firstInjection.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
        }

        /** Decides one call: throws the injected failure, or returns whether a failure preceded it. */
        private boolean enter(Path path) throws IOException {
            Runnable hook;
            long delay;
            synchronized (this) {
                if (!files.test(path)) {
                    return false;
                }
                calls++;
                boolean afterInjection = injected > 0;
                if (afterInjection) {
                    callsAfterFirstInjection++;
                }
                if (!armed || failuresLeft == 0 || !threads.test(Thread.currentThread())) {
                    return afterInjection;
                }
                if (successesBeforeFailing > 0) {
                    successesBeforeFailing--;
                    return afterInjection;
                }
                failuresLeft--;
                injected++;
                hook = onInjection;
                delay = describeDelayNanos;
            }
            try {
                hook.run();
            } finally {
                firstInjection.countDown();
            }
            throw new InjectedIOException(message + " (" + operation + " of " + path + ")", delay);
        }

        private void succeeded(boolean afterInjection) {
            if (afterInjection) {
                successesAfterFirstInjection.incrementAndGet();
            }
        }
    }

    /** The exception a fault throws. */
    public static final class InjectedIOException extends IOException {
        private static final long serialVersionUID = 1L;
        private final transient long describeDelayNanos;

        InjectedIOException(String message, long describeDelayNanos) {
            super(message);
            this.describeDelayNanos = describeDelayNanos;
        }

        @Override
        public String toString() {
            sleepNanos(describeDelayNanos);
            return super.toString();
        }
    }

    /** Consults the write faults as for a channel write, then lets the delegate see the write. */
    @Override
    public void writeThroughDescriptor(FileChannel channel, ByteBuffer data, long position, DescriptorIo write)
            throws IOException {
        if (!(channel instanceof Channel ours)) {
            delegate.writeThroughDescriptor(channel, data, position, write);
            return;
        }
        boolean after = ours.beforeWrite();
        delegate.writeThroughDescriptor(ours.inner(), data, position, write);
        ours.afterWrite(after, data.remaining());
    }

    /** Consults the fdatasync faults as for a channel {@code force}, then lets the delegate see the sync. */
    @Override
    public void syncThroughDescriptor(FileChannel channel, DescriptorIo sync) throws IOException {
        if (!(channel instanceof Channel ours)) {
            delegate.syncThroughDescriptor(channel, sync);
            return;
        }
        ours.forceWith(() -> delegate.syncThroughDescriptor(ours.inner(), sync));
    }

    /**
     * Consults the write faults once per buffer and the fdatasync faults, as for channel writes
     * followed by a {@code force}, then lets the delegate run the linked writes and sync. An injected
     * fault throws before anything runs.
     */
    @Override
    public void writeAndSyncThroughDescriptor(FileChannel channel, ByteBuffer[] data, long position,
            DescriptorIo writeAndSync) throws IOException {
        if (!(channel instanceof Channel ours)) {
            delegate.writeAndSyncThroughDescriptor(channel, data, position, writeAndSync);
            return;
        }
        for (var buffer : data) {
            boolean after = ours.beforeWrite();
            ours.afterWrite(after, buffer.remaining());
        }
        ours.forceWith(() -> delegate.writeAndSyncThroughDescriptor(ours.inner(), data, position, writeAndSync));
    }

    /** A channel that consults the faults and tracks unsynced writes. */
    private final class Channel extends ForwardingFileChannel {
        volatile Path path;
        private final AtomicLong writeCalls = new AtomicLong();
        private final AtomicLong syncedWriteCalls = new AtomicLong();

        Channel(FileChannel delegate, Path path) {
            super(delegate);
            this.path = path;
        }

        private boolean beforeWrite() throws IOException {
            var p = path;
            slowWrites.sleepIfMatches(p);
            return writes.enter(p);
        }

        private <T extends Number> T afterWrite(boolean afterInjection, T written) {
            writes.succeeded(afterInjection);
            if (written.longValue() > 0) {
                writeCalls.incrementAndGet();
            }
            return written;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            boolean after = beforeWrite();
            return afterWrite(after, delegate().write(src));
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            boolean after = beforeWrite();
            return afterWrite(after, delegate().write(srcs, offset, length));
        }

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            boolean after = beforeWrite();
            return afterWrite(after, delegate().write(src, position));
        }

        @Override
        public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
            boolean after = beforeWrite();
            return afterWrite(after, delegate().transferFrom(src, position, count));
        }

        FileChannel inner() {
            return delegate();
        }

        @Override
        public void force(boolean metaData) throws IOException {
            forceWith(() -> delegate().force(metaData));
        }

        void forceWith(DescriptorIo force) throws IOException {
            var p = path;
            slowForces.sleepIfMatches(p);
            boolean after = forces.enter(p);
            long covered = writeCalls.get();
            force.run();
            forces.succeeded(after);
            syncedWriteCalls.accumulateAndGet(covered, Math::max);
        }

        @Override
        protected void implCloseChannel() throws IOException {
            openChannels.remove(this);
            if (writeCalls.get() > syncedWriteCalls.get()) {
                closedUnsynced.add(path);
            }
            super.implCloseChannel();
        }
    }
}

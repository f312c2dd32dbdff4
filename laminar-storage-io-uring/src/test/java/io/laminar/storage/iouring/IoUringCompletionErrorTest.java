package io.laminar.storage.iouring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalFailedException;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalOptions;
import io.laminar.storage.wal.WalRecord;
import io.laminar.storage.wal.WriteAheadLog;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A completion entry with an error fails the log stop, for a linked write + fdatasync (the default)
 * and for separate submissions, under every-append and group commit:
 * <ul>
 *   <li>the write fails: the io_uring write descriptor of the active segment is replaced (dup3) by a
 *       read-only descriptor of the same file, so the kernel completes the next IORING_OP_WRITE with
 *       -EBADF (and cancels the linked fdatasync, -ECANCELED);</li>
 *   <li>the linked fdatasync fails after a complete write: the descriptor is replaced by one of
 *       {@code /dev/null}, which takes the write in full and answers the fdatasync with -EINVAL.</li>
 * </ul>
 * Either way the durable append fails, the log refuses every later append, and every record
 * acknowledged before is read back by file-channel.
 */
class IoUringCompletionErrorTest {

    private static final boolean AARCH64 = System.getProperty("os.arch").equals("aarch64");
    private static final long SYS_OPENAT = AARCH64 ? 56 : 257;
    private static final long SYS_DUP3 = AARCH64 ? 24 : 292;
    private static final long SYS_CLOSE = AARCH64 ? 57 : 3;
    private static final int O_WRONLY = 1;
    private static final int O_CLOEXEC = 0x80000;

    @TempDir
    Path dir;

    private String linkedBefore;
    private String fixedBefore;

    @BeforeEach
    void ioUringRunsHere() {
        IoUringAvailable.assumeAvailable();
        linkedBefore = System.getProperty(IoUringProvider.LINKED_PROPERTY);
        fixedBefore = System.getProperty(IoUringProvider.FIXED_BUFFERS_PROPERTY);
    }

    @AfterEach
    void restoreTheSettings() {
        restore(IoUringProvider.LINKED_PROPERTY, linkedBefore);
        restore(IoUringProvider.FIXED_BUFFERS_PROPERTY, fixedBefore);
    }

    private static void restore(String property, String value) {
        if (value == null) {
            System.clearProperty(property);
        } else {
            System.setProperty(property, value);
        }
    }

    /** Sync policy, linked write + fdatasync, registered write buffer (WRITE_FIXED). */
    static Stream<Arguments> submissions() {
        return Stream.of(Arguments.of("every-append", true, false), Arguments.of("group-commit", true, false),
                Arguments.of("every-append", true, true), Arguments.of("group-commit", true, true),
                Arguments.of("every-append", false, false), Arguments.of("group-commit", false, false));
    }

    @ParameterizedTest(name = "{0}, linked {1}, fixed buffer {2}")
    @MethodSource("submissions")
    void aWriteCompletionWithAnErrorFailsTheLogAndLosesNothingAcknowledged(String policy, boolean linked,
            boolean fixed) throws Exception {
        failTheNextSubmission(policy, linked, fixed, null, "EBADF", "io_uring write");
    }

    @ParameterizedTest(name = "{0}, linked {1}, fixed buffer {2}")
    @MethodSource("submissions")
    void anFdatasyncCompletionWithAnErrorFailsTheLogAndLosesNothingAcknowledged(String policy, boolean linked,
            boolean fixed) throws Exception {
        failTheNextSubmission(policy, linked, fixed, Path.of("/dev/null"), "EINVAL", "io_uring fdatasync");
    }

    /**
     * Acknowledges 20 records, replaces the io_uring descriptor by {@code replacement} opened
     * write-only (or the segment itself read-only when null), and checks the next durable append fails
     * with {@code errno} in a message starting {@code what}.
     */
    private void failTheNextSubmission(String policy, boolean linked, boolean fixed, Path replacement, String errno,
            String what) throws Exception {
        System.setProperty(IoUringProvider.LINKED_PROPERTY, Boolean.toString(linked));
        System.setProperty(IoUringProvider.FIXED_BUFFERS_PROPERTY, Boolean.toString(fixed));
        var options = WalOptions.builder().ioBackend(WalIoBackend.IO_URING).segmentSize(1024 * 1024).maxRecordSize(8192)
                .syncPolicy(policy.equals("every-append") ? SyncPolicy.everyAppend() : SyncPolicy.groupCommit()).build();
        var acknowledged = new ArrayList<String>();
        try (var wal = WriteAheadLog.open(dir, options)) {
            for (int i = 0; i < 20; i++) {
                var record = "record " + i;
                wal.appendDurable(record.getBytes(StandardCharsets.UTF_8)).get(10, TimeUnit.SECONDS);
                acknowledged.add(record);
            }
            var segment = wal.segmentFile(wal.writtenPosition() - 1);
            int replaced = replaceWriteDescriptors(segment, replacement);
            assertThat(replaced).as("io_uring write descriptors of %s", segment).isEqualTo(1);

            assertThatThrownBy(() -> wal.appendDurable("never acknowledged".getBytes(StandardCharsets.UTF_8))
                    .get(10, TimeUnit.SECONDS)).hasStackTraceContaining(errno)
                    .hasStackTraceContaining(segment.toString());
            assertThat(wal.isFailed()).isTrue();
            assertThat(wal.failure()).get(InstanceOfAssertFactories.THROWABLE).hasMessageContaining(what)
                    .hasMessageContaining(errno);
            assertThatThrownBy(() -> wal.appendDurable("after the failure".getBytes(StandardCharsets.UTF_8))
                    .get(10, TimeUnit.SECONDS)).isInstanceOfAny(WalFailedException.class, ExecutionException.class);
        }
        try (var wal = WriteAheadLog.open(dir, WalOptions.builder().segmentSize(1024 * 1024).maxRecordSize(8192).build())) {
            assertThat(readAll(wal)).startsWith(acknowledged.toArray(String[]::new))
                    .doesNotContain("after the failure");
        }
    }

    private static List<String> readAll(WriteAheadLog wal) {
        var out = new ArrayList<String>();
        try (var reader = wal.reader()) {
            for (WalRecord r; (r = reader.next()) != null; ) {
                out.add(new String(r.payloadBytes(), StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    /**
     * dup3s a descriptor over each write-only descriptor of {@code file} in this process (the io_uring
     * writer's; the log's channel is O_RDWR): of {@code replacement} opened write-only, or of
     * {@code file} itself opened read-only when {@code replacement} is null.
     */
    private static int replaceWriteDescriptors(Path file, Path replacement) throws IOException {
        var target = file.toRealPath();
        int replaced = 0;
        try (var fds = Files.list(Path.of("/proc/self/fd")); var arena = Arena.ofConfined()) {
            for (var fdPath : fds.toList()) {
                Path link;
                try {
                    link = Files.readSymbolicLink(fdPath);
                } catch (IOException e) {
                    continue; // closed meanwhile
                }
                if (!link.equals(target)) {
                    continue;
                }
                int fd = Integer.parseInt(fdPath.getFileName().toString());
                var info = Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd));
                int flags = info.stream().filter(line -> line.startsWith("flags:"))
                        .map(line -> Integer.parseInt(line.substring(6).trim(), 8)).findFirst().orElseThrow();
                if ((flags & 3) != 1) {
                    continue; // O_RDWR: the log's channel; only the io_uring descriptor is O_WRONLY
                }
                var path = replacement == null ? target : replacement;
                long other = IoUring.syscall(SYS_OPENAT, -100, arena.allocateFrom(path.toString()).address(),
                        (replacement == null ? 0 : O_WRONLY) | O_CLOEXEC, 0, 0, 0);
                assertThat(other).as("openat %s", path).isNotNegative();
                assertThat(IoUring.syscall(SYS_DUP3, other, fd, O_CLOEXEC, 0, 0, 0)).as("dup3").isEqualTo(fd);
                IoUring.syscall(SYS_CLOSE, other, 0, 0, 0, 0, 0);
                replaced++;
            }
        }
        return replaced;
    }
}

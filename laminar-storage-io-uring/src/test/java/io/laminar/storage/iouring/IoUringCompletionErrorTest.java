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
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A completion entry with an error fails the log stop: the io_uring write descriptor of the active
 * segment is replaced (dup3) by a read-only descriptor of the same file, so the kernel completes the
 * next IORING_OP_WRITE with -EBADF. The durable append fails, the log refuses every later append,
 * and every record acknowledged before is read back by file-channel.
 */
class IoUringCompletionErrorTest {

    private static final boolean AARCH64 = System.getProperty("os.arch").equals("aarch64");
    private static final long SYS_OPENAT = AARCH64 ? 56 : 257;
    private static final long SYS_DUP3 = AARCH64 ? 24 : 292;
    private static final long SYS_CLOSE = AARCH64 ? 57 : 3;
    private static final int O_CLOEXEC = 0x80000;

    @TempDir
    Path dir;

    @BeforeEach
    void ioUringRunsHere() {
        IoUringAvailable.assumeAvailable();
    }

    @Test
    void aCompletionWithAnErrorFailsTheLogAndLosesNothingAcknowledged() throws Exception {
        var options = WalOptions.builder().ioBackend(WalIoBackend.IO_URING).segmentSize(1024 * 1024).maxRecordSize(8192)
                .syncPolicy(SyncPolicy.everyAppend()).build();
        var acknowledged = new ArrayList<String>();
        try (var wal = WriteAheadLog.open(dir, options)) {
            for (int i = 0; i < 20; i++) {
                var record = "record " + i;
                wal.appendDurable(record.getBytes(StandardCharsets.UTF_8)).get(10, TimeUnit.SECONDS);
                acknowledged.add(record);
            }
            var segment = wal.segmentFile(wal.writtenPosition() - 1);
            int replaced = replaceWriteDescriptorsWithReadOnly(segment);
            assertThat(replaced).as("io_uring write descriptors of %s", segment).isEqualTo(1);

            assertThatThrownBy(() -> wal.appendDurable("never acknowledged".getBytes(StandardCharsets.UTF_8))
                    .get(10, TimeUnit.SECONDS)).hasStackTraceContaining("EBADF")
                    .hasStackTraceContaining(segment.toString());
            assertThat(wal.isFailed()).isTrue();
            assertThat(wal.failure()).get(InstanceOfAssertFactories.THROWABLE).hasMessageContaining("io_uring write");
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

    /** dup3s a read-only descriptor of {@code file} over each write-only descriptor of it in this process. */
    private static int replaceWriteDescriptorsWithReadOnly(Path file) throws IOException {
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
                long readOnly = IoUring.syscall(SYS_OPENAT, -100, arena.allocateFrom(target.toString()).address(),
                        O_CLOEXEC, 0, 0, 0);
                assertThat(readOnly).as("openat read-only").isNotNegative();
                assertThat(IoUring.syscall(SYS_DUP3, readOnly, fd, O_CLOEXEC, 0, 0, 0)).as("dup3").isEqualTo(fd);
                IoUring.syscall(SYS_CLOSE, readOnly, 0, 0, 0, 0, 0);
                replaced++;
            }
        }
        return replaced;
    }
}

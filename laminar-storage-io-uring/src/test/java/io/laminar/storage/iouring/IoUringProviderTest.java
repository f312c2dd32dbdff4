package io.laminar.storage.iouring;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Detection honours {@code kernel.io_uring_disabled}: at 2 the kernel refuses every io_uring, and the
 * provider says so, naming the sysctl and the fix, without trying. The file is a copy with the
 * value; the real sysctl is never changed by a test (it is the machine's). The refusal through
 * {@code io_uring_setup} itself is tested for real by {@link IoUringRefusedBySeccompTest}.
 */
class IoUringProviderTest {

    @TempDir
    Path dir;

    @Test
    void ioUringDisabledAtTwoMakesTheBackendUnavailableNamingTheSysctlAndTheFix() throws Exception {
        var sysctl = Files.writeString(dir.resolve("io_uring_disabled"), "2\n");

        var unavailable = IoUringProvider.probe(sysctl);

        assertThat(unavailable).isPresent();
        assertThat(unavailable.get().reason()).contains("kernel.io_uring_disabled is 2").contains(sysctl.toString());
        assertThat(unavailable.get().fix()).contains("sysctl -w kernel.io_uring_disabled=0")
                .contains("kernel.io_uring_group");
    }

    @Test
    void ioUringDisabledAtZeroOrAbsentLeavesTheDecisionToTheKernel() throws Exception {
        IoUringAvailable.assumeAvailable();
        assertThat(IoUringProvider.probe(Files.writeString(dir.resolve("io_uring_disabled"), "0\n"))).isEmpty();
        assertThat(IoUringProvider.probe(dir.resolve("absent"))).isEmpty();
    }
}

package io.laminar.storage.percore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.StorageException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectedPerCoreWalTest {

    @TempDir
    Path dir;

    @Test
    void aSegmentDeletedAfterTheInspectionIsReportedAsAChangeNotAsAnotherWalsBarrier() throws Exception {
        var options = PerCoreWalOptions.builder().cores(1).maxEntrySize(1024).wal(w -> w.segmentSize(1 << 20)).build();
        long barrier;
        long epoch;
        try (var wal = PerCoreWalManager.open(dir, options)) {
            var writer = wal.writer(0);
            wal.whenDurable(0, writer.append(ByteBuffer.wrap(new byte[16]))).join();
            var cut = PerCoreWalTest.prepareWhilePolling(wal, Duration.ofSeconds(10), 0).join();
            barrier = cut.replayFrom().position(0);
            epoch = cut.epoch();
        }
        var view = PerCoreWalView.inspect(dir);
        assertThat(view.isBarrierAt(0, barrier, epoch)).isTrue();
        assertThat(view.isBarrierAt(0, barrier, epoch + 1)).isFalse();

        // A live application truncates the log while a read-only command still holds the inspection.
        try (var segments = Files.list(dir)) {
            for (var segment : segments.filter(p -> p.getFileName().toString().endsWith(".wal")).toList()) {
                Files.delete(segment);
            }
        }
        assertThatThrownBy(() -> view.isBarrierAt(0, barrier, epoch)).isInstanceOf(StorageException.class)
                .hasMessageContaining("core 0").hasMessageContaining("changed while it was inspected")
                .hasMessageContaining("run the command again");
    }
}

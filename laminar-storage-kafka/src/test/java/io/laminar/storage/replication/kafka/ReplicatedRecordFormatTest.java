package io.laminar.storage.replication.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.StorageException;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class ReplicatedRecordFormatTest {

    @Test
    void everyFieldComesBackAsWritten() {
        var change = ByteBuffer.wrap(new byte[] {3});
        var value = ReplicatedRecordFormat.encode(7, 9, 42, 1234, -5, change);
        assertThat(value).hasSize(ReplicatedRecordFormat.HEADER_BYTES + 1);
        assertThat(change.position()).as("the change buffer is not moved").isZero();
        var decoded = ReplicatedRecordFormat.decode(value, "t partition 0 offset 3");
        assertThat(decoded.core()).isEqualTo(7);
        assertThat(decoded.cores()).isEqualTo(9);
        assertThat(decoded.epoch()).isEqualTo(42);
        assertThat(decoded.sequence()).isEqualTo(1234);
        assertThat(decoded.session()).isEqualTo(-5);
        assertThat(decoded.change().remaining()).isEqualTo(1);
        assertThat(decoded.change().get(0)).isEqualTo((byte) 3);
    }

    @Test
    void aRecordOfTheFirstVersionIsRefusedWithWhatToDo() {
        var v1 = new byte[26];
        v1[0] = 1;
        assertThatThrownBy(() -> ReplicatedRecordFormat.decode(v1, "t partition 2 offset 9"))
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("the replicated record at t partition 2 offset 9 has format version 1")
                .hasMessageContaining("let it take a checkpoint");
    }

    @Test
    void aShortValueOrAnUnknownVersionIsRefused() {
        var shortValue = new byte[ReplicatedRecordFormat.HEADER_BYTES];
        shortValue[0] = ReplicatedRecordFormat.VERSION;
        assertThatThrownBy(() -> ReplicatedRecordFormat.decode(shortValue, "t partition 0 offset 1"))
                .isInstanceOf(StorageException.class)
                .hasMessageContaining("has 33 value bytes, fewer than the 34 of the smallest change");
        assertThatThrownBy(() -> ReplicatedRecordFormat.decode(null, "t partition 0 offset 1"))
                .isInstanceOf(StorageException.class).hasMessageContaining("has no value bytes");
        var future = new byte[40];
        future[0] = 3;
        assertThatThrownBy(() -> ReplicatedRecordFormat.decode(future, "t partition 0 offset 2"))
                .isInstanceOf(StorageException.class).hasMessageContaining("has format version 3");
    }
}

package io.laminar.storage.sample;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class StateValuesTest {

    @Test
    void everyValueReadsBackWhatWasWritten() {
        var account = new Account(new BigInteger("-123456789012345678901234567890"), 42, "batch-ü", 1_000_000_007L);
        assertThat(Account.decode(account.encode(), "k")).isEqualTo(account);
        assertThat(Account.decode(Account.EMPTY.encode(), "k")).isEqualTo(Account.EMPTY);

        var digest = new byte[Batch.DIGEST_LENGTH];
        Arrays.fill(digest, (byte) 7);
        var part = new BatchPart("b", digest, true, List.of(new BatchPart.KeyDelta("ключ", -5, 2),
                new BatchPart.KeyDelta("x".repeat(Event.MAX_KEY_BYTES), Long.MIN_VALUE, 1000)));
        var read = BatchPart.decode(part.encode(), 3);
        assertThat(read.batchId()).isEqualTo("b");
        assertThat(read.owner()).isTrue();
        assertThat(read.digest()).isEqualTo(digest);
        assertThat(read.deltas()).isEqualTo(part.deltas());

        var marker = BatchMarker.decode(new BatchMarker(true, digest).encode(), "b");
        assertThat(marker.owner()).isTrue();
        assertThat(marker.digest()).isEqualTo(digest);
        assertThat(BatchMarker.isOwner(new BatchMarker(false, digest).encode())).isFalse();

        var position = new SourcePosition("/tmp/events.jsonl", 123);
        assertThat(SourcePosition.decode(position.encode(), 0)).isEqualTo(position);
    }

    @Test
    void aDamagedValueIsRefusedNamingWhatItBelongsTo() {
        var account = new Account(BigInteger.TEN, 1, "batch", -1).encode();
        assertThatThrownBy(() -> Account.decode(Arrays.copyOf(account, 10), "alice"))
                .hasMessageContaining("the account of key 'alice'").hasMessageContaining("laminar.storage.dir");
        account[0] = 9;
        assertThatThrownBy(() -> Account.decode(account, "alice")).hasMessageContaining("version 9, expected 1");
        var part = new BatchPart("b", new byte[Batch.DIGEST_LENGTH], false,
                List.of(new BatchPart.KeyDelta("k", 1, 1))).encode();
        assertThatThrownBy(() -> BatchPart.decode(Arrays.copyOf(part, part.length + 1), 2))
                .hasMessageContaining("pending batch part of core 2").hasMessageContaining("1 bytes after its last key");
        assertThatThrownBy(() -> BatchPart.decode(Arrays.copyOf(part, part.length - 1), 2))
                .hasMessageContaining("shorter than its format says");
        assertThatThrownBy(() -> BatchPart.decode(Arrays.copyOf(part, part.length - 3), 2))
                .hasMessageContaining("says it holds 1 keys in 12 bytes");
    }
}

package io.laminar.storage.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OwnerFencesTest {

    private static CheckpointManifest manifest(long id, Map<String, ConnectorCheckpoint> sources) {
        return new CheckpointManifest(id, 1, Instant.parse("2026-01-01T00:00:00Z"), List.of(0L), sources, Map.of(),
                List.of(), null, 0, 0, 0);
    }

    @Test
    void aManifestOfAnOlderOwnerAboveANewerOwnersFencePointIsVoid() {
        // Epoch 2 claimed when checkpoint 10 was the newest, epoch 3 when 14 was.
        var fences = OwnerFences.of(Map.of(2L, 10L, 3L, 14L));
        assertThat(fences.voidReason(10, 1)).isEmpty();
        assertThat(fences.voidReason(11, 1)).get().asString()
                .contains("published by owner epoch 1 after owner epoch 2 took the shard over")
                .contains("up to 10");
        // Epoch 2's own checkpoints are void only above epoch 3's fence point.
        assertThat(fences.voidReason(14, 2)).isEmpty();
        assertThat(fences.voidReason(15, 2)).get().asString().contains("owner epoch 3");
        assertThat(fences.voidReason(99, 3)).isEmpty();
        assertThat(fences.voidReason(manifest(11, Map.of(OwnerFences.SOURCE_NAME, OwnerFences.tag(1))))).isPresent();
        // Untagged manifests come from a writer that never claimed (the only one): never void.
        assertThat(fences.voidReason(manifest(11, Map.of()))).isEmpty();
        assertThat(fences.voidReason(99, -1)).isEmpty();
        // No claim, no void manifest; an epoch claimed on an empty store fences everything of older owners.
        assertThat(OwnerFences.of(Map.of()).voidReason(5, 0)).isEmpty();
        assertThat(OwnerFences.of(Map.of(1L, -1L)).voidReason(0, 0)).isPresent();
    }

    @Test
    void theWriterEpochIsTheTagOrZeroAndADamagedTagIsRefused() {
        assertThat(OwnerFences.writerEpoch(manifest(1, Map.of(OwnerFences.SOURCE_NAME, OwnerFences.tag(7)))))
                .isEqualTo(7);
        assertThat(OwnerFences.writerEpoch(manifest(1, Map.of()))).isEqualTo(-1);
        var damaged = manifest(3, Map.of(OwnerFences.SOURCE_NAME,
                new ConnectorCheckpoint(Map.of(OwnerFences.EPOCH_KEY, "seven"), Map.of())));
        assertThatThrownBy(() -> OwnerFences.writerEpoch(damaged)).isInstanceOf(CheckpointCorruptException.class)
                .hasMessageContaining("checkpoint 3").hasMessageContaining("'seven'");
    }
}

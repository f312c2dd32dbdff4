package io.laminar.storage.sample;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.changelog.CoreCut;
import io.laminar.storage.changelog.CutContext;
import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.ChangelogSink;
import io.laminar.storage.store.ConnectorCheckpoint;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FileSourceCheckpointsTest {

    private static CoreCut cut(int core, long offset) {
        var store = new ChangelogAwareStateStore(ChangelogSink.NONE);
        if (offset >= 0) {
            store.put(StateKeys.source(), new SourcePosition("/data/e.jsonl", offset).encode());
        }
        return new CoreCut(core, 1, store.snapshot(), FileSourceCheckpoints.cutContext(core, store));
    }

    @Test
    void theManifestRecordsTheLowestOffsetOfAllCoresAndEachCoresOwn() {
        var sources = FileSourceCheckpoints.sources(List.of(cut(0, 900), cut(1, 400), cut(2, 1200)));

        assertThat(sources).containsOnlyKeys(FileSourceCheckpoints.CONNECTOR);
        var connector = sources.get(FileSourceCheckpoints.CONNECTOR);
        assertThat(connector.offsets()).isEqualTo(Map.of("/data/e.jsonl", "400"));
        assertThat(connector.metadata()).isEqualTo(Map.of("core-0000", "900", "core-0001", "400", "core-0002", "1200"));
        assertThat(FileSourceCheckpoints.resumePoint(sources)).contains(new SourcePosition("/data/e.jsonl", 400));
    }

    @Test
    void aCoreThatHasNotAppliedTheFirstChunkYetHoldsTheOffsetAtZero() {
        var sources = FileSourceCheckpoints.sources(List.of(cut(0, 900), cut(1, -1)));
        assertThat(FileSourceCheckpoints.resumePoint(sources)).contains(new SourcePosition("/data/e.jsonl", 0));
    }

    @Test
    void withoutAFileSourceTheManifestHasNoConnectorAndTheSourceStartsAtZero() {
        assertThat(FileSourceCheckpoints.cutContext(0, new ChangelogAwareStateStore(ChangelogSink.NONE)))
                .isEqualTo(CutContext.EMPTY);
        assertThat(FileSourceCheckpoints.sources(List.of(cut(0, -1), cut(1, -1)))).isEmpty();
        assertThat(FileSourceCheckpoints.resumePoint(Map.of())).isEmpty();
        assertThat(FileSourceCheckpoints.resumePoint(Map.of("core-0000", new ConnectorCheckpoint(Map.of(), Map.of()))))
                .isEmpty();
    }
}

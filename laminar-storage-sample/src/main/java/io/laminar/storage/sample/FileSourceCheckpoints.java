package io.laminar.storage.sample;

import io.laminar.storage.changelog.CoreCut;
import io.laminar.storage.changelog.CutContext;
import io.laminar.storage.checkpoint.CoreChains;
import io.laminar.storage.state.StateStore;
import io.laminar.storage.store.ConnectorCheckpoint;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How the file source's offset gets into a checkpoint's manifest and back out.
 *
 * <ol>
 *   <li>At its cut, each core reports the {@link SourcePosition} in its state at that very point
 *       ({@link #cutContext}): source offsets {@code file} and {@code offset}.</li>
 *   <li>The coordinator makes the manifest's sources of the cores' cuts ({@link #sources}): one
 *       connector {@value #CONNECTOR} whose offsets map the file's absolute path to the lowest
 *       offset of all cores (a core that reported none counts as 0), and whose metadata holds each
 *       core's offset under {@code core-NNNN}. Every line before that offset is in the checkpoint's
 *       state of every core.</li>
 *   <li>After a restart the source resumes from that offset ({@link #resumePoint}). The restored
 *       state may hold more (WAL records after the checkpoint, parts of chunks some cores applied):
 *       the lines read again are skipped per key ({@link CoreLedger#applyLines}).</li>
 * </ol>
 * Stateless.
 */
final class FileSourceCheckpoints {

    /** The name of the file source's connector in the manifest. */
    static final String CONNECTOR = "file-source";

    private FileSourceCheckpoints() {
    }

    /** What core {@code core} reports at its cut: its position in the file source, if it has one. */
    static CutContext cutContext(int core, StateStore store) {
        var position = CoreLedger.position(store, core);
        if (position == null) {
            return CutContext.EMPTY;
        }
        return CutContext.ofSourceOffsets(Map.of("file", position.file(), "offset", Long.toString(position.offset())));
    }

    /** The manifest's sources made of the cores' cuts: nothing if no core has read the file source. */
    static Map<String, ConnectorCheckpoint> sources(List<CoreCut> cuts) {
        String file = null;
        long lowest = Long.MAX_VALUE;
        var perCore = new LinkedHashMap<String, String>();
        for (var cut : cuts) {
            var offsets = cut.sourceOffsets();
            var name = CoreChains.name(cut.core());
            if (!offsets.containsKey("file")) {
                lowest = 0;
                perCore.put(name, "0");
                continue;
            }
            if (file != null && !file.equals(offsets.get("file"))) {
                throw new IllegalStateException("the cores applied two source files, " + file + " and "
                        + offsets.get("file"));
            }
            file = offsets.get("file");
            long offset = Long.parseLong(offsets.get("offset"));
            lowest = Math.min(lowest, offset);
            perCore.put(name, Long.toString(offset));
        }
        if (file == null) {
            return Map.of();
        }
        return Map.of(CONNECTOR, new ConnectorCheckpoint(Map.of(file, Long.toString(lowest)), perCore));
    }

    /** Where the file source resumes according to the restored checkpoint's sources, if it has any. */
    static Optional<SourcePosition> resumePoint(Map<String, ConnectorCheckpoint> recovered) {
        var connector = recovered.get(CONNECTOR);
        if (connector == null || connector.offsets().isEmpty()) {
            return Optional.empty();
        }
        if (connector.offsets().size() != 1) {
            throw new IllegalStateException("the checkpoint's connector " + CONNECTOR + " holds offsets of "
                    + connector.offsets().keySet() + ", but the sample writes exactly one file");
        }
        var entry = connector.offsets().entrySet().iterator().next();
        return Optional.of(new SourcePosition(entry.getKey(), Long.parseLong(entry.getValue())));
    }
}

package io.laminar.storage.store;

import java.util.Map;

/**
 * Where one source connector stands at a checkpoint, so that after recovery it resumes exactly
 * where the restored state ends. Immutable.
 *
 * @param offsets  the connector's positions, e.g. partition to offset, or a file name to a byte offset
 * @param metadata anything else the connector needs to resume
 */
public record ConnectorCheckpoint(Map<String, String> offsets, Map<String, String> metadata) {

    public ConnectorCheckpoint {
        offsets = Map.copyOf(offsets);
        metadata = Map.copyOf(metadata);
    }
}

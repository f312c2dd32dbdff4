package io.laminar.storage.sample;

import java.util.List;

/**
 * One core's part of a chunk of the file source: the lines of the chunk whose keys are on the core,
 * grouped by key in file order, and the offset where the chunk ends. Every core gets a part of
 * every chunk, empty or not, so that each core's {@link SourcePosition} advances. Immutable.
 *
 * @param file the absolute path of the source file
 * @param end  the offset after the chunk's last line
 * @param keys per key, its lines of the chunk in ascending offset order
 */
record FilePart(String file, long end, List<KeyLines> keys) {

    /** The lines of one key: {@code offsets[i]} is where the line of {@code amounts[i]} starts. */
    record KeyLines(String key, long[] offsets, long[] amounts) {
    }

    FilePart {
        keys = List.copyOf(keys);
    }

    /** What applying a part did: lines applied, and lines skipped because they were applied before. */
    record Outcome(long applied, long alreadyApplied) {
    }
}

package io.laminar.storage.store;

import java.util.Objects;

/**
 * A state file a checkpoint depends on. Immutable.
 *
 * @param path   relative to the store root, with '/' separators; never absolute, never with "..":
 *               a manifest naming such a path is refused
 * @param size   the file's size in bytes
 * @param crc32c the CRC32C of the whole file, as 8 lowercase hex digits
 */
public record StateFileRef(String path, long size, String crc32c) {

    public StateFileRef {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(crc32c, "crc32c");
        if (size < 0) {
            throw new IllegalArgumentException("size of state file " + path + " must not be negative, but was " + size);
        }
    }
}

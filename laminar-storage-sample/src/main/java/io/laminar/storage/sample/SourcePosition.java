package io.laminar.storage.sample;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Through which byte offset of which file a core has applied the file source: every line that
 * starts before {@code offset} and belongs to this core is in the core's state. Immutable.
 *
 * <h2>Format (the value of state key {@code 's'})</h2>
 * <pre>
 * byte 0       format version, 1
 * bytes 1..8   offset, signed big-endian (the first byte not yet applied)
 * bytes 9..end the file's absolute path, UTF-8
 * </pre>
 *
 * @param file   the absolute path of the source file
 * @param offset the first byte offset not yet applied by this core
 */
record SourcePosition(String file, long offset) {

    static final int VERSION = 1;

    byte[] encode() {
        var path = file.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(9 + path.length).put((byte) VERSION).putLong(offset).put(path).array();
    }

    static SourcePosition decode(byte[] value, int core) {
        var what = "the file source position of core " + core;
        try {
            var in = Values.open(value, VERSION, what);
            long offset = in.getLong();
            return new SourcePosition(Values.string(in, in.remaining(), what), offset);
        } catch (BufferUnderflowException e) {
            throw Values.truncated(what, e);
        }
    }
}

package io.laminar.storage.sample;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Reading the sample's state values with errors that say which value is damaged. */
final class Values {

    private Values() {
    }

    /** A reader over {@code value}, after checking its version byte. */
    static ByteBuffer open(byte[] value, int version, String what) {
        if (value.length == 0 || value[0] != version) {
            throw corrupt(what, "starts with version " + (value.length == 0 ? "(none: empty value)" : value[0])
                    + ", expected " + version);
        }
        var buffer = ByteBuffer.wrap(value);
        buffer.get();
        return buffer;
    }

    static String string(ByteBuffer buffer, int length, String what) {
        if (length < 0 || length > buffer.remaining()) {
            throw corrupt(what, "holds a string of " + length + " bytes but only " + buffer.remaining() + " remain");
        }
        var s = new String(buffer.array(), buffer.position(), length, StandardCharsets.UTF_8);
        buffer.position(buffer.position() + length);
        return s;
    }

    static IllegalStateException corrupt(String what, String problem) {
        return new IllegalStateException(what + " " + problem + ": the state under laminar.storage.dir was not "
                + "written by this version of the sample; point laminar.storage.dir at a new directory");
    }

    static IllegalStateException truncated(String what, BufferUnderflowException e) {
        var ex = corrupt(what, "is shorter than its format says");
        ex.initCause(e);
        return ex;
    }
}

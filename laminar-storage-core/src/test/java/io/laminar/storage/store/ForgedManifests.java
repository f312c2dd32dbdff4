package io.laminar.storage.store;

import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.ManifestCodec;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.UnaryOperator;

/**
 * Manifests as a broken writer or an attacker would store them: JSON edited and sealed with a
 * checksum that matches, so that the checks behind the checksum are the ones tested.
 */
public final class ForgedManifests {

    /** The length of the checksum trailer of a stored manifest ({@code {"crc32c":"…"}\n}). */
    static final int TRAILER_LENGTH = "{\"crc32c\":\"0a1b2c3d\"}\n".length();

    private ForgedManifests() {
    }

    /** The JSON body of a stored manifest, without its checksum trailer. */
    public static String body(byte[] stored) {
        return new String(stored, 0, stored.length - TRAILER_LENGTH, StandardCharsets.UTF_8);
    }

    /** The manifest's stored form with its JSON body edited, sealed with a matching checksum. */
    public static byte[] edited(CheckpointManifest manifest, UnaryOperator<String> edit) {
        return sealed(edit.apply(body(ManifestCodec.encode(manifest))));
    }

    /** Any JSON text sealed with a matching checksum. */
    public static byte[] sealed(String json) {
        var body = json.getBytes(StandardCharsets.UTF_8);
        // seal() adds the newline the body ends with; a body taken from a stored manifest has it already.
        if (body.length > 0 && body[body.length - 1] == '\n') {
            body = Arrays.copyOf(body, body.length - 1);
        }
        return ManifestCodec.seal(body);
    }

    /** {@code stored} with bit {@code bit} (0 = the lowest bit of the first byte) inverted. */
    public static byte[] withBitFlipped(byte[] stored, int bit) {
        var flipped = stored.clone();
        flipped[bit / 8] ^= (byte) (1 << (bit % 8));
        return flipped;
    }
}

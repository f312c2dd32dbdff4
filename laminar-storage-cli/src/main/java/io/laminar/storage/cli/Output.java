package io.laminar.storage.cli;

import io.laminar.storage.report.CheckpointCharts;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import tools.jackson.databind.ObjectWriter;
import tools.jackson.databind.json.JsonMapper;

/** Formatting shared by the commands: sizes, plurals, bytes as text or hex, JSON. Stateless. */
final class Output {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final ObjectWriter PRETTY = JSON.writerWithDefaultPrettyPrinter();
    private static final ObjectWriter COMPACT = JSON.writer();

    private Output() {
    }

    /** {@code value} as indented JSON, one document. */
    static void printJson(PrintWriter out, Object value) {
        out.println(PRETTY.writeValueAsString(value));
        out.flush();
    }

    /** {@code value} as one line of JSON (JSON Lines). */
    static void printJsonLine(PrintWriter out, Object value) {
        out.println(COMPACT.writeValueAsString(value));
    }

    /** The plural ending for {@code n} things: {@code ""} for one, else {@code "s"}. */
    static String plural(long n) {
        return n == 1 ? "" : "s";
    }

    /** {@code 1.5 MiB}: the same labels as the report's charts. */
    static String bytes(long n) {
        return CheckpointCharts.label(n, CheckpointCharts.Unit.BYTES);
    }

    static String crc(Integer crc) {
        return crc == null ? null : String.format("0x%08x", crc);
    }

    /** The bytes as UTF-8 text if they are valid UTF-8 without control characters, else null. */
    static String utf8OrNull(byte[] bytes) {
        try {
            var text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
            for (int i = 0; i < text.length(); i++) {
                if (Character.isISOControl(text.charAt(i))) {
                    return null;
                }
            }
            return text;
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }

    /** The bytes for a person: {@code "text"} if UTF-8, else {@code 0x...}. */
    static String display(byte[] bytes) {
        var text = utf8OrNull(bytes);
        return text != null ? '"' + text.replace("\\", "\\\\").replace("\"", "\\\"") + '"' : "0x" + hex(bytes);
    }
}

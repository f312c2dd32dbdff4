package io.laminar.storage.sample;

import java.nio.charset.StandardCharsets;
import tools.jackson.databind.JsonNode;

/**
 * One event: an amount added to a key. Immutable.
 *
 * @param key    a non-blank key of at most {@link #MAX_KEY_BYTES} UTF-8 bytes
 * @param amount the amount, a signed 64-bit integer
 */
record Event(String key, long amount) {

    /** The longest key, in UTF-8 bytes. */
    static final int MAX_KEY_BYTES = 256;

    /**
     * Reads {@code {"key": "...", "amount": <integer>}} (other fields are ignored).
     *
     * @param where how the message names the event, e.g. {@code events[3]} or {@code line at offset 120 of events.jsonl}
     * @throws InvalidInputException naming {@code where} and the field
     */
    static Event parse(JsonNode node, String where) {
        if (node == null || !node.isObject()) {
            throw new InvalidInputException(where + ": the event must be an object {\"key\": \"<string>\", \"amount\": <integer>}");
        }
        var key = node.get("key");
        if (key == null || !key.isString() || key.stringValue().isBlank()) {
            throw new InvalidInputException(where + ": key must be a non-blank string");
        }
        int keyBytes = key.stringValue().getBytes(StandardCharsets.UTF_8).length;
        if (keyBytes > MAX_KEY_BYTES) {
            throw new InvalidInputException(where + ": key must be at most " + MAX_KEY_BYTES
                    + " bytes in UTF-8, but was " + keyBytes);
        }
        var amount = node.get("amount");
        if (amount == null || amount.isNull()) {
            throw new InvalidInputException(where + ": amount is missing");
        }
        if (!amount.isIntegralNumber()) {
            throw new InvalidInputException(where + ": amount must be an integer, but was " + amount);
        }
        if (!amount.canConvertToLong()) {
            throw new InvalidInputException(where + ": amount must fit in a signed 64-bit integer, but was " + amount);
        }
        return new Event(key.stringValue(), amount.longValue());
    }
}

package io.laminar.storage.sample;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.ToIntFunction;
import tools.jackson.databind.JsonNode;

/**
 * A validated batch of events posted to {@code /api/events}: applied as a whole exactly once,
 * however often it is sent. Immutable.
 *
 * @param id     the batch id: non-blank, at most {@link #MAX_ID_BYTES} UTF-8 bytes
 * @param events one to {@link #MAX_EVENTS} events; per key and in total their amounts add up to a
 *               signed 64-bit integer
 */
record Batch(String id, List<Event> events) {

    /** The longest batch id, in UTF-8 bytes. */
    static final int MAX_ID_BYTES = 128;
    /** The most events in a batch: its largest part must fit in one WAL record. */
    static final int MAX_EVENTS = 1000;
    static final int DIGEST_LENGTH = 16;

    Batch {
        events = List.copyOf(events);
    }

    /**
     * Reads and validates a request body.
     *
     * @throws InvalidInputException with a message that names the field at fault
     */
    static Batch parse(JsonNode body) {
        if (body == null || !body.isObject()) {
            throw new InvalidInputException("the body must be a JSON object {\"batchId\": \"<string>\", "
                    + "\"events\": [{\"key\": \"<string>\", \"amount\": <integer>}, ...]}");
        }
        var id = body.get("batchId");
        if (id == null || !id.isString() || id.stringValue().isBlank()) {
            throw new InvalidInputException("batchId must be a non-blank string");
        }
        int idBytes = id.stringValue().getBytes(StandardCharsets.UTF_8).length;
        if (idBytes > MAX_ID_BYTES) {
            throw new InvalidInputException("batchId must be at most " + MAX_ID_BYTES + " bytes in UTF-8, but was "
                    + idBytes);
        }
        var list = body.get("events");
        if (list == null || !list.isArray()) {
            throw new InvalidInputException("events must be an array of {\"key\": \"<string>\", \"amount\": <integer>}");
        }
        if (list.isEmpty()) {
            throw new InvalidInputException("events must not be empty");
        }
        if (list.size() > MAX_EVENTS) {
            throw new InvalidInputException("a batch holds at most " + MAX_EVENTS + " events, but this one has "
                    + list.size() + "; split it into several batches");
        }
        var events = new ArrayList<Event>(list.size());
        for (int i = 0; i < list.size(); i++) {
            events.add(Event.parse(list.get(i), "events[" + i + "]"));
        }
        var batch = new Batch(id.stringValue(), events);
        batch.checkSums();
        return batch;
    }

    /** Per key (a change is stored as one long) and in total (the reply's sum), amounts must fit a long. */
    private void checkSums() {
        var perKey = new LinkedHashMap<String, Long>();
        long total = 0;
        for (var event : events) {
            try {
                perKey.merge(event.key(), event.amount(), Math::addExact);
            } catch (ArithmeticException e) {
                throw new InvalidInputException("the amounts of key '" + event.key() + "' in batch '" + id
                        + "' add up to more than a signed 64-bit integer holds");
            }
            try {
                total = Math.addExact(total, event.amount());
            } catch (ArithmeticException e) {
                throw new InvalidInputException("the amounts of batch '" + id
                        + "' add up to more than a signed 64-bit integer holds");
            }
        }
    }

    /**
     * A 16-byte digest of the id and the events in order (SHA-256, truncated): a retry of a batch
     * has the digest of the first attempt, another batch reusing its id almost surely not.
     */
    byte[] digest() {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
        var idBytes = id.getBytes(StandardCharsets.UTF_8);
        sha.update(intBytes(idBytes.length));
        sha.update(idBytes);
        for (var event : events) {
            var key = event.key().getBytes(StandardCharsets.UTF_8);
            sha.update(intBytes(key.length));
            sha.update(key);
            sha.update(longBytes(event.amount()));
        }
        var full = sha.digest();
        var digest = new byte[DIGEST_LENGTH];
        System.arraycopy(full, 0, digest, 0, DIGEST_LENGTH);
        return digest;
    }

    /**
     * The batch split by core: per core, one change per key (its amounts summed, in order of first
     * appearance). The owner core always has a part, empty if none of the keys is on it.
     *
     * @param coreOf the core of a key's UTF-8 bytes
     * @param owner  the core that owns the batch id
     */
    Map<Integer, BatchPart> parts(ToIntFunction<byte[]> coreOf, int owner) {
        var byCore = new TreeMap<Integer, LinkedHashMap<String, long[]>>();
        byCore.put(owner, new LinkedHashMap<>());
        for (var event : events) {
            int core = coreOf.applyAsInt(event.key().getBytes(StandardCharsets.UTF_8));
            var sum = byCore.computeIfAbsent(core, c -> new LinkedHashMap<>())
                    .computeIfAbsent(event.key(), k -> new long[2]);
            sum[0] += event.amount(); // checked by parse(): fits
            sum[1]++;
        }
        var digest = digest();
        var parts = new TreeMap<Integer, BatchPart>();
        byCore.forEach((core, sums) -> {
            var deltas = new ArrayList<BatchPart.KeyDelta>(sums.size());
            sums.forEach((key, sum) -> deltas.add(new BatchPart.KeyDelta(key, sum[0], (int) sum[1])));
            parts.put(core, new BatchPart(id, digest, core == owner, deltas));
        });
        return parts;
    }

    private static byte[] intBytes(int v) {
        return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
    }

    private static byte[] longBytes(long v) {
        var b = new byte[8];
        for (int i = 7; i >= 0; i--) {
            b[i] = (byte) v;
            v >>>= 8;
        }
        return b;
    }
}

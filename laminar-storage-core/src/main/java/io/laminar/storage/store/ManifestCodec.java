package io.laminar.storage.store;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;
import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * Turns a {@link CheckpointManifest} into its stored form, a versioned JSON document followed by
 * its checksum, and back.
 *
 * <h2>Format 2.0</h2>
 * A manifest file is two parts, both UTF-8:
 * <pre>
 * body     the JSON document below, then one '\n'
 * trailer  exactly 22 bytes: {"crc32c":"0a1b2c3d"} and '\n', where the 8 lowercase hex digits are
 *          the CRC32C (Castagnoli) of every byte of the body
 * </pre>
 * The checksum covers the exact bytes of the body, whitespace included, so every changed bit of the
 * file is detected: in the body by the CRC32C, in the trailer by its fixed shape or by the CRC32C
 * it then names. A reader verifies the trailer and the checksum before it parses anything, so no
 * field of a damaged manifest is ever used. The file stays readable by JSON tools as a sequence of
 * two documents ({@code jq . manifest.json}). A file larger than {@link #MAX_MANIFEST_BYTES} is
 * refused without being read into memory (stores check the size first, see
 * {@link #refuseOversized}).
 *
 * <p>The body is a JSON object; every field below is required ({@code parentCheckpointId} may be null):
 * <pre>
 * {
 *   "format": {"major": 2, "minor": 1},
 *   "checkpointId": 42,                      // >= 0
 *   "epoch": 7,
 *   "createdAt": "2025-01-31T10:15:30.123456789Z",   // ISO-8601 instant
 *   "walPositions": [4096, 8192],            // per core
 *   "sources": {"orders": {"offsets": {"p0": "17"}, "metadata": {}}},
 *   "operators": {"join": {"inline": "AAEC", "stateFiles": ["join/42-0.sst"]}},   // inline: base64
 *   "files": [{"path": "join/42-0.sst", "size": 1234, "crc32c": "0a1b2c3d"}],
 *   "parentCheckpointId": null,              // null for a full checkpoint
 *   "stateBytes": 1234,
 *   "writtenBytes": 1234,
 *   "watermark": -9223372036854775808,       // Long.MIN_VALUE: no watermark
 *   "keyGroups": 256                         // since 2.1, see below
 * }
 * </pre>
 * {@code keyGroups} (format 2.1 on) is the number of key groups the state's keys are
 * spread over ({@code io.laminar.storage.KeyGroups}), 1 to 32768; the state chain of core {@code c}
 * among {@code walPositions.length} cores holds the keys of the key groups that core owns. A format
 * 2.0 manifest has none and is read with {@code keyGroups} 0 (a manifest with {@code keyGroups} 0 is
 * written as format 2.0). A manifest without the field is always read so: restoring it re-places
 * every key by its hash, which is correct whatever placement it had: written before key groups, its keys
 * were placed by an older hash, and restoring it re-places every key.
 * Objects are written with sorted keys, so the same manifest always encodes to the same bytes.
 *
 * <h2>Format 3.0: base chains</h2>
 * The manifest a rescale writes does not rewrite the state: it references the old checkpoint's
 * state files. It is format 3.0 (a format-2 reader refuses it instead of ignoring the references),
 * with every field of 2.1 ({@code keyGroups} required) and one more:
 * <pre>
 *   "baseChains": {                          // per core chain name, only in format 3.0
 *     "core-0001": [
 *       {"core": 0, "firstKeyGroup": 64, "endKeyGroup": 128,          // old core, key groups [first, end)
 *        "stateFiles": ["state/core-0000/00000000000000000003-full.lsf"]}   // its chain, full first
 *     ]
 *   }
 * </pre>
 * The state of core {@code core-0001} is then the entries of each base chain whose key group (by
 * the application's {@code StatePlacement}) lies in {@code [firstKeyGroup, endKeyGroup)}, then the
 * core's own chain in {@code operators} (DELTA files only) applied on top. Refused: a base chain of
 * a name that is no operator, a range that is empty or runs past {@code keyGroups}, no
 * {@code keyGroups}, an empty file list, a path outside the store or not listed in {@code files}.
 * Manifests without base chains are still written as 2.1 (2.0 without key groups), so every reader
 * of format 2 reads them.
 *
 * <h2>Compatibility</h2>
 * A reader accepts every minor version of its major: a newer minor may only add fields, which are
 * ignored. A newer major is refused. Format 1 manifests (pre-release builds of 0.1.0, before the
 * checksum) are refused too: without a checksum their offsets and operator state cannot be told
 * from damaged ones, and no release ever wrote them. Refused as well is anything damaged or
 * malformed: a missing or altered trailer, a checksum mismatch, JSON that does not parse (or has
 * duplicate keys or trailing content), a missing or mistyped field, a number outside 64 bits, a
 * CRC32C that is not 8 lowercase hex digits, a file listed twice, an operator state file missing
 * from {@code files} (orphan cleanup would delete it), and any path that could resolve outside the
 * store root (see {@link StateFileRef#path()}). Each refusal is a {@link CheckpointCorruptException}
 * naming the checkpoint (or the manifest file when its id is unreadable), the problem and what to do.
 *
 * <p>Stateless; thread-safe.
 */
public final class ManifestCodec {

    static final String FORMAT = "format";
    static final String MAJOR = "major";
    static final String MINOR = "minor";
    static final String CHECKPOINT_ID = "checkpointId";
    static final String EPOCH = "epoch";
    static final String CREATED_AT = "createdAt";
    static final String WAL_POSITIONS = "walPositions";
    static final String SOURCES = "sources";
    static final String OFFSETS = "offsets";
    static final String METADATA = "metadata";
    static final String OPERATORS = "operators";
    static final String INLINE = "inline";
    static final String STATE_FILES = "stateFiles";
    static final String FILES = "files";
    static final String PATH = "path";
    static final String SIZE = "size";
    static final String CRC32C = "crc32c";
    static final String PARENT_CHECKPOINT_ID = "parentCheckpointId";
    static final String STATE_BYTES = "stateBytes";
    static final String WRITTEN_BYTES = "writtenBytes";
    static final String WATERMARK = "watermark";
    static final String KEY_GROUPS = "keyGroups";
    static final String BASE_CHAINS = "baseChains";
    static final String CORE = "core";
    static final String FIRST_KEY_GROUP = "firstKeyGroup";
    static final String END_KEY_GROUP = "endKeyGroup";

    /**
     * The largest manifest file a store writes or reads: 64 MiB. Operator state beyond a few
     * megabytes belongs in state files ({@link OperatorCheckpoint#stateFiles()}), not inline.
     */
    public static final int MAX_MANIFEST_BYTES = 64 << 20;

    private static final Pattern CRC32C_HEX = Pattern.compile("[0-9a-f]{8}");
    private static final byte[] TRAILER_START = "{\"crc32c\":\"".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] TRAILER_END = "\"}\n".getBytes(StandardCharsets.US_ASCII);
    private static final int TRAILER_LENGTH = TRAILER_START.length + 8 + TRAILER_END.length;

    // Duplicate keys would make the document mean whatever the last one says: refuse them.
    private static final JsonMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();

    private static final String DAMAGED_ADVICE = "The manifest is damaged or was not written by laminar-storage:"
            + " recover from an older checkpoint (CheckpointStore.listCheckpoints lists them) or restore this"
            + " manifest from a backup.";
    private static final String ESCAPE_ADVICE = "A manifest may only name files inside the checkpoint store;"
            + " this one was tampered with or written by a broken writer. Do not restore from it: recover from"
            + " an older checkpoint.";

    private ManifestCodec() {
    }

    /**
     * Encodes a manifest as a JSON document in UTF-8: format 3.0 if it has base chains, else 2.1
     * (2.0 without key groups).
     *
     * @throws IllegalArgumentException if the manifest could not be read back: a path that escapes
     *                                  the store, a malformed CRC32C, a file listed twice, an
     *                                  operator state file missing from {@code files}, or more than
     *                                  {@link #MAX_MANIFEST_BYTES} in all
     */
    public static byte[] encode(CheckpointManifest manifest) {
        var refusal = refusalOf(manifest);
        if (refusal != null) {
            throw new IllegalArgumentException("checkpoint " + manifest.checkpointId()
                    + " cannot be stored: " + refusal.problem());
        }
        var root = MAPPER.createObjectNode();
        // A manifest that records no key groups is what format 2.0 describes, and is written as such.
        // One with base chains is format 3.0, which a format-2 reader refuses rather than ignore them.
        if (manifest.hasBaseChains()) {
            root.putObject(FORMAT).put(MAJOR, CheckpointManifest.FORMAT_MAJOR).put(MINOR, CheckpointManifest.FORMAT_MINOR);
        } else {
            root.putObject(FORMAT).put(MAJOR, 2).put(MINOR, manifest.keyGroups() > 0 ? 1 : 0);
        }
        root.put(CHECKPOINT_ID, manifest.checkpointId());
        root.put(EPOCH, manifest.epoch());
        root.put(CREATED_AT, manifest.createdAt().toString());
        var positions = root.putArray(WAL_POSITIONS);
        for (var position : manifest.walPositions()) {
            positions.add(position);
        }
        var sources = root.putObject(SOURCES);
        for (var source : new TreeMap<>(manifest.sources()).entrySet()) {
            var node = sources.putObject(source.getKey());
            putStrings(node.putObject(OFFSETS), source.getValue().offsets());
            putStrings(node.putObject(METADATA), source.getValue().metadata());
        }
        var operators = root.putObject(OPERATORS);
        for (var operator : new TreeMap<>(manifest.operators()).entrySet()) {
            var node = operators.putObject(operator.getKey());
            node.put(INLINE, Base64.getEncoder().encodeToString(operator.getValue().inline()));
            var stateFiles = node.putArray(STATE_FILES);
            operator.getValue().stateFiles().forEach(stateFiles::add);
        }
        var files = root.putArray(FILES);
        for (var file : manifest.files()) {
            files.addObject().put(PATH, file.path()).put(SIZE, file.size()).put(CRC32C, file.crc32c());
        }
        if (manifest.parentCheckpointId() == null) {
            root.putNull(PARENT_CHECKPOINT_ID);
        } else {
            root.put(PARENT_CHECKPOINT_ID, manifest.parentCheckpointId().longValue());
        }
        root.put(STATE_BYTES, manifest.stateBytes());
        root.put(WRITTEN_BYTES, manifest.writtenBytes());
        root.put(WATERMARK, manifest.watermark());
        if (manifest.keyGroups() > 0) {
            root.put(KEY_GROUPS, manifest.keyGroups());
        }
        if (manifest.hasBaseChains()) {
            var bases = root.putObject(BASE_CHAINS);
            manifest.baseChains().forEach((name, chains) -> {
                var list = bases.putArray(name);
                for (var chain : chains) {
                    var node = list.addObject().put(CORE, chain.core()).put(FIRST_KEY_GROUP, chain.firstKeyGroup())
                            .put(END_KEY_GROUP, chain.endKeyGroup());
                    var stateFiles = node.putArray(STATE_FILES);
                    chain.stateFiles().forEach(stateFiles::add);
                }
            });
        }
        var stored = seal(MAPPER.writeValueAsBytes(root));
        if (stored.length > MAX_MANIFEST_BYTES) {
            throw new IllegalArgumentException("checkpoint " + manifest.checkpointId() + " cannot be stored: its"
                    + " manifest would be " + stored.length + " bytes, more than the " + MAX_MANIFEST_BYTES + " bytes"
                    + " a manifest may have; keep large operator state in state files, not inline");
        }
        return stored;
    }

    /** A JSON document as a stored manifest: the document, '\n' and the checksum trailer. */
    static byte[] seal(byte[] document) {
        int at = document.length + 1;
        var stored = Arrays.copyOf(document, at + TRAILER_LENGTH);
        stored[document.length] = '\n';
        var crc = String.format("%08x", crc32c(stored, at)).getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(TRAILER_START, 0, stored, at, TRAILER_START.length);
        System.arraycopy(crc, 0, stored, at + TRAILER_START.length, crc.length);
        System.arraycopy(TRAILER_END, 0, stored, stored.length - TRAILER_END.length, TRAILER_END.length);
        return stored;
    }

    /**
     * The refusal of a stored manifest of {@code size} bytes larger than {@link #MAX_MANIFEST_BYTES},
     * for a store to throw before it reads the file; null if the size is acceptable.
     *
     * @param checkpointId the id the store keeps the manifest under
     * @param source       where it is stored (a file or object name)
     */
    public static CheckpointCorruptException refuseOversized(long checkpointId, String source, long size) {
        if (size <= MAX_MANIFEST_BYTES) {
            return null;
        }
        return new CheckpointCorruptException(checkpointId, "Checkpoint " + checkpointId + " (" + source
                + ") cannot be used: its manifest is " + size + " bytes, more than the " + MAX_MANIFEST_BYTES
                + " bytes this library ever writes, so it was not read. " + DAMAGED_ADVICE);
    }

    /**
     * Decodes a stored manifest: checks its size, trailer and checksum, then parses the body.
     *
     * @param stored the manifest file's bytes
     * @param source where it was read from (a file or object name), for error messages
     * @throws CheckpointCorruptException if the document is refused (see the class comment)
     */
    public static CheckpointManifest decode(byte[] stored, String source) {
        return new Decoder(source, CheckpointCorruptException.UNKNOWN_CHECKPOINT_ID).decode(stored);
    }

    /**
     * Decodes the manifest a store keeps under the name of checkpoint {@code expectedCheckpointId}:
     * as {@link #decode(byte[], String)}, and errors name that id even when the document's own id
     * is unreadable; a document holding another id is refused (a manifest copied or renamed to the
     * wrong name would otherwise restore the wrong checkpoint).
     */
    public static CheckpointManifest decode(byte[] stored, String source, long expectedCheckpointId) {
        var manifest = new Decoder(source, expectedCheckpointId).decode(stored);
        if (manifest.checkpointId() != expectedCheckpointId) {
            throw new CheckpointCorruptException(expectedCheckpointId, "Checkpoint " + expectedCheckpointId
                    + " (" + source + ") cannot be used: the manifest stored under its name is the one of checkpoint "
                    + manifest.checkpointId() + ". " + DAMAGED_ADVICE);
        }
        return manifest;
    }

    private static void putStrings(ObjectNode node, Map<String, String> values) {
        new TreeMap<>(values).forEach(node::put);
    }

    /** Why a manifest is refused; {@code pathEscape} if a path could resolve outside the store. */
    private record Refusal(String problem, boolean pathEscape) {
    }

    /** What makes a manifest unfit to be stored (and refused when read), or null. */
    private static Refusal refusalOf(CheckpointManifest manifest) {
        var listed = new HashSet<String>();
        for (var file : manifest.files()) {
            var problem = StorePaths.problemWith(file.path());
            if (problem != null) {
                return new Refusal("in files: " + problem, true);
            }
            if (!CRC32C_HEX.matcher(file.crc32c()).matches()) {
                return new Refusal("the CRC32C of file '" + file.path() + "' is '" + file.crc32c()
                        + "', not 8 lowercase hex digits", false);
            }
            if (!listed.add(file.path())) {
                return new Refusal("file '" + file.path() + "' is listed twice in files", false);
            }
        }
        for (var operator : new TreeMap<>(manifest.operators()).entrySet()) {
            for (var path : operator.getValue().stateFiles()) {
                var problem = StorePaths.problemWith(path);
                if (problem != null) {
                    return new Refusal("in the state files of operator '" + operator.getKey() + "': " + problem, true);
                }
                if (!listed.contains(path)) {
                    return new Refusal("state file '" + path + "' of operator '" + operator.getKey()
                            + "' is not listed in files (orphan cleanup would delete it)", false);
                }
            }
        }
        if (manifest.hasBaseChains() && manifest.keyGroups() == 0) {
            return new Refusal("it has base chains but no key groups", false);
        }
        for (var entry : manifest.baseChains().entrySet()) {
            if (!manifest.operators().containsKey(entry.getKey())) {
                return new Refusal("base chains of '" + entry.getKey() + "', which is no operator of it", false);
            }
            for (var chain : entry.getValue()) {
                if (chain.endKeyGroup() > manifest.keyGroups()) {
                    return new Refusal("a base chain of '" + entry.getKey() + "' takes key groups up to "
                            + (chain.endKeyGroup() - 1) + ", but there are " + manifest.keyGroups(), false);
                }
                for (var path : chain.stateFiles()) {
                    var problem = StorePaths.problemWith(path);
                    if (problem != null) {
                        return new Refusal("in the base chains of '" + entry.getKey() + "': " + problem, true);
                    }
                    if (!listed.contains(path)) {
                        return new Refusal("state file '" + path + "' of a base chain of '" + entry.getKey()
                                + "' is not listed in files (orphan cleanup would delete it)", false);
                    }
                }
            }
        }
        return null;
    }

    /** One decoding: knows what to name in its errors. */
    private static final class Decoder {
        private final String source;
        private long checkpointId;

        Decoder(String source, long checkpointId) {
            this.source = source;
            this.checkpointId = checkpointId;
        }

        CheckpointManifest decode(byte[] stored) {
            var oversized = refuseOversized(checkpointId, source, stored.length);
            if (oversized != null) {
                throw oversized;
            }
            int bodyLength = verifiedBodyLength(stored);
            JsonNode root;
            try {
                root = MAPPER.readTree(stored, 0, bodyLength);
            } catch (JacksonException e) {
                throw corrupt("it is not valid JSON (" + describe(e) + ")", e);
            }
            if (root == null || !root.isObject()) {
                throw corrupt("it is not a JSON object", null);
            }
            // Read the id first so that every later error names the checkpoint.
            var id = root.get(CHECKPOINT_ID);
            if (id != null && id.isIntegralNumber() && id.canConvertToLong() && id.longValue() >= 0) {
                checkpointId = id.longValue();
            }
            checkFormat(root);
            long decodedId = requireLong(root, CHECKPOINT_ID, "");
            if (decodedId < 0) {
                throw corrupt("field 'checkpointId' is negative (" + decodedId + ")", null);
            }
            long epoch = requireLong(root, EPOCH, "");
            var createdAt = requireString(root, CREATED_AT, "");
            Instant created;
            try {
                created = Instant.parse(createdAt);
            } catch (DateTimeParseException e) {
                throw corrupt("field 'createdAt' is '" + createdAt + "', not an ISO-8601 instant", e);
            }
            var walPositions = new ArrayList<Long>();
            var positions = requireArray(root, WAL_POSITIONS, "");
            for (int i = 0; i < positions.size(); i++) {
                walPositions.add(longValue(positions.get(i), WAL_POSITIONS + "[" + i + "]"));
            }
            var sources = new TreeMap<String, ConnectorCheckpoint>();
            for (var source : requireObject(root, SOURCES, "").properties()) {
                var where = SOURCES + "." + source.getKey() + ".";
                var node = objectValue(source.getValue(), SOURCES + "." + source.getKey());
                sources.put(source.getKey(), new ConnectorCheckpoint(
                        strings(requireObject(node, OFFSETS, where), where + OFFSETS),
                        strings(requireObject(node, METADATA, where), where + METADATA)));
            }
            var operators = new TreeMap<String, OperatorCheckpoint>();
            for (var operator : requireObject(root, OPERATORS, "").properties()) {
                var where = OPERATORS + "." + operator.getKey() + ".";
                var node = objectValue(operator.getValue(), OPERATORS + "." + operator.getKey());
                byte[] inline;
                try {
                    inline = Base64.getDecoder().decode(requireString(node, INLINE, where));
                } catch (IllegalArgumentException e) {
                    throw corrupt("field '" + where + INLINE + "' is not base64 (" + e.getMessage() + ")", e);
                }
                var stateFiles = new ArrayList<String>();
                var array = requireArray(node, STATE_FILES, where);
                for (int i = 0; i < array.size(); i++) {
                    stateFiles.add(stringValue(array.get(i), where + STATE_FILES + "[" + i + "]"));
                }
                operators.put(operator.getKey(), new OperatorCheckpoint(inline, stateFiles));
            }
            var files = new ArrayList<StateFileRef>();
            var array = requireArray(root, FILES, "");
            for (int i = 0; i < array.size(); i++) {
                var where = FILES + "[" + i + "].";
                var node = objectValue(array.get(i), FILES + "[" + i + "]");
                var path = requireString(node, PATH, where);
                long size = requireLong(node, SIZE, where);
                if (size < 0) {
                    throw corrupt("field '" + where + SIZE + "' is negative (" + size + ")", null);
                }
                files.add(new StateFileRef(path, size, requireString(node, CRC32C, where)));
            }
            var parent = require(root, PARENT_CHECKPOINT_ID, "");
            Long parentId = parent.isNull() ? null : longValue(parent, PARENT_CHECKPOINT_ID);
            var manifest = new CheckpointManifest(decodedId, epoch, created, walPositions, sources, operators, files,
                    parentId, requireLong(root, STATE_BYTES, ""), requireLong(root, WRITTEN_BYTES, ""),
                    requireLong(root, WATERMARK, ""), keyGroups(root), baseChains(root));
            var refusal = refusalOf(manifest);
            if (refusal != null) {
                throw new CheckpointCorruptException(checkpointId, describe() + " cannot be used: " + refusal.problem()
                        + ". " + (refusal.pathEscape() ? ESCAPE_ADVICE : DAMAGED_ADVICE));
            }
            return manifest;
        }

        /**
         * The length of the body once the trailer and the checksum check out; nothing of the body is
         * looked at before.
         */
        private int verifiedBodyLength(byte[] stored) {
            int trailer = stored.length - TRAILER_LENGTH;
            var hex = trailer < 0 ? "" : new String(stored, trailer + TRAILER_START.length, 8, StandardCharsets.US_ASCII);
            if (trailer < 0 || !Arrays.equals(stored, trailer, trailer + TRAILER_START.length, TRAILER_START, 0,
                    TRAILER_START.length) || !CRC32C_HEX.matcher(hex).matches() || !Arrays.equals(stored,
                    stored.length - TRAILER_END.length, stored.length, TRAILER_END, 0, TRAILER_END.length)) {
                throw new CheckpointCorruptException(checkpointId, describe() + " cannot be used: it does not end with"
                        + " its checksum line ({\"crc32c\":\"<8 hex digits>\"}), so it was cut short, damaged, or"
                        + " written in manifest format 1 by a pre-release build (those carry no checksum and are"
                        + " refused). " + DAMAGED_ADVICE);
            }
            int computed = crc32c(stored, trailer);
            int recorded = Integer.parseUnsignedInt(hex, 16);
            if (computed != recorded) {
                throw new CheckpointCorruptException(checkpointId, describe() + " cannot be used: its checksum does"
                        + " not match: the manifest records CRC32C " + hex + " for its first " + trailer
                        + " bytes, but they have CRC32C " + String.format("%08x", computed) + ". " + DAMAGED_ADVICE);
            }
            return trailer;
        }

        private void checkFormat(JsonNode root) {
            var format = requireObject(root, FORMAT, "");
            long major = requireLong(format, MAJOR, FORMAT + ".");
            long minor = requireLong(format, MINOR, FORMAT + ".");
            if (major > CheckpointManifest.FORMAT_MAJOR) {
                throw new CheckpointCorruptException(checkpointId, describe() + " cannot be read: it has manifest format "
                        + major + "." + minor + ", written by a newer laminar-storage, and this version reads formats 2.x to "
                        + CheckpointManifest.FORMAT_MAJOR + ".x. Upgrade laminar-storage to restore from it, or"
                        + " recover from an older checkpoint.");
            }
            if (major < 1 || minor < 0) {
                throw corrupt("its manifest format " + major + "." + minor + " does not exist", null);
            }
        }

        /** The base chains (format 3.0), none when absent. */
        private Map<String, List<BaseChain>> baseChains(JsonNode root) {
            var node = root.get(BASE_CHAINS);
            var bases = new TreeMap<String, List<BaseChain>>();
            if (node == null) {
                return bases;
            }
            for (var entry : objectValue(node, BASE_CHAINS).properties()) {
                var where = BASE_CHAINS + "." + entry.getKey();
                var value = entry.getValue();
                if (!value.isArray()) {
                    throw corrupt("field '" + where + "' is " + kind(value) + ", not an array", null);
                }
                var chains = new ArrayList<BaseChain>();
                for (int i = 0; i < value.size(); i++) {
                    var at = where + "[" + i + "].";
                    var chain = objectValue(value.get(i), where + "[" + i + "]");
                    long core = requireLong(chain, CORE, at);
                    long first = requireLong(chain, FIRST_KEY_GROUP, at);
                    long end = requireLong(chain, END_KEY_GROUP, at);
                    if (core < 0 || core > Integer.MAX_VALUE || first < 0 || end <= first
                            || end > io.laminar.storage.KeyGroups.MAX_KEY_GROUPS) {
                        throw corrupt("field '" + where + "[" + i + "]' has core " + core + " and key groups " + first
                                + " to " + end + ": not a core and a range of key groups", null);
                    }
                    var files = new ArrayList<String>();
                    var array = requireArray(chain, STATE_FILES, at);
                    for (int f = 0; f < array.size(); f++) {
                        files.add(stringValue(array.get(f), at + STATE_FILES + "[" + f + "]"));
                    }
                    if (files.isEmpty()) {
                        throw corrupt("field '" + at + STATE_FILES + "' is empty", null);
                    }
                    chains.add(new BaseChain((int) core, (int) first, (int) end, files));
                }
                bases.put(entry.getKey(), chains);
            }
            return bases;
        }

        /** The key groups, 0 (none recorded) when absent. */
        private int keyGroups(JsonNode root) {
            var node = root.get(KEY_GROUPS);
            if (node == null) {
                return 0;
            }
            long keyGroups = longValue(node, KEY_GROUPS);
            if (keyGroups < 1 || keyGroups > io.laminar.storage.KeyGroups.MAX_KEY_GROUPS) {
                throw corrupt("field '" + KEY_GROUPS + "' is " + keyGroups + ", not between 1 and "
                        + io.laminar.storage.KeyGroups.MAX_KEY_GROUPS, null);
            }
            return (int) keyGroups;
        }

        private JsonNode require(JsonNode node, String field, String where) {
            var value = node.get(field);
            if (value == null) {
                throw corrupt("required field '" + where + field + "' is missing", null);
            }
            return value;
        }

        private long requireLong(JsonNode node, String field, String where) {
            return longValue(require(node, field, where), where + field);
        }

        private String requireString(JsonNode node, String field, String where) {
            return stringValue(require(node, field, where), where + field);
        }

        private ArrayNode requireArray(JsonNode node, String field, String where) {
            var value = require(node, field, where);
            if (!value.isArray()) {
                throw corrupt("field '" + where + field + "' is " + kind(value) + ", not an array", null);
            }
            return (ArrayNode) value;
        }

        private ObjectNode requireObject(JsonNode node, String field, String where) {
            return objectValue(require(node, field, where), where + field);
        }

        private ObjectNode objectValue(JsonNode value, String field) {
            if (!value.isObject()) {
                throw corrupt("field '" + field + "' is " + kind(value) + ", not an object", null);
            }
            return (ObjectNode) value;
        }

        private long longValue(JsonNode value, String field) {
            if (!value.isIntegralNumber() || !value.canConvertToLong()) {
                throw corrupt("field '" + field + "' is " + kind(value) + ", not a 64-bit integer", null);
            }
            return value.longValue();
        }

        private String stringValue(JsonNode value, String field) {
            if (!value.isString()) {
                throw corrupt("field '" + field + "' is " + kind(value) + ", not a string", null);
            }
            return value.stringValue();
        }

        private Map<String, String> strings(ObjectNode node, String field) {
            var values = new TreeMap<String, String>();
            for (var entry : node.properties()) {
                values.put(entry.getKey(), stringValue(entry.getValue(), field + "." + entry.getKey()));
            }
            return values;
        }

        /** Jackson's message without its source description, with the line and column. */
        private static String describe(JacksonException e) {
            var message = String.valueOf(e.getOriginalMessage());
            int source = message.indexOf("[Source");
            if (source >= 0) {
                int open = message.lastIndexOf('(', source);
                message = message.substring(0, open >= 0 ? open : source).trim();
            }
            var location = e.getLocation();
            if (location != null && location.getLineNr() > 0) {
                message += " at line " + location.getLineNr() + ", column " + location.getColumnNr();
            }
            return message;
        }

        private static String kind(JsonNode value) {
            var text = value.toString();
            return (text.length() > 40 ? text.substring(0, 40) + "..." : text);
        }

        private String describe() {
            return checkpointId == CheckpointCorruptException.UNKNOWN_CHECKPOINT_ID
                    ? "The checkpoint manifest " + source
                    : "Checkpoint " + checkpointId + " (" + source + ")";
        }

        private CheckpointCorruptException corrupt(String problem, Throwable cause) {
            return new CheckpointCorruptException(checkpointId, describe() + " cannot be used: " + problem + ". "
                    + DAMAGED_ADVICE, cause);
        }
    }

    private static int crc32c(byte[] bytes, int length) {
        var crc = new CRC32C();
        crc.update(bytes, 0, length);
        return (int) crc.getValue();
    }

    /** The document as text, for logs and tests. */
    static String encodeToString(CheckpointManifest manifest) {
        return new String(encode(manifest), StandardCharsets.UTF_8);
    }

    static List<String> requiredFields() {
        return List.of(FORMAT, CHECKPOINT_ID, EPOCH, CREATED_AT, WAL_POSITIONS, SOURCES, OPERATORS, FILES,
                PARENT_CHECKPOINT_ID, STATE_BYTES, WRITTEN_BYTES, WATERMARK);
    }
}

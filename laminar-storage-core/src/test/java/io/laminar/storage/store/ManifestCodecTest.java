package io.laminar.storage.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.store.CheckpointCorruptException;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.ConnectorCheckpoint;
import io.laminar.storage.store.ManifestCodec;
import io.laminar.storage.store.OperatorCheckpoint;
import io.laminar.storage.store.StateFileRef;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

class ManifestCodecTest {

    private static final String SOURCE = "manifests/checkpoint-00000000000000000042.json";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private static CheckpointManifest manifest() {
        var a = new StateFileRef("join/41-0.sst", 4096, "0a1b2c3d");
        var b = new StateFileRef("join/42-0.sst", 100, "ffffffff");
        return new CheckpointManifest(42, 7, Instant.parse("2025-01-31T10:15:30.123456789Z"), List.of(4096L, 8192L),
                Map.of("orders", new ConnectorCheckpoint(Map.of("p0", "17"), Map.of("topic", "orders"))),
                Map.of("join", new OperatorCheckpoint(new byte[] {0, 1, 2, (byte) 0xff}, List.of(a.path(), b.path())),
                        "count", new OperatorCheckpoint(new byte[] {9}, List.of())),
                List.of(a, b), 41L, 4196, 100, Long.MIN_VALUE);
    }

    /** The JSON body of the encoded manifest, without its checksum trailer. */
    private static ObjectNode tree(CheckpointManifest manifest) {
        return (ObjectNode) JSON.readTree(ForgedManifests.body(ManifestCodec.encode(manifest)));
    }

    /** A document sealed with a valid checksum, as a writer with a bug (or a newer one) would store it. */
    private static byte[] sealed(ObjectNode tree) {
        return ManifestCodec.seal(JSON.writeValueAsBytes(tree));
    }

    private static byte[] sealed(String json) {
        return ManifestCodec.seal(json.getBytes(StandardCharsets.UTF_8));
    }

    private static CheckpointManifest decode(ObjectNode tree) {
        return ManifestCodec.decode(sealed(tree), SOURCE);
    }

    @Test
    void aManifestRoundTripsWithEveryField() {
        assertThat(ManifestCodec.decode(ManifestCodec.encode(manifest()), SOURCE)).isEqualTo(manifest());
    }

    @Test
    void theDocumentIsVersionedWithAnIsoInstantBase64StateAndANullParentForAFullCheckpoint() {
        var full = new CheckpointManifest(1, 1, Instant.parse("2025-01-31T10:15:30Z"), List.of(), Map.of(),
                Map.of("op", new OperatorCheckpoint("hi".getBytes(StandardCharsets.UTF_8), List.of())), List.of(),
                null, 0, 0, 5);
        var tree = tree(full);

        assertThat(tree.get("format").get("major").asInt()).isEqualTo(2);
        assertThat(tree.get("format").get("minor").asInt()).isEqualTo(0);
        assertThat(tree.get("createdAt").stringValue()).isEqualTo("2025-01-31T10:15:30Z");
        assertThat(tree.get("operators").get("op").get("inline").stringValue()).isEqualTo("aGk=");
        assertThat(tree.get("parentCheckpointId").isNull()).isTrue();
        assertThat(ManifestCodec.decode(ManifestCodec.encode(full), SOURCE).parentCheckpointId()).isNull();
    }

    @Test
    void keyGroupsAreFormat21AndAManifestWithoutThemIsReadAsWrittenBeforeKeyGroups() {
        var m = manifest();
        var withGroups = new CheckpointManifest(m.checkpointId(), m.epoch(), m.createdAt(), m.walPositions(),
                m.sources(), m.operators(), m.files(), m.parentCheckpointId(), m.stateBytes(), m.writtenBytes(),
                m.watermark(), 256);
        var tree = tree(withGroups);
        assertThat(tree.get("format").get("minor").asInt()).isEqualTo(1);
        assertThat(tree.get("keyGroups").asInt()).isEqualTo(256);
        assertThat(ManifestCodec.decode(ManifestCodec.encode(withGroups), SOURCE)).isEqualTo(withGroups);

        tree.remove("keyGroups");
        assertThat(decode(tree).keyGroups()).as("absent: placed before key groups").isZero();
        for (long bad : new long[] {0, -1, 32_769}) {
            tree.put("keyGroups", bad);
            assertThatThrownBy(() -> decode(tree)).isInstanceOf(CheckpointCorruptException.class)
                    .hasMessageContaining("field 'keyGroups' is " + bad);
        }
    }

    /** The manifest a rescale from 2 to 3 cores writes: base chains and one DELTA per new core. */
    private static CheckpointManifest rescaled() {
        var full0 = new StateFileRef("state/core-0000/00000000000000000005-full.lsf", 100, "0000000a");
        var full1 = new StateFileRef("state/core-0001/00000000000000000005-full.lsf", 200, "0000000b");
        var operators = new java.util.TreeMap<String, OperatorCheckpoint>();
        var bases = new java.util.TreeMap<String, List<BaseChain>>();
        var files = new java.util.ArrayList<>(List.of(full0, full1));
        var ranges = new int[][] {{0, 0, 11}, {0, 11, 16, 1, 16, 22}, {1, 22, 32}};
        for (int core = 0; core < 3; core++) {
            var delta = new StateFileRef("state/core-000" + core + "/00000000000000000006-delta.lsf", 41, "0000000c");
            files.add(delta);
            operators.put("core-000" + core, new OperatorCheckpoint(new byte[0], List.of(delta.path())));
            var chains = new java.util.ArrayList<BaseChain>();
            for (int i = 0; i < ranges[core].length; i += 3) {
                int old = ranges[core][i];
                chains.add(new BaseChain(old, ranges[core][i + 1], ranges[core][i + 2],
                        List.of((old == 0 ? full0 : full1).path())));
            }
            bases.put("core-000" + core, chains);
        }
        return new CheckpointManifest(6, 3, Instant.parse("2025-01-31T10:15:30Z"), List.of(64L, 64L, 64L), Map.of(),
                operators, files, 5L, 300, 123, Long.MIN_VALUE, 32, bases);
    }

    @Test
    void baseChainsAreFormat30AndRoundTrip() {
        var tree = tree(rescaled());
        assertThat(tree.get("format").get("major").asInt()).isEqualTo(3);
        assertThat(tree.get("format").get("minor").asInt()).isEqualTo(0);
        var base = tree.get("baseChains").get("core-0001").get(1);
        assertThat(base.get("core").asInt()).isEqualTo(1);
        assertThat(base.get("firstKeyGroup").asInt()).isEqualTo(16);
        assertThat(base.get("endKeyGroup").asInt()).isEqualTo(22);
        assertThat(base.get("stateFiles").get(0).stringValue()).isEqualTo("state/core-0001/00000000000000000005-full.lsf");
        assertThat(ManifestCodec.decode(ManifestCodec.encode(rescaled()), SOURCE)).isEqualTo(rescaled());
        assertThat(tree(manifest()).get("format").get("major").asInt()).as("without base chains: format 2").isEqualTo(2);
        assertThat(tree(manifest()).has("baseChains")).isFalse();
    }

    @Test
    void malformedBaseChainsAreRefusedNamingTheField() {
        var cases = new java.util.LinkedHashMap<java.util.function.Consumer<ObjectNode>, String>();
        cases.put(t -> ((ObjectNode) t.get("baseChains").get("core-0000").get(0)).put("endKeyGroup", 33),
                "takes key groups up to 32, but there are 32");
        cases.put(t -> ((ObjectNode) t.get("baseChains").get("core-0000").get(0)).put("endKeyGroup", 0),
                "not a core and a range of key groups");
        cases.put(t -> ((ObjectNode) t.get("baseChains").get("core-0000").get(0)).put("core", -1),
                "not a core and a range of key groups");
        cases.put(t -> ((ObjectNode) t.get("baseChains").get("core-0000").get(0)).remove("firstKeyGroup"),
                "required field 'baseChains.core-0000[0].firstKeyGroup' is missing");
        cases.put(t -> ((ObjectNode) t.get("baseChains").get("core-0000").get(0)).putArray("stateFiles"),
                "is empty");
        cases.put(t -> ((ObjectNode) t.get("baseChains").get("core-0000").get(0)).putArray("stateFiles")
                .add("state/core-0000/unlisted.lsf"), "is not listed in files");
        cases.put(t -> ((ObjectNode) t.get("baseChains").get("core-0000").get(0)).putArray("stateFiles")
                .add("../outside.lsf"), "in the base chains of 'core-0000'");
        cases.put(t -> ((ObjectNode) t.get("baseChains")).set("core-0009", t.get("baseChains").get("core-0000")),
                "base chains of 'core-0009', which is no operator of it");
        cases.put(t -> t.remove("keyGroups"), "it has base chains but no key groups");
        cases.put(t -> t.put("baseChains", 5), "field 'baseChains' is 5, not an object");
        cases.forEach((damage, message) -> {
            var tree = tree(rescaled());
            damage.accept(tree);
            assertThatThrownBy(() -> decode(tree)).as(message).isInstanceOf(CheckpointCorruptException.class)
                    .hasMessageContaining(message);
        });
    }

    @Test
    void theSameManifestEncodesToTheSameBytes() {
        assertThat(ManifestCodec.encode(manifest())).isEqualTo(ManifestCodec.encode(manifest()));
    }

    @Test
    void unknownFieldsOfANewerMinorFormatAreIgnored() {
        var tree = tree(manifest());
        ((ObjectNode) tree.get("format")).put("minor", 9);
        tree.put("compression", "zstd");
        tree.putObject("lineage").putArray("jobs").add("a");
        ((ObjectNode) tree.get("files").get(0)).put("storageClass", "cold");
        ((ObjectNode) tree.get("operators").get("join")).put("ttl", 5);
        ((ObjectNode) tree.get("sources").get("orders")).putNull("schema");

        assertThat(decode(tree)).isEqualTo(manifest());
    }

    @Test
    void aNewerMajorFormatIsRefusedNamingTheCheckpointAndTheUpgrade() {
        var tree = tree(manifest());
        ((ObjectNode) tree.get("format")).put("major", 4);

        assertThatThrownBy(() -> decode(tree)).isInstanceOfSatisfying(CheckpointCorruptException.class, e -> {
            assertThat(e.checkpointId()).isEqualTo(42);
            assertThat(e).hasMessageContaining("Checkpoint 42").hasMessageContaining(SOURCE)
                    .hasMessageContaining("4.0").hasMessageContaining("Upgrade laminar-storage");
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "{", "{\"checkpointId\": 42", "[1, 2]", "\"text\"", "null", "{} {}", "\u0000\u00ff"})
    void malformedJsonIsRefusedNamingTheFile(String json) {
        assertThatThrownBy(() -> ManifestCodec.decode(sealed(json), SOURCE))
                .isInstanceOfSatisfying(CheckpointCorruptException.class, e -> {
                    assertThat(e.checkpointId()).isEqualTo(CheckpointCorruptException.UNKNOWN_CHECKPOINT_ID);
                    assertThat(e).hasMessageContaining(SOURCE).hasMessageContaining("older checkpoint");
                });
    }

    @Test
    void aTruncatedManifestIsRefused() {
        var bytes = ManifestCodec.encode(manifest());
        var truncated = java.util.Arrays.copyOf(bytes, bytes.length - 10);

        assertThatThrownBy(() -> ManifestCodec.decode(truncated, SOURCE, 42))
                .isInstanceOfSatisfying(CheckpointCorruptException.class,
                        e -> assertThat(e.checkpointId()).isEqualTo(42))
                .hasMessageContaining("Checkpoint 42").hasMessageContaining("checksum line");
    }

    // ---- the checksum -------------------------------------------------------------------------

    @Test
    void theStoredFormIsTheJsonBodyThenItsCrc32cOnALineOfItsOwn() {
        var stored = ManifestCodec.encode(manifest());
        var text = new String(stored, StandardCharsets.UTF_8);
        var body = ForgedManifests.body(stored);
        var crc = new java.util.zip.CRC32C();
        crc.update(body.getBytes(StandardCharsets.UTF_8));

        assertThat(body).startsWith("{").endsWith("}\n");
        assertThat(text).endsWith(String.format("{\"crc32c\":\"%08x\"}\n", crc.getValue()));
        assertThat(JSON.readTree(body).get("checkpointId").asLong()).isEqualTo(42);
    }

    @Test
    void everySingleBitFlipAnywhereInAStoredManifestIsRefusedNamingTheCheckpoint() {
        var stored = ManifestCodec.encode(manifest());
        int refused = 0;
        for (int bit = 0; bit < stored.length * 8; bit++) {
            var flipped = ForgedManifests.withBitFlipped(stored, bit);
            int at = bit;
            assertThatThrownBy(() -> ManifestCodec.decode(flipped, SOURCE, 42))
                    .as("bit %d (byte %d of %d)", at, at / 8, stored.length)
                    .isInstanceOfSatisfying(CheckpointCorruptException.class,
                            e -> assertThat(e.checkpointId()).isEqualTo(42))
                    .hasMessageContaining("Checkpoint 42").hasMessageContaining(SOURCE);
            refused++;
        }
        assertThat(refused).isEqualTo(stored.length * 8);
    }

    @Test
    void aChecksumMismatchNamesTheRecordedAndTheComputedCrc32c() {
        var stored = ManifestCodec.encode(manifest());
        var body = ForgedManifests.body(stored);
        var altered = (body.replace("\"17\"", "\"18\"") + new String(stored, StandardCharsets.UTF_8)
                .substring(body.length())).getBytes(StandardCharsets.UTF_8);
        var recorded = new String(stored, StandardCharsets.UTF_8).substring(stored.length - 11, stored.length - 3);

        assertThatThrownBy(() -> ManifestCodec.decode(altered, SOURCE, 42))
                .isInstanceOf(CheckpointCorruptException.class)
                .hasMessageContaining("checksum does not match").hasMessageContaining(recorded)
                .hasMessageContaining("first " + body.length() + " bytes").hasMessageContaining("older checkpoint");
    }

    @Test
    void aFormat1ManifestWithoutChecksumIsRefusedSayingWhy() {
        var format1 = ForgedManifests.body(ManifestCodec.encode(manifest())).replace("\"major\" : 2", "\"major\" : 1");

        assertThatThrownBy(() -> ManifestCodec.decode(format1.getBytes(StandardCharsets.UTF_8), SOURCE, 42))
                .isInstanceOf(CheckpointCorruptException.class).hasMessageContaining("Checkpoint 42")
                .hasMessageContaining("checksum line").hasMessageContaining("format 1");
    }

    @Test
    void aManifestOverTheSizeLimitIsRefusedWhenWrittenAndWhenRead() {
        var huge = new CheckpointManifest(7, 1, Instant.EPOCH, List.of(), Map.of(),
                Map.of("op", new OperatorCheckpoint(new byte[ManifestCodec.MAX_MANIFEST_BYTES], List.of())),
                List.of(), null, 0, 0, 0);

        assertThatThrownBy(() -> ManifestCodec.encode(huge)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("checkpoint 7").hasMessageContaining(ManifestCodec.MAX_MANIFEST_BYTES + " bytes")
                .hasMessageContaining("state files");
        assertThat(ManifestCodec.refuseOversized(7, SOURCE, ManifestCodec.MAX_MANIFEST_BYTES)).isNull();
        assertThat(ManifestCodec.refuseOversized(7, SOURCE, 3L << 30)).isInstanceOf(CheckpointCorruptException.class)
                .hasMessageContaining("Checkpoint 7").hasMessageContaining(SOURCE)
                .hasMessageContaining((3L << 30) + " bytes").hasMessageContaining("older checkpoint");
        assertThatThrownBy(() -> ManifestCodec.decode(new byte[ManifestCodec.MAX_MANIFEST_BYTES + 1], SOURCE, 7))
                .isInstanceOf(CheckpointCorruptException.class).hasMessageContaining("not read");
    }

    @Test
    void duplicateKeysAreRefused() {
        var json = "{\"checkpointId\": 42, \"checkpointId\": 43}";

        assertThatThrownBy(() -> ManifestCodec.decode(sealed(json), SOURCE))
                .isInstanceOf(CheckpointCorruptException.class).hasMessageContaining("checkpointId");
    }

    static List<String> requiredFields() {
        return ManifestCodec.requiredFields();
    }

    @ParameterizedTest
    @MethodSource("requiredFields")
    void aMissingRequiredFieldIsRefusedNamingTheCheckpointAndTheField(String field) {
        var tree = tree(manifest());
        tree.remove(field);

        assertThatThrownBy(() -> ManifestCodec.decode(sealed(tree), SOURCE, 42))
                .isInstanceOfSatisfying(CheckpointCorruptException.class,
                        e -> assertThat(e.checkpointId()).isEqualTo(42))
                .hasMessageContaining("Checkpoint 42").hasMessageContaining("'" + field + "'")
                .hasMessageContaining("missing");
    }

    @ParameterizedTest
    @ValueSource(strings = {"format.major", "format.minor", "files.path", "files.size", "files.crc32c",
            "operators.inline", "operators.stateFiles", "sources.offsets", "sources.metadata"})
    void aMissingNestedFieldIsRefusedNamingTheCheckpoint(String field) {
        var tree = tree(manifest());
        var parts = field.split("\\.");
        var parent = switch (parts[0]) {
            case "files" -> (ObjectNode) tree.get("files").get(0);
            case "operators" -> (ObjectNode) tree.get("operators").get("join");
            case "sources" -> (ObjectNode) tree.get("sources").get("orders");
            default -> (ObjectNode) tree.get(parts[0]);
        };
        parent.remove(parts[1]);

        assertThatThrownBy(() -> decode(tree)).isInstanceOf(CheckpointCorruptException.class)
                .hasMessageContaining("Checkpoint 42").hasMessageContaining(parts[1]).hasMessageContaining("missing");
    }

    @Test
    void anUnreadableIdIsReplacedByTheFileName() {
        var tree = tree(manifest());
        tree.put("checkpointId", "forty-two");

        assertThatThrownBy(() -> decode(tree)).isInstanceOfSatisfying(CheckpointCorruptException.class, e -> {
            assertThat(e.checkpointId()).isEqualTo(CheckpointCorruptException.UNKNOWN_CHECKPOINT_ID);
            assertThat(e).hasMessageContaining(SOURCE).hasMessageContaining("'checkpointId'");
        });
    }

    @Test
    void mistypedValuesAreRefused() {
        var wrongType = tree(manifest());
        wrongType.put("epoch", "7");
        var tooLarge = tree(manifest());
        tooLarge.put("stateBytes", new java.math.BigInteger("99999999999999999999"));
        var fraction = tree(manifest());
        fraction.put("watermark", 1.5);
        var badInstant = tree(manifest());
        badInstant.put("createdAt", "yesterday");
        var badBase64 = tree(manifest());
        ((ObjectNode) badBase64.get("operators").get("join")).put("inline", "not base64!");
        var badCrc = tree(manifest());
        ((ObjectNode) badCrc.get("files").get(0)).put("crc32c", "0A1B2C3D");
        var negativeSize = tree(manifest());
        ((ObjectNode) negativeSize.get("files").get(0)).put("size", -1);

        for (var tree : List.of(wrongType, tooLarge, fraction, badInstant, badBase64, badCrc, negativeSize)) {
            assertThatThrownBy(() -> decode(tree)).isInstanceOf(CheckpointCorruptException.class)
                    .hasMessageContaining("Checkpoint 42");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"../x", "/abs", "a/../../b", "a\\b", "a//b", "", "./a", "a/", "a\u0000b", "C:/x", "a:b"})
    void aFilePathThatEscapesTheStoreIsRefused(String path) {
        var tree = tree(manifest());
        ((ObjectNode) tree.get("files").get(0)).put("path", path);
        ((ObjectNode) tree.get("operators").get("join")).putArray("stateFiles").add(path);

        assertThatThrownBy(() -> decode(tree)).isInstanceOfSatisfying(CheckpointCorruptException.class, e -> {
            assertThat(e.checkpointId()).isEqualTo(42);
            assertThat(e).hasMessageContaining("Checkpoint 42").hasMessageContaining("in files")
                    .hasMessageContaining("Do not restore from it");
        });
    }

    @ParameterizedTest
    @ValueSource(strings = {"../x", "/abs", "a/../../b", "a\\b"})
    void anOperatorStateFileThatEscapesTheStoreIsRefused(String path) {
        var tree = tree(manifest());
        ((ObjectNode) tree.get("operators").get("count")).putArray("stateFiles").add(path);

        assertThatThrownBy(() -> decode(tree)).isInstanceOf(CheckpointCorruptException.class)
                .hasMessageContaining("Checkpoint 42").hasMessageContaining("operator 'count'")
                .hasMessageContaining("Do not restore from it");
    }

    @Test
    void anOperatorStateFileMissingFromFilesIsRefused() {
        var tree = tree(manifest());
        ((ObjectNode) tree.get("operators").get("count")).putArray("stateFiles").add("elsewhere/1.sst");

        assertThatThrownBy(() -> decode(tree)).isInstanceOf(CheckpointCorruptException.class)
                .hasMessageContaining("elsewhere/1.sst").hasMessageContaining("not listed in files");
    }

    @Test
    void aFileListedTwiceIsRefused() {
        var tree = tree(manifest());
        tree.withArray("files").add(tree.get("files").get(0).deepCopy());

        assertThatThrownBy(() -> decode(tree)).isInstanceOf(CheckpointCorruptException.class)
                .hasMessageContaining("listed twice");
    }

    @Test
    void aManifestUnderAnotherIdIsRefused() {
        assertThatThrownBy(() -> ManifestCodec.decode(ManifestCodec.encode(manifest()), SOURCE, 41))
                .isInstanceOfSatisfying(CheckpointCorruptException.class,
                        e -> assertThat(e.checkpointId()).isEqualTo(41))
                .hasMessageContaining("checkpoint 42");
    }

    @Test
    void encodingRefusesWhatCouldNotBeReadBack() {
        var escaping = new CheckpointManifest(1, 1, Instant.EPOCH, List.of(), Map.of(), Map.of(),
                List.of(new StateFileRef("../x", 1, "00000000")), null, 0, 0, 0);
        var unlisted = new CheckpointManifest(1, 1, Instant.EPOCH, List.of(), Map.of(),
                Map.of("op", new OperatorCheckpoint(null, List.of("x"))), List.of(), null, 0, 0, 0);

        assertThatThrownBy(() -> ManifestCodec.encode(escaping)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("../x");
        assertThatThrownBy(() -> ManifestCodec.encode(unlisted)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("op");
    }
}

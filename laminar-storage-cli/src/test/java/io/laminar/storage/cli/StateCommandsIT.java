package io.laminar.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** `laminar state get/scan` against a runtime-written directory with writes after the last checkpoint. */
class StateCommandsIT extends RuntimeDataIT { // data: round 0 and 1 checkpointed, round 2 only in the WAL

    String store() {
        return data.resolve("checkpoints").toString();
    }

    @Test
    void helpHasExamples() throws Exception {
        for (var command : List.of("get", "scan")) {
            var help = Cli.run("state", command, "--help");
            assertThat(help.exit()).as(help.toString()).isZero();
            assertThat(help.out()).contains("Usage: laminar state " + command, "Examples:", "--dir", "--checkpoint");
        }
    }

    @Test
    void getWithTheWalShowsThePostCheckpointValueWithoutItTheCheckpoints() throws Exception {
        var withWal = Cli.run("state", "get", store(), "key-7", "--dir", data.resolve("wal").toString());
        assertThat(withWal.exit()).as(withWal.toString()).isZero();
        assertThat(withWal.out()).contains("\"key-7\" = \"value-7-2\"", "checkpoint " + ids.get(1) + " plus 40 WAL records");
        var checkpointOnly = Cli.run("state", "get", store(), "key-7");
        assertThat(checkpointOnly.exit()).as(checkpointOnly.toString()).isZero();
        assertThat(checkpointOnly.out()).contains("\"key-7\" = \"value-7-1\"", "checkpoint " + ids.get(1));
        var older = Cli.run("state", "get", store(), "key-7", "--checkpoint", ids.get(0).toString(), "--json");
        assertThat(older.exit()).as(older.toString()).isZero();
        var json = RecoverCommandIT.JSON.readTree(older.out());
        assertThat(json.get("value").asString()).isEqualTo("value-7-0");
        assertThat(json.get("checkpointId").asLong()).isEqualTo(ids.get(0));
        assertThat(json.get("found").asBoolean()).isTrue();
        var hex = Cli.run("state", "get", store(), "6b65792d37", "--hex", "--dir", data.toString(), "--json");
        assertThat(hex.out()).contains("\"key\" : \"key-7\"", "\"value\" : \"value-7-2\"", "\"walRecordsReplayed\" : 40");
        var missing = Cli.run("state", "get", store(), "no-such-key");
        assertThat(missing.exit()).isZero();
        assertThat(missing.out()).contains("not found");
    }

    @Test
    void scanInKeyOrderWithPrefixAndLimit() throws Exception {
        var scan = Cli.run("state", "scan", store(), "--prefix", "key-1", "--limit", "3", "--dir",
                data.resolve("wal").toString());
        assertThat(scan.exit()).as(scan.toString()).isZero();
        var lines = scan.out().lines().toList();
        assertThat(lines).hasSize(5);
        assertThat(lines.get(0)).isEqualTo("11 keys with prefix \"key-1\" (checkpoint " + ids.get(1) + " plus 40 WAL records from "
                + data.resolve("wal") + ")");
        assertThat(lines.get(1)).matches("\"key-1\" = \"value-1-2\"  \\(core [01]\\)");
        assertThat(lines.get(4)).isEqualTo("... 8 more (raise --limit)");
        assertThat(scan.out()).contains("\"key-10\" = \"value-10-2\"", "\"key-11\" = \"value-11-2\"")
                .doesNotContain("key-12");
        var json = Cli.run("state", "scan", store(), "--json", "--limit", "0");
        assertThat(json.exit()).as(json.toString()).isZero();
        var node = RecoverCommandIT.JSON.readTree(json.out());
        assertThat(node.get("entries").size()).isEqualTo(40);
        assertThat(node.get("truncated").asBoolean()).isFalse();
        assertThat(node.get("entries").get(0).get("value").asString()).isEqualTo("value-0-1");
    }
}

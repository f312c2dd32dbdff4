package io.laminar.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.laminar.storage.store.s3.S3CheckpointStore;
import io.laminar.storage.store.s3.S3ProxyServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** `laminar checkpoint ...` against stores written by the real runtime (a directory and an S3Proxy bucket). */
class CheckpointCommandsIT extends RuntimeDataIT {

    static S3ProxyServer s3;

    @BeforeAll
    static void produce() throws Exception {
        assertThat(ids).hasSize(2);
        s3 = S3ProxyServer.inMemory();
        s3.start();
        s3.createBucket("ckpt");
        try (var store = S3CheckpointStore.builder(s3.client(), "ckpt").prefix("orders/").build()) {
            RuntimeData.run(shared.resolve("s3-wal"), store, 2, 2, 20);
        }
    }

    @AfterAll
    static void stop() throws Exception {
        if (s3 != null) {
            s3.close();
        }
    }

    Path store() {
        return data.resolve("checkpoints");
    }

    Path copyOfStore() throws Exception {
        return RuntimeData.copyTree(store(), temp.resolve("checkpoints"));
    }

    @Test
    void helpOfEveryCheckpointCommand() throws Exception {
        for (var command : List.of("ls", "show", "verify", "diff")) {
            var result = Cli.run("checkpoint", command, "--help");
            assertThat(result.exit()).as(result.toString()).isZero();
            assertThat(result.out()).contains("Usage: laminar checkpoint " + command, "Example", "s3://bucket/prefix");
        }
    }

    @Test
    void lsShowAndDiff() throws Exception {
        var ls = Cli.run("checkpoint", "ls", store().toString());
        assertThat(ls.exit()).as(ls.toString()).isZero();
        assertThat(ls.out()).contains("2 checkpoints", "RETAINED", " " + ids.get(0) + " ", " " + ids.get(1) + " ");
        var lsJson = Cli.run("checkpoint", "ls", data.toString(), "--json"); // a laminar.storage.dir works too
        assertThat(lsJson.out()).contains("\"checkpointId\" : " + ids.get(1), "\"retainedBytes\"");

        var show = Cli.run("checkpoint", "show", store().toString(), ids.get(1).toString());
        assertThat(show.exit()).as(show.toString()).isZero();
        assertThat(show.out()).contains("checkpoint " + ids.get(1), "WAL positions", "core 0:", "core-0000",
                "state/core-0000/", "crc32c");
        assertThat(Cli.run("checkpoint", "show", store().toString(), ids.get(1).toString(), "--json").out())
                .contains("\"walPositions\"", "\"operators\"");

        var diff = Cli.run("checkpoint", "diff", store().toString(), ids.get(0).toString(), ids.get(1).toString());
        assertThat(diff.exit()).as(diff.toString()).isZero();
        assertThat(diff.out()).contains("added: ", "shared: ", "dropped: ", "-delta.lsf");
    }

    @Test
    void verifyCleanStore() throws Exception {
        var newest = Cli.run("checkpoint", "verify", store().toString());
        assertThat(newest.exit()).as(newest.toString()).isZero();
        assertThat(newest.out()).contains("checkpoint " + ids.get(1) + ": OK", "all verified");
        var all = Cli.run("checkpoint", "verify", store().toString(), "--all", "--json");
        assertThat(all.exit()).as(all.toString()).isZero();
        assertThat(all.out()).contains("\"checkpointId\" : " + ids.get(0), "\"damaged\" : false");
    }

    @Test
    void verifyChecksOnlyTheCheckpointItIsGiven() throws Exception {
        var copy = copyOfStore();
        var diff = RecoverCommandIT.JSON.readTree(Cli.run("checkpoint", "diff", copy.toString(), ids.get(0).toString(),
                ids.get(1).toString(), "--json").out());
        var onlyInNewest = copy.resolve("state").resolve(diff.get("added").get(0).get("path").asString());
        WalCommandsIT.flip(onlyInNewest, Files.size(onlyInNewest) / 2);

        var older = Cli.run("checkpoint", "verify", copy.toString(), ids.get(0).toString());
        assertThat(older.exit()).as(older.toString()).isZero();
        assertThat(older.out()).contains("checkpoint " + ids.get(0) + ": OK", "all verified")
                .doesNotContain("checkpoint " + ids.get(1));
        var newest = Cli.run("checkpoint", "verify", copy.toString(), ids.get(1).toString(), "--json");
        assertThat(newest.exit()).as(newest.toString()).isEqualTo(1);
        assertThat(newest.out()).contains("\"damaged\" : true", onlyInNewest.getFileName().toString());

        var both = Cli.run("checkpoint", "verify", copy.toString(), ids.get(0).toString(), "--all");
        assertThat(both.exit()).as(both.toString()).isEqualTo(2);
        assertThat(both.err()).contains("ID, --all are mutually exclusive", "Usage: laminar checkpoint verify");
    }

    @Test
    void verifyNamesADamagedStateFile() throws Exception {
        var copy = copyOfStore();
        Path victim;
        try (var files = Files.walk(copy.resolve("state"))) {
            victim = files.filter(f -> f.toString().endsWith("-full.lsf")).findFirst().orElseThrow();
        }
        WalCommandsIT.flip(victim, Files.size(victim) / 2);
        var result = Cli.run("checkpoint", "verify", copy.toString(), "--all");
        assertThat(result.exit()).as(result.toString()).isEqualTo(1);
        assertThat(result.out()).contains("DAMAGED", victim.getFileName().toString(), "damage found");
    }

    @Test
    void verifyAndLsNameADamagedManifest() throws Exception {
        var copy = copyOfStore();
        var manifest = copy.resolve(String.format("manifests/checkpoint-%020d.json", ids.get(1)));
        WalCommandsIT.flip(manifest, 20);
        var verify = Cli.run("checkpoint", "verify", copy.toString());
        assertThat(verify.exit()).as(verify.toString()).isEqualTo(1);
        assertThat(verify.out()).contains("checkpoint " + ids.get(1) + ": DAMAGED", "manifest");
        var ls = Cli.run("checkpoint", "ls", copy.toString());
        assertThat(ls.exit()).isEqualTo(1);
        assertThat(ls.out()).containsPattern(ids.get(1) + " +CORRUPT: Checkpoint " + ids.get(1));
    }

    @Test
    void errors() throws Exception {
        var missing = Cli.run("checkpoint", "ls", temp.resolve("nope").toString());
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).isEqualTo("laminar: no such directory: " + temp.resolve("nope") + "\n");
        var notAStore = Cli.run("checkpoint", "ls", temp.toString());
        assertThat(notAStore.exit()).isEqualTo(2);
        assertThat(notAStore.err()).contains("is not a laminar checkpoint store");
        var noSuchId = Cli.run("checkpoint", "show", store().toString(), "999");
        assertThat(noSuchId.exit()).isEqualTo(2);
        assertThat(noSuchId.err()).contains("has no checkpoint 999");
    }

    @Test
    void s3StoreLsAndVerify() throws Exception {
        var ls = Cli.runS3(s3, S3ProxyServer.SECRET_KEY, "checkpoint", "ls", "s3://ckpt/orders/");
        assertThat(ls.exit()).as(ls.toString()).isZero();
        assertThat(ls.out()).contains("2 checkpoints");
        var verify = Cli.runS3(s3, S3ProxyServer.SECRET_KEY, "checkpoint", "verify", "s3://ckpt/orders/", "--all");
        assertThat(verify.exit()).as(verify.toString()).isZero();
        assertThat(verify.out()).contains("all verified");
    }

    @Test
    void s3ErrorsAreShortAndNeverShowTheSecret() throws Exception {
        var noBucket = Cli.runS3(s3, S3ProxyServer.SECRET_KEY, "checkpoint", "ls", "s3://no-such-bucket/x/");
        assertThat(noBucket.exit()).as(noBucket.toString()).isEqualTo(2);
        assertThat(noBucket.err()).contains("no-such-bucket").doesNotContain("\tat ");
        assertThat(noBucket.err().lines().count()).isLessThanOrEqualTo(2);
        var wrongSecret = "wrong-secret-4711";
        var denied = Cli.runS3(s3, wrongSecret, "checkpoint", "ls", "s3://ckpt/orders/");
        assertThat(denied.exit()).as(denied.toString()).isEqualTo(2);
        assertThat(denied.err() + denied.out()).contains("ckpt").doesNotContain(wrongSecret, S3ProxyServer.SECRET_KEY);
        assertThat(denied.err().lines().count()).isLessThanOrEqualTo(2);
    }
}

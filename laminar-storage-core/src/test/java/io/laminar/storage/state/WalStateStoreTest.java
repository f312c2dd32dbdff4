package io.laminar.storage.state;

import static io.laminar.storage.state.ChangelogAwareStateStoreTest.entries;
import static io.laminar.storage.state.ChangelogAwareStateStoreTest.newModel;
import static io.laminar.storage.state.ChangelogAwareStateStoreTest.randomKey;
import static io.laminar.storage.state.ChangelogAwareStateStoreTest.randomValue;
import static io.laminar.storage.state.ChangelogAwareStateStoreTest.seed;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalCorruptionException;
import io.laminar.storage.wal.WalOptions;
import io.laminar.storage.wal.WriteAheadLog;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WalStateStoreTest {

    @TempDir
    Path dir;

    private static WalOptions small() {
        return WalOptions.builder().segmentSize(64 * 1024).maxRecordSize(4096).writeBufferSize(16 * 1024).build();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(UTF_8);
    }

    @Test
    void putDeleteAndClearAreRebuiltExactlyOnReopenAndClearedKeysDoNotComeBack() {
        try (var store = WalStateStore.open(dir, small())) {
            store.put(bytes("gone-with-clear"), bytes("1"));
            store.put(bytes("overwritten"), bytes("old"));
            store.clear();
            store.put(bytes("overwritten"), bytes("new"));
            store.put(bytes("deleted"), bytes("x"));
            store.put(bytes("kept"), bytes("value"));
            assertThat(store.delete(bytes("deleted"))).isTrue();
            assertThat(store.delete(bytes("never-there"))).isFalse();
        }
        try (var store = WalStateStore.open(dir, small())) {
            assertThat(entries(store)).containsExactly(
                    new StateEntry(bytes("kept"), bytes("value")),
                    new StateEntry(bytes("overwritten"), bytes("new")));
            assertThat(store.get(bytes("gone-with-clear"))).isNull();
            assertThat(store.get(bytes("deleted"))).isNull();
            store.clear();
        }
        try (var store = WalStateStore.open(dir, small())) {
            assertThat(store.isEmpty()).isTrue();
        }
    }

    @Test
    void randomOperationsMatchAModelAcrossReopens() {
        var random = new Random(seed("walRandomOperations"));
        var model = newModel();
        for (int round = 0; round < 6; round++) {
            try (var store = WalStateStore.open(dir, small())) {
                assertThat(entries(store)).as("state after reopen %d", round).isEqualTo(entries(model));
                for (int op = 0; op < 3_000; op++) {
                    int dice = random.nextInt(1000);
                    var key = randomKey(random);
                    if (dice < 600) {
                        var value = randomValue(random);
                        store.put(key, value);
                        model.put(key, value);
                    } else if (dice < 995) {
                        assertThat(store.delete(key)).isEqualTo(model.remove(key) != null);
                    } else {
                        store.clear();
                        model.clear();
                    }
                }
                assertThat(store.size()).isEqualTo(model.size());
            }
        }
        try (var store = WalStateStore.open(dir, small())) {
            assertThat(entries(store)).isEqualTo(entries(model));
        }
    }

    @Test
    void durableVariantsCompleteOnceTheLogIsSynced() throws Exception {
        var options = small().toBuilder().syncPolicy(SyncPolicy.none()).build();
        try (var store = WalStateStore.open(dir, options)) {
            long put = store.putDurable(bytes("a"), bytes("1")).get(10, TimeUnit.SECONDS);
            assertThat(store.wal().durablePosition()).isGreaterThan(put);
            long delete = store.deleteDurable(bytes("a")).get(10, TimeUnit.SECONDS);
            assertThat(store.wal().durablePosition()).isGreaterThan(delete);
            store.put(bytes("b"), bytes("2"));
            long clear = store.clearDurable().get(10, TimeUnit.SECONDS);
            assertThat(store.wal().durablePosition()).isGreaterThan(clear);
            store.put(bytes("c"), bytes("3"));
            store.sync().get(10, TimeUnit.SECONDS);
        }
        try (var store = WalStateStore.open(dir, options)) {
            assertThat(entries(store)).containsExactly(new StateEntry(bytes("c"), bytes("3")));
        }
    }

    @Test
    void aStoreRecoveredFromALogItDoesNotOwnLeavesTheLogOpen() {
        try (var wal = WriteAheadLog.open(dir, small())) {
            try (var store = WalStateStore.recover(wal)) {
                store.put(bytes("k"), bytes("v"));
            }
            assertThat(WalStateStore.recover(wal).get(bytes("k"))).isEqualTo(bytes("v"));
        }
    }

    /** Appends a raw record, with an intact checksum, after one valid put. */
    private void writeRawRecordAfterAValidPut(ByteBuffer raw) {
        try (var store = WalStateStore.open(dir, small())) {
            store.put(bytes("good"), bytes("value"));
        }
        try (var wal = WriteAheadLog.open(dir, small())) {
            wal.append(raw);
        }
    }

    @Test
    void aRecordWhoseValueLengthExceedsTheRecordFailsTheOpenNamingItsPosition() {
        var raw = ByteBuffer.allocate(1 + 4 + 1 + 4 + 3).order(ByteOrder.LITTLE_ENDIAN);
        raw.put(StateChangeFormat.PUT).putInt(1).put((byte) 'k').putInt(1_000_000).put(new byte[3]).flip();
        writeRawRecordAfterAValidPut(raw);
        assertThatThrownBy(() -> WalStateStore.open(dir, small()))
                .isInstanceOf(StateCorruptionException.class)
                .hasMessageContaining("is not a valid state record")
                .hasMessageContaining("the value length at byte 6 is 1000000 but 3 bytes follow it")
                .hasMessageContaining("segment file " + dir.resolve("wal-00000000000000000000.wal"))
                .satisfies(e -> assertThat(((StateCorruptionException) e).position()).isPositive())
                .satisfies(e -> assertThat(((StateCorruptionException) e).file())
                        .isEqualTo(dir.resolve("wal-00000000000000000000.wal")));
        // The failed open released the log: it can be opened again.
        WriteAheadLog.open(dir, small()).close();
    }

    @Test
    void anUnknownOperationFailsTheOpen() {
        writeRawRecordAfterAValidPut(ByteBuffer.wrap(new byte[] {9, 0, 0, 0, 0}));
        assertThatThrownBy(() -> WalStateStore.open(dir, small()))
                .isInstanceOf(StateCorruptionException.class)
                .hasMessageContaining("operation byte 9 is none of 1 (put), 2 (delete), 3 (clear)");
    }

    @Test
    void bytesAfterTheEndOfARecordFailTheOpen() {
        writeRawRecordAfterAValidPut(ByteBuffer.wrap(new byte[] {StateChangeFormat.CLEAR, 0}));
        assertThatThrownBy(() -> WalStateStore.open(dir, small()))
                .isInstanceOf(StateCorruptionException.class)
                .hasMessageContaining("1 unexpected bytes follow the record's end at byte 1");
    }

    @Test
    void aNegativeKeyLengthFailsTheOpen() {
        var raw = ByteBuffer.allocate(5).order(ByteOrder.LITTLE_ENDIAN).put(StateChangeFormat.DELETE).putInt(-1).flip();
        writeRawRecordAfterAValidPut(raw);
        assertThatThrownBy(() -> WalStateStore.open(dir, small()))
                .isInstanceOf(StateCorruptionException.class)
                .hasMessageContaining("the key length at byte 1 is -1");
    }

    @Test
    void aFlippedByteInASyncedValueOnDiskIsRefusedNotReturned() throws Exception {
        var marker = bytes("MARKER-VALUE-0123456789");
        try (var store = WalStateStore.open(dir, small())) {
            store.putDurable(bytes("victim"), marker).get(10, TimeUnit.SECONDS);
            for (int i = 0; i < 20; i++) {
                store.putDurable(bytes("later-" + i), bytes("v")).get(10, TimeUnit.SECONDS);
            }
        }
        Path segment;
        try (var files = Files.list(dir)) {
            segment = files.filter(p -> p.toString().endsWith(".wal")).sorted().findFirst().orElseThrow();
        }
        var content = Files.readAllBytes(segment);
        int at = indexOf(content, marker);
        assertThat(at).isNotNegative();
        content[at + 3] ^= 0x01;
        Files.write(segment, content);
        assertThatThrownBy(() -> WalStateStore.open(dir, small())).isInstanceOf(WalCorruptionException.class);
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Test
    void aRecordLargerThanTheLogAcceptsIsRefusedAndNotApplied() {
        try (var store = WalStateStore.open(dir, small())) {
            assertThatThrownBy(() -> store.put(bytes("big"), new byte[8192]))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("maxRecordSize");
            assertThat(store.containsKey(bytes("big"))).isFalse();
        }
    }
}

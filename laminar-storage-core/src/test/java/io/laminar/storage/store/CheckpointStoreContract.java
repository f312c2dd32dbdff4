package io.laminar.storage.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.store.CheckpointConflictException;
import io.laminar.storage.store.CheckpointCorruptException;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.ConnectorCheckpoint;
import io.laminar.storage.store.ManifestCodec;
import io.laminar.storage.store.OperatorCheckpoint;
import io.laminar.storage.store.StateFileRef;
import io.laminar.storage.store.VerifyingInputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The contract every {@link CheckpointStore} keeps (see its javadoc). An implementation's test
 * extends this class and says how to make a store; it may add its own cases. Nothing here assumes
 * a file system: the three hooks are all an object store needs to provide too.
 */
public abstract class CheckpointStoreContract {

    /** A new, empty store. Closed after the test. */
    protected abstract CheckpointStore createStore() throws Exception;

    /**
     * A second store over the same storage as {@code store}, as another process would open it (it
     * must see what {@code store} published). Closed after the test.
     */
    protected abstract CheckpointStore openAnotherStoreOver(CheckpointStore store) throws Exception;

    /**
     * Puts {@code bytes} where {@code store} keeps the manifest of {@code checkpointId}, bypassing
     * every check: how damage, tampering or a newer writer's manifest looks to the store.
     */
    protected abstract void storeRawManifest(CheckpointStore store, long checkpointId, byte[] bytes) throws Exception;

    private final List<CheckpointStore> opened = new CopyOnWriteArrayList<>();
    protected CheckpointStore store;

    @BeforeEach
    void createTheStore() throws Exception {
        store = track(createStore());
    }

    @AfterEach
    void closeTheStores() throws Exception {
        for (var s : opened) {
            s.close();
        }
    }

    /** Closes {@code s} after the test. */
    protected CheckpointStore track(CheckpointStore s) {
        opened.add(s);
        return s;
    }

    protected CheckpointStore anotherStore() throws Exception {
        return track(openAnotherStoreOver(store));
    }

    // ---- ownership ----------------------------------------------------------------------------

    @Test
    void eachClaimGetsANewerOwnerEpoch() throws Exception {
        assertThat(store.ownerEpoch()).isEqualTo(-1);
        assertThat(store.newestOwnerEpoch()).isZero();
        long first = store.claimOwnership();
        var other = anotherStore();
        long second = other.claimOwnership();
        assertThat(store.newestOwnerEpoch()).isEqualTo(second);

        assertThat(first).isPositive();
        assertThat(second).isGreaterThan(first);
        assertThat(store.ownerEpoch()).isEqualTo(first);
        assertThat(other.ownerEpoch()).isEqualTo(second);
    }

    @Test
    void concurrentClaimsNeverShareAnEpoch() throws Exception {
        var claimants = new ArrayList<CheckpointStore>();
        for (int i = 0; i < 4; i++) {
            claimants.add(anotherStore());
        }
        ExecutorService pool = Executors.newFixedThreadPool(claimants.size());
        try {
            var start = new CountDownLatch(1);
            var epochs = new ArrayList<Future<Long>>();
            for (var claimant : claimants) {
                epochs.add(pool.submit(() -> {
                    start.await();
                    return claimant.claimOwnership();
                }));
            }
            start.countDown();
            var claimed = new java.util.HashSet<Long>();
            for (var epoch : epochs) {
                claimed.add(epoch.get(30, TimeUnit.SECONDS));
            }
            assertThat(claimed).hasSize(claimants.size());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aFencedOwnerCanNeitherPublishNorDeleteAnything() throws Exception {
        store.claimOwnership();
        var kept = store.writeFile("old/1", stream(randomBytes(100, 40)));
        store.publishManifest(manifest(1, List.of(kept)));

        var newOwner = anotherStore();
        newOwner.claimOwnership();
        var newFile = newOwner.writeFile("new/2", stream(randomBytes(100, 41)));
        newOwner.publishManifest(manifest(2, List.of(newFile)));

        assertThatThrownBy(() -> store.publishManifest(manifest(3, List.of(kept))))
                .isInstanceOf(io.laminar.storage.FencedException.class)
                .hasMessageContaining("publish checkpoint 3")
                .hasMessageContaining("owner epoch");
        assertThatThrownBy(() -> store.deleteFile("new/2")).isInstanceOf(io.laminar.storage.FencedException.class);
        assertThatThrownBy(() -> store.deleteFile("old/1")).isInstanceOf(io.laminar.storage.FencedException.class);
        assertThatThrownBy(() -> store.deleteManifest(2)).isInstanceOf(io.laminar.storage.FencedException.class);
        assertThatThrownBy(() -> store.deleteManifest(1)).isInstanceOf(io.laminar.storage.FencedException.class);

        assertThat(newOwner.listCheckpoints()).containsExactly(1L, 2L);
        assertThat(newOwner.listFiles()).containsExactlyInAnyOrder("old/1", "new/2");
        // The new owner goes on as before.
        newOwner.deleteManifest(1);
        newOwner.deleteFile("old/1");
        assertThat(newOwner.listCheckpoints()).containsExactly(2L);
    }

    @Test
    void aClaimRecordsTheNewestCheckpointItSawAsItsFencePoint() throws Exception {
        assertThat(store.ownerFences()).isEmpty();
        long first = store.claimOwnership();
        assertThat(store.ownerFences()).containsExactly(Map.entry(first, -1L));
        var file = store.writeFile("a", stream(randomBytes(10, 43)));
        store.publishManifest(manifest(4, List.of(file)));
        store.publishManifest(manifest(7, List.of(file)));

        var other = anotherStore();
        long second = other.claimOwnership();
        assertThat(store.ownerFences()).containsExactly(Map.entry(first, -1L), Map.entry(second, 7L));
        // A manifest of the first owner above 7 is void from now on; its own up to 7 are not.
        var fences = OwnerFences.of(other);
        assertThat(fences.voidReason(8, first)).get().asString().contains("owner epoch " + second);
        assertThat(fences.voidReason(7, first)).isEmpty();
        assertThat(fences.voidReason(8, second)).isEmpty();
    }

    @Test
    void aStoreThatNeverClaimedIsNotChecked() throws Exception {
        var owner = anotherStore();
        owner.claimOwnership();
        var file = store.writeFile("a", stream(randomBytes(10, 42)));
        store.publishManifest(manifest(1, List.of(file)));
        store.deleteManifest(1);
        assertThat(store.listCheckpoints()).isEmpty();
    }

    // ---- files --------------------------------------------------------------------------------

    @Test
    void aWrittenFileReadsBackWithItsSizeAndCrc32c() throws Exception {
        var bytes = randomBytes(300_000, 1); // several write buffers
        var ref = store.writeFile("op/1-0.sst", stream(bytes));

        assertThat(ref).isEqualTo(new StateFileRef("op/1-0.sst", bytes.length, crc32c(bytes)));
        assertThat(readAll(store, "op/1-0.sst")).isEqualTo(bytes);
        assertThat(store.fileSize("op/1-0.sst")).contains((long) bytes.length);
    }

    @Test
    void anEmptyFileIsAFileToo() throws Exception {
        var ref = store.writeFile("empty", stream(new byte[0]));

        assertThat(ref).isEqualTo(new StateFileRef("empty", 0, "00000000"));
        assertThat(store.fileSize("empty")).contains(0L);
        assertThat(readAll(store, "empty")).isEmpty();
    }

    @Test
    void theCrc32cIsEightLowercaseHexDigits() throws Exception {
        var ref = store.writeFile("a", stream("hello".getBytes(StandardCharsets.UTF_8)));

        assertThat(ref.crc32c()).matches("[0-9a-f]{8}").isEqualTo(crc32c("hello".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void aMissingFileHasNoSizeAndCannotBeOpened() throws Exception {
        assertThat(store.fileSize("nope")).isEmpty();
        assertThatThrownBy(() -> store.openFile("nope")).isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("nope");
    }

    @Test
    void writingTheSameBytesAgainIsARetryThatSucceeds() throws Exception {
        var bytes = randomBytes(1000, 2);
        var first = store.writeFile("x/y", stream(bytes));
        var second = store.writeFile("x/y", stream(bytes));

        assertThat(second).isEqualTo(first);
        assertThat(readAll(store, "x/y")).isEqualTo(bytes);
        assertThat(store.listFiles()).containsExactly("x/y");
    }

    @Test
    void writingOtherBytesToAnExistingFileFailsAndKeepsTheFile() throws Exception {
        var bytes = randomBytes(1000, 3);
        store.writeFile("x/y", stream(bytes));

        assertThatThrownBy(() -> store.writeFile("x/y", stream(randomBytes(1000, 4))))
                .isInstanceOf(FileAlreadyExistsException.class).hasMessageContaining("x/y").hasMessageContaining("immutable");
        assertThatThrownBy(() -> store.writeFile("x/y", stream(Arrays.copyOf(bytes, 999))))
                .isInstanceOf(FileAlreadyExistsException.class);
        assertThat(readAll(store, "x/y")).isEqualTo(bytes);
        assertThat(store.listFiles()).containsExactly("x/y");
    }

    @Test
    void concurrentWritersOfOnePathWithDifferentBytesLeaveExactlyOneWinner() throws Exception {
        int writers = 6;
        var winners = new CopyOnWriteArrayList<Integer>();
        var losers = new AtomicInteger();
        runConcurrently(writers, i -> {
            try {
                store.writeFile("contended", stream(randomBytes(50_000, 100 + i)));
                winners.add(i);
            } catch (FileAlreadyExistsException e) {
                losers.incrementAndGet();
            }
            return null;
        });

        assertThat(winners).hasSize(1);
        assertThat(losers).hasValue(writers - 1);
        assertThat(readAll(store, "contended")).isEqualTo(randomBytes(50_000, 100 + winners.get(0)));
    }

    @Test
    void aFailingContentStreamStoresNothing() throws Exception {
        var failing = new InputStream() {
            int left = 100_000;

            // Keeps failing once it has failed: InputStream.read(byte[]) swallows a failure after
            // the first byte of a call and reports it on the next call.
            @Override
            public int read() throws IOException {
                if (left <= 0) {
                    throw new IOException("source broke");
                }
                left--;
                return 7;
            }
        };

        assertThatThrownBy(() -> store.writeFile("broken", failing)).isInstanceOf(IOException.class)
                .hasMessageContaining("broken").hasMessageContaining("source broke");
        assertThat(store.fileSize("broken")).isEmpty();
        assertThat(store.listFiles()).isEmpty();
    }

    @Test
    void aFileStreamedByAProducerReadsBackWithItsSizeAndCrc32c() throws Exception {
        var bytes = randomBytes(3_000_000, 2); // several write buffers, written in uneven pieces
        var ref = store.writeFile("op/streamed.sst", out -> {
            for (int at = 0; at < bytes.length; at += 77_777) {
                out.write(bytes, at, Math.min(77_777, bytes.length - at));
            }
            out.write(7);
        });
        var expected = java.util.Arrays.copyOf(bytes, bytes.length + 1);
        expected[bytes.length] = 7;

        assertThat(ref).isEqualTo(new StateFileRef("op/streamed.sst", expected.length, crc32c(expected)));
        assertThat(readAll(store, "op/streamed.sst")).isEqualTo(expected);
    }

    @Test
    void aProducerThatFailsStoresNothing() throws Exception {
        assertThatThrownBy(() -> store.writeFile("half", out -> {
            out.write(new byte[100_000]);
            throw new IOException("producer broke");
        })).isInstanceOf(IOException.class).hasMessageContaining("producer broke");
        assertThat(store.fileSize("half")).isEmpty();
        assertThat(store.listFiles()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "../x", "/abs", "a/../../b", "a\\b", "a//b", "a/", "./a", "a/."})
    void aPathThatCouldLeaveTheStoreIsRefused(String path) {
        assertThatThrownBy(() -> store.writeFile(path, stream(new byte[] {1})))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.openFile(path)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.fileSize(path)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.deleteFile(path)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void listingFilesShowsEveryStateFileInOrderButNoManifest() throws Exception {
        var b = store.writeFile("b/2", stream(new byte[] {2}));
        var a = store.writeFile("a/1", stream(new byte[] {1}));
        store.writeFile("c", stream(new byte[] {3}));
        store.publishManifest(manifest(5, List.of(a, b)));

        assertThat(store.listFiles()).containsExactly("a/1", "b/2", "c");
    }

    @Test
    void deletingAFileIsIdempotentAndKeepsTheOthers() throws Exception {
        store.writeFile("a/1", stream(new byte[] {1}));
        store.writeFile("a/2", stream(new byte[] {2}));

        store.deleteFile("a/1");
        store.deleteFile("a/1");
        store.deleteFile("never/written");

        assertThat(store.fileSize("a/1")).isEmpty();
        assertThat(store.listFiles()).containsExactly("a/2");
    }

    @Test
    void aDeletedFileCanBeWrittenAgainWithOtherBytes() throws Exception {
        store.writeFile("a", stream(new byte[] {1}));
        store.deleteFile("a");

        var ref = store.writeFile("a", stream(new byte[] {2, 3}));

        assertThat(ref.size()).isEqualTo(2);
        assertThat(readAll(store, "a")).containsExactly(2, 3);
    }

    @Test
    void aFileReadThroughItsRefIsVerifiedAtItsEnd() throws Exception {
        var bytes = randomBytes(100_000, 11);
        var ref = store.writeFile("v", stream(bytes));

        try (var in = VerifyingInputStream.open(store, ref, 1)) {
            assertThat(in.readAllBytes()).isEqualTo(bytes);
            assertThat(in.verified()).isTrue();
        }
    }

    @Test
    void aFileThatDoesNotMatchItsRefIsReportedAsCorrupt() throws Exception {
        var bytes = randomBytes(1000, 12);
        var ref = store.writeFile("v", stream(bytes));
        var otherCrc = new StateFileRef("v", ref.size(), ref.crc32c().equals("00000000") ? "00000001" : "00000000");
        var shorter = new StateFileRef("v", ref.size() - 1, ref.crc32c());
        var longer = new StateFileRef("v", ref.size() + 1, ref.crc32c());

        for (var wrong : List.of(otherCrc, shorter, longer)) {
            try (var in = VerifyingInputStream.open(store, wrong, 9)) {
                assertThatThrownBy(in::readAllBytes).isInstanceOfSatisfying(CheckpointCorruptException.class,
                        e -> assertThat(e.checkpointId()).isEqualTo(9))
                        .hasMessageContaining("'v'").hasMessageContaining("checkpoint 9");
                assertThat(in.verified()).isFalse();
            }
        }
    }

    // ---- manifests ----------------------------------------------------------------------------

    @Test
    void aPublishedManifestReadsBackWithEveryField() throws Exception {
        var full = store.writeFile("join/1-0.sst", stream(randomBytes(4096, 5)));
        var delta = store.writeFile("join/2-0.sst", stream(randomBytes(100, 6)));
        var manifest = new CheckpointManifest(2, 17, Instant.parse("2025-01-31T10:15:30.123456789Z"),
                List.of(0L, 4096L, Long.MAX_VALUE),
                Map.of("orders", new ConnectorCheckpoint(Map.of("p0", "17", "p1", "4"), Map.of("topic", "orders")),
                        "files", new ConnectorCheckpoint(Map.of("in/a.csv", "1024"), Map.of())),
                Map.of("join", new OperatorCheckpoint(new byte[] {0, 1, 2, (byte) 255}, List.of(full.path(), delta.path())),
                        "count", new OperatorCheckpoint(new byte[0], List.of())),
                List.of(full, delta), 1L, 4196, 100, Long.MIN_VALUE);

        store.publishManifest(manifest);

        assertThat(store.readManifest(2)).contains(manifest);
        assertThat(anotherStore().readManifest(2)).contains(manifest);
    }

    @Test
    void aFullCheckpointHasNoParent() throws Exception {
        store.publishManifest(manifest(1, List.of()));

        assertThat(store.readManifest(1)).get().extracting(CheckpointManifest::parentCheckpointId).isNull();
    }

    @Test
    void aManifestThatWasNeverPublishedIsEmpty() throws Exception {
        assertThat(store.readManifest(3)).isEmpty();
    }

    @Test
    void aManifestIsPublishedOnlyWhenItsFilesExist() throws Exception {
        var present = store.writeFile("present", stream(new byte[] {1}));
        var missing = new StateFileRef("missing", 10, "0a0b0c0d");

        assertThatThrownBy(() -> store.publishManifest(manifest(4, List.of(present, missing))))
                .isInstanceOf(NoSuchFileException.class).hasMessageContaining("missing").hasMessageContaining("4");
        assertThat(store.readManifest(4)).isEmpty();
        assertThat(store.listCheckpoints()).isEmpty();
    }

    @Test
    void aManifestIsPublishedOnlyWhenItsFilesHaveTheRecordedSize() throws Exception {
        var written = store.writeFile("f", stream(new byte[] {1, 2, 3}));
        var wrongSize = new StateFileRef("f", 4, written.crc32c());

        assertThatThrownBy(() -> store.publishManifest(manifest(4, List.of(wrongSize))))
                .isInstanceOf(CheckpointCorruptException.class).hasMessageContaining("'f'").hasMessageContaining("4 bytes");
        assertThat(store.listCheckpoints()).isEmpty();
    }

    @Test
    void anOperatorStateFileMustBeListedInFiles() throws Exception {
        var file = store.writeFile("f", stream(new byte[] {1}));
        var manifest = new CheckpointManifest(1, 1, Instant.EPOCH, List.of(), Map.of(),
                Map.of("op", new OperatorCheckpoint(null, List.of(file.path()))), List.of(), null, 1, 1, 0);

        assertThatThrownBy(() -> store.publishManifest(manifest)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'f'").hasMessageContaining("op");
        assertThat(store.listCheckpoints()).isEmpty();
    }

    @Test
    void aSecondPublishOfTheSameIdWithOtherContentConflictsAndKeepsTheFirst() throws Exception {
        var first = manifest(7, List.of());
        store.publishManifest(first);

        var other = withEpoch(first, 99);
        assertThatThrownBy(() -> store.publishManifest(other)).isInstanceOf(CheckpointConflictException.class)
                .hasMessageContaining("7");
        assertThatThrownBy(() -> anotherStore().publishManifest(other)).isInstanceOf(CheckpointConflictException.class);
        assertThat(store.readManifest(7)).contains(first);
        assertThat(store.listCheckpoints()).containsExactly(7L);
    }

    @Test
    void publishingTheSameManifestAgainIsARetryThatSucceedsAndChangesNothing() throws Exception {
        var first = manifest(7, List.of());
        store.publishManifest(first);

        store.publishManifest(first);
        anotherStore().publishManifest(first);

        assertThat(store.readManifest(7)).contains(first);
        assertThat(store.listCheckpoints()).containsExactly(7L);
    }

    @Test
    void writersRacingToPublishOneIdLeaveExactlyOneWinner() throws Exception {
        var stores = List.of(store, anotherStore());
        for (long id = 1; id <= 10; id++) {
            long checkpointId = id;
            int writers = 4;
            var winners = new CopyOnWriteArrayList<Integer>();
            var conflicts = new AtomicInteger();
            runConcurrently(writers, i -> {
                try {
                    stores.get(i % 2).publishManifest(withEpoch(manifest(checkpointId, List.of()), i));
                    winners.add(i);
                } catch (CheckpointConflictException e) {
                    conflicts.incrementAndGet();
                }
                return null;
            });

            assertThat(winners).as("winners of checkpoint %d", id).hasSize(1);
            assertThat(conflicts).hasValue(writers - 1);
            assertThat(store.readManifest(id)).get().extracting(CheckpointManifest::epoch)
                    .isEqualTo((long) winners.get(0));
        }
        assertThat(store.listCheckpoints()).hasSize(10);
    }

    @Test
    void checkpointsAreListedInIdOrder() throws Exception {
        for (long id : new long[] {10, 2, 300, 1, 5_000_000_000L, Long.MAX_VALUE, 0}) {
            store.publishManifest(manifest(id, List.of()));
        }

        assertThat(store.listCheckpoints()).containsExactly(0L, 1L, 2L, 10L, 300L, 5_000_000_000L, Long.MAX_VALUE);
        assertThat(anotherStore().listCheckpoints()).containsExactly(0L, 1L, 2L, 10L, 300L, 5_000_000_000L,
                Long.MAX_VALUE);
    }

    @Test
    void deletingAManifestIsIdempotentAndKeepsItsFiles() throws Exception {
        var file = store.writeFile("f", stream(new byte[] {1}));
        store.publishManifest(manifest(1, List.of(file)));
        store.publishManifest(manifest(2, List.of(file)));

        store.deleteManifest(1);
        store.deleteManifest(1);
        store.deleteManifest(42);

        assertThat(store.listCheckpoints()).containsExactly(2L);
        assertThat(store.readManifest(1)).isEmpty();
        assertThat(store.listFiles()).containsExactly("f");
    }

    @Test
    void aNegativeIdIsRefused() {
        assertThatThrownBy(() -> store.readManifest(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> store.deleteManifest(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    // ---- corrupt manifests --------------------------------------------------------------------

    @Test
    void aCorruptManifestIsReportedByIdWhileTheOthersStillRead() throws Exception {
        var good = manifest(1, List.of());
        store.publishManifest(good);
        storeRawManifest(store, 2, "{\"format\": {\"major\": 1, \"minor\": 0}, \"checkpointId\": 2, \"epo"
                .getBytes(StandardCharsets.UTF_8));

        assertThat(store.listCheckpoints()).containsExactly(1L, 2L);
        assertThatThrownBy(() -> store.readManifest(2)).isInstanceOfSatisfying(CheckpointCorruptException.class,
                e -> {
                    assertThat(e.checkpointId()).isEqualTo(2);
                    assertThat(e).hasMessageContaining("Checkpoint 2").hasMessageContaining("older checkpoint");
                });
        assertThat(store.readManifest(1)).contains(good);
    }

    @Test
    void garbageUnderAManifestNameIsNamedByTheIdOfThatName() throws Exception {
        storeRawManifest(store, 3, new byte[] {(byte) 0xff, 0, 1, 2});

        assertThatThrownBy(() -> store.readManifest(3)).isInstanceOfSatisfying(CheckpointCorruptException.class,
                e -> assertThat(e.checkpointId()).isEqualTo(3));
    }

    @Test
    void aManifestUnderAnotherIdsNameIsRefused() throws Exception {
        storeRawManifest(store, 8, ManifestCodec.encode(manifest(9, List.of())));

        assertThatThrownBy(() -> store.readManifest(8)).isInstanceOf(CheckpointCorruptException.class)
                .hasMessageContaining("Checkpoint 8").hasMessageContaining("checkpoint 9");
    }

    @Test
    void aManifestNamingAPathOutsideTheStoreIsRefused() throws Exception {
        storeRawManifest(store, 4, ForgedManifests.edited(manifest(4, List.of(new StateFileRef("ok", 1, "00000000"))),
                json -> json.replace("\"ok\"", "\"../../etc/passwd\"")));

        assertThatThrownBy(() -> store.readManifest(4)).isInstanceOf(CheckpointCorruptException.class)
                .hasMessageContaining("Checkpoint 4").hasMessageContaining("../../etc/passwd");
    }

    @Test
    void aManifestOfANewerMajorFormatIsRefusedAndOneOfANewerMinorIsRead() throws Exception {
        storeRawManifest(store, 5, ForgedManifests.edited(manifest(5, List.of()),
                json -> json.replace("\"major\" : 2", "\"major\" : 4")));
        storeRawManifest(store, 6, ForgedManifests.edited(manifest(6, List.of()),
                json -> json.replace("\"minor\" : 0", "\"minor\" : 3, \"addedInMinor3\" : {\"x\" : [1]}")));

        assertThatThrownBy(() -> store.readManifest(5)).isInstanceOf(CheckpointCorruptException.class)
                .hasMessageContaining("Checkpoint 5").hasMessageContaining("Upgrade");
        assertThat(store.readManifest(6)).contains(manifest(6, List.of()));
    }

    @Test
    void everySingleBitFlipOfAPublishedManifestIsRefusedWhenReadBackThroughTheStore() throws Exception {
        var bytes = randomBytes(100, 11);
        var ref = store.writeFile("flip/0", stream(bytes));
        var manifest = manifest(12, List.of(ref));
        store.publishManifest(manifest);
        var stored = ManifestCodec.encode(manifest);
        assertThat(store.readManifest(12)).contains(manifest);

        for (int bit = 0; bit < stored.length * 8; bit++) {
            storeRawManifest(store, 12, ForgedManifests.withBitFlipped(stored, bit));
            int at = bit;
            assertThatThrownBy(() -> store.readManifest(12)).as("bit %d of %d", at, stored.length * 8)
                    .isInstanceOfSatisfying(CheckpointCorruptException.class,
                            e -> assertThat(e.checkpointId()).isEqualTo(12))
                    .hasMessageContaining("Checkpoint 12");
        }
        storeRawManifest(store, 12, stored);
        assertThat(store.readManifest(12)).contains(manifest);
    }

    @Test
    void aManifestLargerThanTheLimitIsRefusedAsCorruptWhileTheOthersStillRead() throws Exception {
        var good = manifest(1, List.of());
        store.publishManifest(good);
        var oversized = Arrays.copyOf(ManifestCodec.encode(manifest(2, List.of())), ManifestCodec.MAX_MANIFEST_BYTES + 1);
        storeRawManifest(store, 2, oversized);

        assertThatThrownBy(() -> store.readManifest(2)).isInstanceOfSatisfying(CheckpointCorruptException.class,
                e -> assertThat(e.checkpointId()).isEqualTo(2))
                .hasMessageContaining("Checkpoint 2").hasMessageContaining("more than the "
                        + ManifestCodec.MAX_MANIFEST_BYTES + " bytes").hasMessageContaining("older checkpoint");
        assertThat(store.readManifest(1)).contains(good);
    }

    // ---- helpers ------------------------------------------------------------------------------

    /** {@code manifest} as a store object that claimed {@code ownerEpoch} publishes it (OwnerFences). */
    protected static CheckpointManifest tagged(CheckpointManifest m, long ownerEpoch) {
        var sources = new java.util.HashMap<>(m.sources());
        sources.put(OwnerFences.SOURCE_NAME, OwnerFences.tag(ownerEpoch));
        return new CheckpointManifest(m.checkpointId(), m.epoch(), m.createdAt(), m.walPositions(), sources,
                m.operators(), m.files(), m.parentCheckpointId(), m.stateBytes(), m.writtenBytes(), m.watermark(),
                m.keyGroups());
    }

    protected static CheckpointManifest manifest(long id, List<StateFileRef> files) {
        long size = files.stream().mapToLong(StateFileRef::size).sum();
        var stateFiles = files.stream().map(StateFileRef::path).toList();
        return new CheckpointManifest(id, id + 100, Instant.parse("2025-02-01T00:00:00Z").plusMillis(id % 1000),
                List.of(id * 8), Map.of("src", new ConnectorCheckpoint(Map.of("p0", Long.toString(id)), Map.of())),
                Map.of("op", new OperatorCheckpoint(new byte[] {(byte) id}, stateFiles)), files,
                null, size, size, id);
    }

    protected static CheckpointManifest withEpoch(CheckpointManifest m, long epoch) {
        return new CheckpointManifest(m.checkpointId(), epoch, m.createdAt(), m.walPositions(), m.sources(),
                m.operators(), m.files(), m.parentCheckpointId(), m.stateBytes(), m.writtenBytes(), m.watermark(), m.keyGroups());
    }

    protected static InputStream stream(byte[] bytes) {
        return new ByteArrayInputStream(bytes);
    }

    protected static byte[] randomBytes(int length, long seed) {
        var bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    protected static String crc32c(byte[] bytes) {
        var crc = new CRC32C();
        crc.update(bytes);
        return String.format("%08x", crc.getValue());
    }

    protected static byte[] readAll(CheckpointStore s, String path) throws IOException {
        try (var in = s.openFile(path)) {
            return in.readAllBytes();
        }
    }

    /** A task per index, released together so that they really race. */
    protected interface Task {
        Void run(int index) throws Exception;
    }

    protected static void runConcurrently(int tasks, Task task) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(tasks);
        try {
            var start = new CountDownLatch(1);
            var futures = new ArrayList<Future<Void>>();
            for (int i = 0; i < tasks; i++) {
                int index = i;
                Callable<Void> call = () -> {
                    start.await();
                    return task.run(index);
                };
                futures.add(pool.submit(call));
            }
            start.countDown();
            for (var future : futures) {
                future.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}

package io.laminar.storage.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.io.FaultyFileIO;
import io.laminar.storage.io.FileIO;
import io.laminar.storage.store.CheckpointConflictException;
import io.laminar.storage.store.CheckpointCorruptException;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.store.FileSystemCheckpointStore;
import io.laminar.storage.store.ManifestCodec;
import io.laminar.storage.store.StateFileRef;
import io.laminar.storage.store.VerifyingInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The contract on a real file system with real fsync, plus what only a file system has. */
class FileSystemCheckpointStoreTest extends CheckpointStoreContract {

    private static final Predicate<Path> MANIFEST_TEMP_FILES = path -> path.getParent().endsWith("manifests")
            && path.getFileName().toString().endsWith(".tmp");
    private static final Predicate<Path> STATE_TEMP_FILES = path -> !path.getParent().endsWith("manifests")
            && path.getFileName().toString().endsWith(".tmp");

    @TempDir
    Path directory;

    @Override
    protected CheckpointStore createStore() throws IOException {
        return FileSystemCheckpointStore.open(root());
    }

    @Override
    protected CheckpointStore openAnotherStoreOver(CheckpointStore store) throws IOException {
        return FileSystemCheckpointStore.open(((FileSystemCheckpointStore) store).root());
    }

    @Override
    protected void storeRawManifest(CheckpointStore store, long checkpointId, byte[] bytes) throws IOException {
        Files.write(manifestFile(checkpointId), bytes);
    }

    private Path root() {
        return directory.resolve("store");
    }

    /**
     * The zombie race of S3 cannot happen here: an owner paused between its check and its publish
     * holds the owner lock, so a new owner's claim waits for the publish to land, and its fence
     * point includes that checkpoint (ordered before the claim); the next publish is refused.
     */
    @Test
    void aClaimWaitsForAnOwnerPausedBetweenItsCheckAndItsPublish() throws Exception {
        var zombie = (FileSystemCheckpointStore) store;
        zombie.claimOwnership();
        var file = zombie.writeFile("a", new java.io.ByteArrayInputStream(new byte[] {1, 2, 3}));
        var paused = new java.util.concurrent.CountDownLatch(1);
        var resume = new java.util.concurrent.CountDownLatch(1);
        zombie.pausePoints(at -> {
            if (at.equals("checked: publish checkpoint 5")) {
                paused.countDown();
                await(resume);
            }
        });
        var pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            var publish = pool.submit(() -> {
                zombie.publishManifest(tagged(manifest(5, List.of(file)), zombie.ownerEpoch()));
                return null;
            });
            assertThat(paused.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            var newOwner = anotherStore();
            var claim = pool.submit(newOwner::claimOwnership);
            Thread.sleep(300);
            assertThat(claim).isNotDone(); // held off by the owner lock
            resume.countDown();
            publish.get(30, java.util.concurrent.TimeUnit.SECONDS);
            long epoch = claim.get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(newOwner.ownerFences()).containsEntry(epoch, 5L);
            assertThat(OwnerFences.of(newOwner).voidReason(zombie.readManifest(5).orElseThrow())).isEmpty();
            assertThatThrownBy(() -> zombie.publishManifest(manifest(6, List.of(file))))
                    .isInstanceOf(io.laminar.storage.FencedException.class);
        } finally {
            resume.countDown();
            pool.shutdownNow();
        }
    }

    private static void await(java.util.concurrent.CountDownLatch latch) {
        try {
            latch.await(60, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private Path manifestFile(long checkpointId) {
        return root().resolve("manifests").resolve(String.format("checkpoint-%020d.json", checkpointId));
    }

    private FileSystemCheckpointStore open(FileIO io) throws IOException {
        return (FileSystemCheckpointStore) track(FileSystemCheckpointStore.open(root(), io));
    }

    private List<Path> temporaryFiles() throws IOException {
        try (Stream<Path> files = Files.walk(root())) {
            return files.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
        }
    }

    @Test
    void filesLiveUnderStateAndManifestsUnderTheirIdInTwentyDigits() throws Exception {
        var ref = store.writeFile("join/5-0.sst", stream(new byte[] {1, 2}));
        store.publishManifest(manifest(5, List.of(ref)));

        assertThat(root().resolve("state/join/5-0.sst")).hasBinaryContent(new byte[] {1, 2});
        assertThat(manifestFile(5)).exists();
        assertThat(ManifestCodec.decode(Files.readAllBytes(manifestFile(5)), "test")).isEqualTo(manifest(5, List.of(ref)));
        assertThat(temporaryFiles()).isEmpty();
    }

    @Test
    void everyWrittenByteIsForcedToDiskBeforeItsFileIsClosed() throws Exception {
        var io = FaultyFileIO.overSystem();
        var s = open(io);

        var ref = s.writeFile("a/b/c", stream(randomBytes(200_000, 9)));
        s.publishManifest(manifest(1, List.of(ref)));

        assertThat(io.forces().calls()).isGreaterThanOrEqualTo(2);
        assertThat(io.closedWithUnsyncedWrites()).isEmpty();
        assertThat(io.openFiles()).isEmpty();
    }

    @Test
    void whatACrashLeftBehindIsNeitherListedNorReadAndIsDeletedOnOpen() throws Exception {
        var kept = store.writeFile("op/kept", stream(new byte[] {1}));
        store.publishManifest(manifest(1, List.of(kept)));
        // A crash after the temporary file was written, before (or after) it got its final name.
        var unpublished = root().resolve("manifests/.checkpoint-00000000000000000002.json.1234.tmp");
        Files.write(unpublished, ManifestCodec.encode(manifest(2, List.of())));
        var alreadyLinked = root().resolve("manifests/.checkpoint-00000000000000000001.json.5678.tmp");
        Files.copy(manifestFile(1), alreadyLinked);
        var halfWritten = root().resolve("state/op/.half.abcd.tmp");
        Files.write(halfWritten, new byte[] {1, 2, 3});

        assertThat(store.listCheckpoints()).containsExactly(1L);
        assertThat(store.readManifest(2)).isEmpty();
        assertThat(store.listFiles()).containsExactly("op/kept");

        var reopened = anotherStore();
        assertThat(temporaryFiles()).isEmpty();
        assertThat(reopened.listCheckpoints()).containsExactly(1L);
        assertThat(reopened.readManifest(1)).contains(manifest(1, List.of(kept)));
        assertThat(reopened.listFiles()).containsExactly("op/kept");
    }

    @Test
    void aPathSegmentStartingWithADotIsReservedForTemporaryFiles() {
        assertThatThrownBy(() -> store.writeFile("op/.x.tmp", stream(new byte[] {1})))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reserves");
    }

    @Test
    void aFailedManifestFsyncLeavesNoManifestAndTheIdCanBePublishedLater() throws Exception {
        var io = FaultyFileIO.overSystem();
        var s = open(io);
        var ref = s.writeFile("f", stream(new byte[] {1}));
        io.forces().on(MANIFEST_TEMP_FILES).failNow();

        assertThatThrownBy(() -> s.publishManifest(manifest(3, List.of(ref))))
                .isInstanceOf(IOException.class).isNotInstanceOf(CheckpointConflictException.class)
                .hasMessageContaining("checkpoint 3").hasMessageContaining("checkpoint-00000000000000000003.json");

        assertThat(s.listCheckpoints()).isEmpty();
        assertThat(s.readManifest(3)).isEmpty();
        assertThat(temporaryFiles()).isEmpty();

        io.forces().stopFailing();
        s.publishManifest(manifest(3, List.of(ref)));
        assertThat(anotherStore().readManifest(3)).contains(manifest(3, List.of(ref)));
    }

    @Test
    void aFailedFileFsyncLeavesNoFileAndThePathCanBeWrittenLater() throws Exception {
        var io = FaultyFileIO.overSystem();
        var s = open(io);
        io.forces().on(STATE_TEMP_FILES).failNow();

        assertThatThrownBy(() -> s.writeFile("op/f", stream(new byte[] {1, 2, 3})))
                .isInstanceOf(IOException.class).hasMessageContaining("op/f");

        assertThat(s.fileSize("op/f")).isEmpty();
        assertThat(s.listFiles()).isEmpty();
        assertThat(temporaryFiles()).isEmpty();

        io.forces().stopFailing();
        assertThat(s.writeFile("op/f", stream(new byte[] {4}))).isEqualTo(new StateFileRef("op/f", 1, crc32c(new byte[] {4})));
    }

    @Test
    void aFullDiskIsReportedWithTheFileAndWhatToDo() throws Exception {
        var io = FaultyFileIO.overSystem();
        var s = open(io);
        io.writes().withMessage("No space left on device").failNow();

        assertThatThrownBy(() -> s.writeFile("op/big", stream(randomBytes(10_000, 1))))
                .isInstanceOf(IOException.class).hasMessageContaining("op/big")
                .hasMessageContaining("No space left on device").hasMessageContaining("free space");
        assertThat(temporaryFiles()).isEmpty();
    }

    @Test
    void aCorruptNewestManifestIsReportedByItsFileWhileOlderOnesStillRead() throws Exception {
        store.publishManifest(manifest(1, List.of()));
        store.publishManifest(manifest(2, List.of()));
        store.publishManifest(manifest(3, List.of()));
        var newest = manifestFile(3);
        var bytes = Files.readAllBytes(newest);
        bytes[bytes.length / 2] ^= 0x5b; // one flipped byte in the middle of the document
        Files.write(newest, bytes);

        assertThat(store.listCheckpoints()).containsExactly(1L, 2L, 3L);
        assertThatThrownBy(() -> store.readManifest(3)).isInstanceOfSatisfying(CheckpointCorruptException.class,
                e -> {
                    assertThat(e.checkpointId()).isEqualTo(3);
                    assertThat(e).hasMessageContaining(newest.toString());
                });
        assertThat(store.readManifest(2)).contains(manifest(2, List.of()));
        assertThat(store.readManifest(1)).contains(manifest(1, List.of()));
    }

    @Test
    void aFlippedByteInAStateFileOnDiskIsCaughtByTheVerifyingReader() throws Exception {
        var bytes = randomBytes(10_000, 13);
        var ref = store.writeFile("op/s", stream(bytes));
        bytes[5_000] ^= 0x01;
        Files.write(root().resolve("state/op/s"), bytes);

        try (var in = VerifyingInputStream.open(store, ref, 4)) {
            assertThatThrownBy(in::readAllBytes).isInstanceOf(CheckpointCorruptException.class)
                    .hasMessageContaining("CRC32C").hasMessageContaining("op/s");
        }
    }

    @Test
    void theNewestCheckpointIsWhatExistsNotWhatAPointerSays() throws Exception {
        // No "latest" pointer: listing is the truth, even for changes made behind this store's back.
        store.publishManifest(manifest(1, List.of()));
        store.publishManifest(manifest(2, List.of()));
        Files.delete(manifestFile(2));
        Files.writeString(root().resolve("manifests/latest"), "2");
        Files.writeString(root().resolve("manifests/checkpoint-7.json"), "not a manifest name this store writes");
        Files.writeString(root().resolve("manifests/checkpoint-99999999999999999999.json"), "beyond a long");

        assertThat(store.listCheckpoints()).containsExactly(1L);

        anotherStore().publishManifest(manifest(5, List.of()));
        assertThat(store.listCheckpoints()).containsExactly(1L, 5L);
    }

    @Test
    void aFileInTheWayOfTheRootIsNamedWithWhatToDo() throws Exception {
        var blocked = directory.resolve("blocked");
        Files.writeString(blocked, "x");

        assertThatThrownBy(() -> FileSystemCheckpointStore.open(blocked)).isInstanceOf(IOException.class)
                .hasMessageContaining(blocked.toString()).hasMessageContaining("in the way");
    }

    @Test
    void aFileInTheWayOfAStateDirectoryIsNamed() throws Exception {
        store.writeFile("a", stream(new byte[] {1}));

        assertThatThrownBy(() -> store.writeFile("a/b", stream(new byte[] {2})))
                .isInstanceOf(FileAlreadyExistsException.class).hasMessageContaining("in the way");
        assertThat(store.listFiles()).containsExactly("a");
    }

    @Test
    void aStoreIsCreatedWithMissingParentDirectories() throws Exception {
        var deep = directory.resolve("x/y/z");
        try (var s = FileSystemCheckpointStore.open(deep)) {
            s.writeFile("f", stream("v".getBytes(StandardCharsets.UTF_8)));
            assertThat(deep.resolve("state/f")).hasContent("v");
            assertThat(deep.resolve("manifests")).isDirectory();
        }
    }
}

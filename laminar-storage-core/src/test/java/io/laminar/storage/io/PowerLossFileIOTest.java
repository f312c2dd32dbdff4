package io.laminar.storage.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PowerLossFileIOTest {

    @TempDir
    Path tmp;

    private static final Set<StandardOpenOption> CREATE = EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.READ);

    private static byte[] filled(int length, int value) {
        var bytes = new byte[length];
        Arrays.fill(bytes, (byte) value);
        return bytes;
    }

    private static void write(FileChannel channel, byte[] bytes, long position) throws Exception {
        var buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
            position += channel.write(buffer, position);
        }
    }

    private static PowerLossFileIO.CrashImage cut(PowerLossFileIO io, PowerCut.Data data, PowerCut.Dir dir, long seed) {
        return DiskModel.replay(io.trace(), io.position()).crash(new PowerCut(data, dir, seed));
    }

    /** A file with 4 KiB of durable ones, its name durable. */
    private PowerLossFileIO durableFile(String name) throws Exception {
        var io = new PowerLossFileIO(tmp);
        try (var channel = io.open(tmp.resolve(name), CREATE)) {
            write(channel, filled(4096, 1), 0);
            channel.force(false);
        }
        io.syncDirectory(tmp);
        return io;
    }

    @Test
    void unsyncedDataIsLostOrKeptWholeAndForceMakesItDurable() throws Exception {
        var io = durableFile("f");
        try (var channel = io.open(tmp.resolve("f"), EnumSet.of(StandardOpenOption.WRITE))) {
            write(channel, filled(1000, 2), 100);
            write(channel, filled(100, 3), 4096); // grows the file
            assertThat(cut(io, PowerCut.Data.LOST, PowerCut.Dir.KEPT, 1).file("f")).isEqualTo(filled(4096, 1));
            var kept = cut(io, PowerCut.Data.KEPT, PowerCut.Dir.KEPT, 1).file("f");
            assertThat(kept).isEqualTo(Files.readAllBytes(tmp.resolve("f")));
            assertThat(kept).hasSize(4196);
            channel.force(false);
        }
        for (long seed = 0; seed < 50; seed++) {
            assertThat(io.crash(seed).file("f")).as("seed %d", seed).isEqualTo(Files.readAllBytes(tmp.resolve("f")));
        }
    }

    @Test
    void grownZerosKeepsTheNewSizeButNotTheData() throws Exception {
        var io = durableFile("f");
        try (var channel = io.open(tmp.resolve("f"), EnumSet.of(StandardOpenOption.WRITE))) {
            write(channel, filled(10, 7), 0);
            write(channel, filled(5000, 2), 4096);
        }
        var image = cut(io, PowerCut.Data.GROWN_ZEROS, PowerCut.Dir.KEPT, 3).file("f");
        var expected = new byte[9096];
        System.arraycopy(filled(4096, 1), 0, expected, 0, 4096);
        assertThat(image).isEqualTo(expected);
    }

    @Test
    void tornWritesPersistSectorsOutOfOrderAndOlderVersionsButNothingElse() throws Exception {
        var io = durableFile("f");
        try (var channel = io.open(tmp.resolve("f"), EnumSet.of(StandardOpenOption.WRITE))) {
            write(channel, filled(4096, 2), 0); // version 2 of every sector
            write(channel, filled(4096, 3), 0); // version 3
            write(channel, filled(2048, 4), 4096); // grows by four sectors
        }
        var patterns = new HashSet<String>();
        boolean outOfOrder = false;
        boolean grownWithZeros = false;
        boolean olderVersion = false;
        for (long seed = 0; seed < 300; seed++) {
            var image = cut(io, PowerCut.Data.TORN_SECTORS, PowerCut.Dir.KEPT, seed).file("f");
            assertThat(image.length).as("a size the file had").isIn(4096, 6144);
            var pattern = new StringBuilder();
            for (int sector = 0; sector < image.length / 512; sector++) {
                byte first = image[sector * 512];
                for (int i = 1; i < 512; i++) {
                    assertThat(image[sector * 512 + i]).as("seed %d: sector %d is atomic", seed, sector).isEqualTo(first);
                }
                if (sector < 8) {
                    assertThat(first).as("a version of sector %d", sector).isIn((byte) 1, (byte) 2, (byte) 3);
                    olderVersion |= first == 2;
                } else {
                    assertThat(first).as("written or zero").isIn((byte) 0, (byte) 4);
                    grownWithZeros |= first == 0;
                }
                pattern.append(first);
            }
            outOfOrder |= pattern.toString().matches("1+[23]+1+.*") || pattern.toString().matches(".*0+4+");
            patterns.add(pattern.toString());
        }
        assertThat(patterns).as("different crashes").hasSizeGreaterThan(50);
        assertThat(outOfOrder).as("a later sector persisted, an earlier one not").isTrue();
        assertThat(olderVersion).as("an intermediate version persisted").isTrue();
        assertThat(grownWithZeros).as("the file grew but a sector of it is zeros").isTrue();
    }

    @Test
    void tornPagesAreWholePages() throws Exception {
        var io = durableFile("f");
        try (var channel = io.open(tmp.resolve("f"), EnumSet.of(StandardOpenOption.WRITE))) {
            write(channel, filled(4096 * 3, 5), 0);
        }
        var patterns = new HashSet<String>();
        for (long seed = 0; seed < 100; seed++) {
            var image = cut(io, PowerCut.Data.TORN_PAGES, PowerCut.Dir.KEPT, seed).file("f");
            var pattern = new StringBuilder();
            for (int page = 0; page < image.length / 4096; page++) {
                var bytes = Arrays.copyOfRange(image, page * 4096, page * 4096 + 4096);
                assertThat(bytes).isIn(filled(4096, 5), filled(4096, page == 0 ? 1 : 0));
                pattern.append(bytes[0]);
            }
            patterns.add(pattern.toString());
        }
        assertThat(patterns).contains("5", "1", "500", "105", "155", "555", "100");
    }

    @Test
    void aRenameWithoutDirectorySyncMayComeBackUnderTheOldName() throws Exception {
        var io = durableFile("a.tmp");
        io.atomicMove(tmp.resolve("a.tmp"), tmp.resolve("a"));
        assertThat(cut(io, PowerCut.Data.KEPT, PowerCut.Dir.UNDONE, 1).files()).containsOnlyKeys("a.tmp");
        assertThat(cut(io, PowerCut.Data.KEPT, PowerCut.Dir.KEPT, 1).files()).containsOnlyKeys("a");
        io.syncDirectory(tmp);
        assertThat(cut(io, PowerCut.Data.KEPT, PowerCut.Dir.UNDONE, 1).files()).containsOnlyKeys("a");
    }

    @Test
    void aCreatedFileIsMissingAndADeletedOneBackWithoutDirectorySync() throws Exception {
        var io = durableFile("old");
        try (var channel = io.open(tmp.resolve("new"), CREATE)) {
            write(channel, filled(10, 9), 0);
            channel.force(true); // data durable, name not
        }
        io.deleteIfExists(tmp.resolve("old"));
        assertThat(cut(io, PowerCut.Data.KEPT, PowerCut.Dir.UNDONE, 1).files()).containsOnlyKeys("old");
        assertThat(cut(io, PowerCut.Data.LOST, PowerCut.Dir.KEPT, 1).files()).containsOnlyKeys("new");
        var seen = new HashSet<Set<String>>();
        for (long seed = 0; seed < 40; seed++) {
            seen.add(cut(io, PowerCut.Data.KEPT, PowerCut.Dir.EACH, seed).files().keySet());
        }
        assertThat(seen).containsExactlyInAnyOrder(Set.of("old"), Set.of("new"), Set.of("old", "new"), Set.of());
        seen.clear();
        for (long seed = 0; seed < 40; seed++) {
            seen.add(cut(io, PowerCut.Data.KEPT, PowerCut.Dir.PREFIX, seed).files().keySet());
        }
        assertThat(seen).as("in order: never the deletion without the creation")
                .containsExactlyInAnyOrder(Set.of("old"), Set.of("old", "new"), Set.of("new"));
    }

    @Test
    void aPublishByHardLinkMayLeaveTheTempNameTheTargetOrBoth() throws Exception {
        var io = durableFile(".m.tmp");
        io.createLink(tmp.resolve("m"), tmp.resolve(".m.tmp"));
        io.deleteIfExists(tmp.resolve(".m.tmp"));
        var seen = new HashSet<Set<String>>();
        for (long seed = 0; seed < 40; seed++) {
            var image = cut(io, PowerCut.Data.KEPT, PowerCut.Dir.EACH, seed);
            seen.add(image.files().keySet());
            image.files().values().forEach(bytes -> assertThat(bytes).isEqualTo(filled(4096, 1)));
        }
        assertThat(seen).containsExactlyInAnyOrder(Set.of(".m.tmp"), Set.of("m"), Set.of(".m.tmp", "m"), Set.of());
        io.syncDirectory(tmp);
        assertThat(io.crash(5).files()).containsOnlyKeys("m");
    }

    @Test
    void everyKindOfWriteAndSizeChangeIsRecorded() throws Exception {
        var io = new PowerLossFileIO(tmp);
        var path = tmp.resolve("f");
        try (var channel = io.open(path, CREATE)) {
            channel.write(ByteBuffer.wrap(filled(10, 1)));
            channel.write(new ByteBuffer[] {ByteBuffer.wrap(filled(5, 2)), ByteBuffer.wrap(filled(5, 3))});
            channel.transferFrom(Channels.newChannel(new ByteArrayInputStream(filled(7, 4))), 30, 7);
            channel.write(ByteBuffer.wrap(filled(3, 5)), 1);
            channel.truncate(35);
        }
        try (var channel = io.open(path, EnumSet.of(StandardOpenOption.WRITE, StandardOpenOption.APPEND))) {
            channel.write(ByteBuffer.wrap(filled(2, 6)));
        }
        var real = Files.readAllBytes(path);
        assertThat(cut(io, PowerCut.Data.KEPT, PowerCut.Dir.KEPT, 1).file("f")).isEqualTo(real).hasSize(37);
        try (var channel = io.open(path, EnumSet.of(StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING))) {
            assertThat(channel.size()).isZero();
        }
        assertThat(cut(io, PowerCut.Data.KEPT, PowerCut.Dir.KEPT, 1).file("f")).isEmpty();
        assertThat(cut(io, PowerCut.Data.LOST, PowerCut.Dir.KEPT, 1).file("f")).isEmpty(); // never synced
    }

    @Test
    void filesThatWereThereAreDurableAndWritableMapsAreRefused() throws Exception {
        Files.createDirectories(tmp.resolve("d"));
        Files.write(tmp.resolve("d/x"), filled(3, 8));
        var io = new PowerLossFileIO(tmp);
        io.deleteIfExists(tmp.resolve("d/x"));
        assertThat(cut(io, PowerCut.Data.LOST, PowerCut.Dir.UNDONE, 1).file("d/x")).isEqualTo(filled(3, 8));
        assertThat(cut(io, PowerCut.Data.LOST, PowerCut.Dir.KEPT, 1).files()).isEmpty();
        assertThat(cut(io, PowerCut.Data.LOST, PowerCut.Dir.KEPT, 1).directories()).contains("d");
        try (var channel = io.open(tmp.resolve("y"), CREATE)) {
            write(channel, filled(8, 1), 0);
            assertThatThrownBy(() -> channel.map(FileChannel.MapMode.READ_WRITE, 0, 8))
                    .isInstanceOf(UnsupportedOperationException.class);
            assertThat(channel.map(FileChannel.MapMode.READ_ONLY, 0, 8).get(0)).isEqualTo((byte) 1);
        }
    }

    @Test
    void theSameSeedGivesTheSameImageAndAnImageCanBeWrittenOut() throws Exception {
        var io = durableFile("f");
        try (var channel = io.open(tmp.resolve("g"), CREATE)) {
            write(channel, filled(9000, 3), 0);
        }
        var model = DiskModel.replay(io.trace(), io.position());
        for (long seed = 0; seed < 20; seed++) {
            var a = model.crash(seed);
            var b = model.crash(seed);
            assertThat(a.cut()).isEqualTo(b.cut());
            assertThat(a.files().keySet()).isEqualTo(b.files().keySet());
            a.files().forEach((name, bytes) -> assertThat(b.file(name)).isEqualTo(bytes));
        }
        var image = model.crash(new PowerCut(PowerCut.Data.KEPT, PowerCut.Dir.KEPT, 0));
        var target = tmp.resolve("out");
        image.writeTo(target);
        assertThat(Files.readAllBytes(target.resolve("g"))).isEqualTo(filled(9000, 3));
        assertThat(model.hasPendingChanges()).isTrue();
    }

    @Test
    void composesWithFaultyFileIO() throws Exception {
        var power = new PowerLossFileIO(tmp);
        var io = new FaultyFileIO(power);
        try (var channel = io.open(tmp.resolve("f"), CREATE)) {
            write(channel, filled(100, 1), 0);
            io.forces().failNow();
            assertThatThrownBy(() -> channel.force(false)).isInstanceOf(FaultyFileIO.InjectedIOException.class);
        }
        io.syncDirectory(tmp);
        assertThat(power.crash(0).files()).containsKey("f");
        assertThat(cut(power, PowerCut.Data.LOST, PowerCut.Dir.KEPT, 0).file("f")).as("the failed fsync synced nothing")
                .isEmpty();
    }
}

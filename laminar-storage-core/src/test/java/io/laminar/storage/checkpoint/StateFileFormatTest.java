package io.laminar.storage.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.laminar.storage.state.ChangelogAwareStateStore;
import io.laminar.storage.state.ChangelogSink;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class StateFileFormatTest {

    private static final String NAME = "state/core-0000/00000000000000000007-full.lsf";

    /** A FULL file of core 0: put "a" = "1", delete "b", put "cc" = "333". Entries start at byte 32. */
    private static byte[] valid() throws IOException {
        var out = new ByteArrayOutputStream();
        var writer = new StateFileFormat.Writer(out, new StateFileFormat.Header(StateFileFormat.FULL, 0, 3, 7));
        writer.onPut(bytes("a"), bytes("1"));
        writer.onDelete(bytes("b"));
        writer.onPut(bytes("cc"), bytes("333"));
        assertThat(writer.finish()).isEqualTo(3);
        return out.toByteArray();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Records what a read applies. */
    private static final class Recorder implements ChangelogSink {
        final List<String> applied = new ArrayList<>();

        @Override
        public void onPut(byte[] key, byte[] value) {
            applied.add("put " + new String(key, StandardCharsets.UTF_8) + "=" + new String(value, StandardCharsets.UTF_8));
        }

        @Override
        public void onDelete(byte[] key) {
            applied.add("delete " + new String(key, StandardCharsets.UTF_8));
        }

        @Override
        public void onClear() {
            applied.add("clear");
        }
    }

    private static StateFileFormat.Header read(byte[] file, long size, Recorder into) throws IOException {
        return StateFileFormat.read(new ByteArrayInputStream(file), NAME, size, 0, into);
    }

    private static org.assertj.core.api.AbstractThrowableAssert<?, ? extends Throwable> assertRefused(byte[] file,
            long size) {
        return assertThatThrownBy(() -> read(file, size, new Recorder())).isInstanceOf(IOException.class)
                .hasMessageStartingWith("state file " + NAME + " is damaged: ");
    }

    private static void putIntAt(byte[] file, int offset, int value) {
        ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).putInt(offset, value);
    }

    @Test
    void aWellFormedFileReadsBackItsHeaderAndEveryEntryInOrder() throws IOException {
        var file = valid();
        var into = new Recorder();
        var header = read(file, file.length, into);
        assertThat(header).isEqualTo(new StateFileFormat.Header(StateFileFormat.FULL, 0, 3, 7));
        assertThat(into.applied).containsExactly("put a=1", "delete b", "put cc=333");
    }

    @Test
    void aBadMagicIsRefusedAsNotAStateFile() throws IOException {
        var file = valid();
        file[0] = 'X';
        assertRefused(file, file.length).hasMessageContaining("bad magic").hasMessageContaining("not a state file");
    }

    @Test
    void anUnknownVersionOrKindIsRefused() throws IOException {
        var version = valid();
        version[4] = 2;
        assertRefused(version, version.length).hasMessageContaining("unknown format version 2");
        var kind = valid();
        kind[5] = 3;
        assertRefused(kind, kind.length).hasMessageContaining("unknown kind 3");
    }

    @Test
    void aFileOfAnotherCoreIsRefused() throws IOException {
        var file = valid();
        putIntAt(file, 8, 5);
        assertRefused(file, file.length).hasMessageContaining("of core 5, expected core 0");
    }

    @Test
    void aFileCutShortAnywhereIsRefused() throws IOException {
        var file = valid();
        for (int length = 0; length < file.length; length++) {
            var cut = Arrays.copyOf(file, length);
            // Of unknown size: found cut short when the bytes run out.
            assertRefused(cut, -1).as("cut to %d bytes", length).hasMessageContaining("cut short");
            // Of known size: a length running past the end may be caught even before.
            assertRefused(cut, length).as("cut to %d bytes, size known", length)
                    .hasMessageMatching(".*(cut short|runs past the end).*");
        }
    }

    @Test
    void aWrongEntryCountInTheTrailerIsRefused() throws IOException {
        var file = valid();
        ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).putLong(file.length - 8, 2);
        assertRefused(file, file.length).hasMessageContaining("the trailer counts 2 entries, but the file holds 3");
    }

    @Test
    void aNegativeLengthIsRefused() throws IOException {
        var file = valid();
        putIntAt(file, 33, -1); // the key length of the first entry
        assertRefused(file, file.length).hasMessageContaining("negative length -1 of the key of entry 0");
    }

    @Test
    void anOversizedLengthIsRefusedWithoutAllocatingIt() throws IOException {
        var file = valid();
        putIntAt(file, 38, Integer.MAX_VALUE); // the value length of the first entry
        assertRefused(file, file.length).hasMessageContaining("the length 2147483647 of the value of entry 0 runs "
                + "past the end of the " + file.length + "-byte file");
        // Of unknown size, it reads what there is, in chunks, and finds the file cut short.
        assertRefused(file, -1).hasMessageContaining("cut short: the value of entry 0 has");
    }

    @Test
    void anUnknownOpIsRefused() throws IOException {
        var file = valid();
        file[32] = 9;
        assertRefused(file, file.length).hasMessageContaining("unknown entry op 9 at entry 0");
    }

    @Test
    void bytesAfterTheTrailerAreRefused() throws IOException {
        var file = Arrays.copyOf(valid(), valid().length + 1);
        assertRefused(file, -1).hasMessageContaining("bytes after the trailer");
    }

    /**
     * A bulk load (a restore's full file) reads the values into large shared arrays, each value a
     * range of its own: values from 0 bytes to larger than any shared array takes, over more than
     * one array, read back exactly; a write in place stays in its range; and the same damage is
     * refused as on the path that gives each value an array of its own.
     */
    @Test
    void aBulkLoadReadsValuesIntoRangesOfSharedArraysExactlyAndRefusesTheSameDamage() throws IOException {
        var random = new SplittableRandom(7);
        int entries = 12_000;
        var keys = new byte[entries][];
        var values = new byte[entries][];
        var out = new ByteArrayOutputStream();
        var writer = new StateFileFormat.Writer(out, new StateFileFormat.Header(StateFileFormat.FULL, 0, 3, 7));
        for (int i = 0; i < entries; i++) {
            keys[i] = ByteBuffer.allocate(4).putInt(i).array();
            int length = i == 5 ? 0 : i % 1000 == 1 ? 70_000 : random.nextInt(1, 1500);
            values[i] = new byte[length];
            random.nextBytes(values[i]);
            writer.onPut(keys[i], values[i]);
        }
        writer.finish();
        var file = out.toByteArray();
        assertThat(file.length).as("more than one shared array's worth").isGreaterThan(9 << 20);

        var loader = ChangelogAwareStateStore.bulkLoader();
        StateFileFormat.read(new ByteArrayInputStream(file), NAME, file.length, 0, loader);
        var store = loader.build(ChangelogSink.NONE);
        assertThat(store.size()).isEqualTo(entries);
        for (int i = 0; i < entries; i++) {
            if (i % 2 == 0) {
                var rewritten = values[i].clone();
                Arrays.fill(rewritten, (byte) i);
                store.put(keys[i], rewritten); // the same length: in place
                values[i] = rewritten;
            }
        }
        for (int i = 0; i < entries; i++) {
            assertThat(store.get(keys[i])).as("value of entry %d", i).isEqualTo(values[i]);
        }

        for (int length = 0; length < file.length; length += 1 + file.length / 97) {
            int cut = length;
            assertThatThrownBy(() -> StateFileFormat.read(new ByteArrayInputStream(Arrays.copyOf(file, cut)), NAME, cut,
                    0, ChangelogAwareStateStore.bulkLoader()))
                    .as("cut to %d bytes", cut).isInstanceOf(IOException.class)
                    .hasMessageMatching("state file " + NAME + " is damaged: .*(cut short|runs past the end).*");
        }
        var oversized = file.clone();
        putIntAt(oversized, 41, Integer.MAX_VALUE); // the value length of the first entry
        assertThatThrownBy(() -> StateFileFormat.read(new ByteArrayInputStream(oversized), NAME, oversized.length, 0,
                ChangelogAwareStateStore.bulkLoader())).isInstanceOf(IOException.class)
                .hasMessageContaining("the length 2147483647 of the value of entry 0 runs past the end of the "
                        + oversized.length + "-byte file");
    }
}

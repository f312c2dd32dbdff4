package io.laminar.storage.io;

import java.util.Random;

/**
 * How a simulated power cut treats what was not durable, chosen by a seed: one {@link Data} mode for
 * file contents and one {@link Dir} mode for directory entries. The same seed on the same trace point
 * gives the same crash image, byte for byte. See {@link PowerLossFileIO} for the model.
 *
 * @param data what happens to each file's writes and size changes since its last {@code force}
 * @param dir  what happens to each directory's entry changes since its last sync
 * @param seed the seed that chose the modes and drives every further random choice of the cut
 */
public record PowerCut(Data data, Dir dir, long seed) {

    /** What happens to the pending (unsynced) data of a file. */
    public enum Data {
        /** Every pending write and size change is lost: the file is as of its last force. */
        LOST,
        /** Every pending write and size change persisted (what a SIGKILL leaves). */
        KEPT,
        /**
         * Each 512-byte sector a pending write touched holds, independently, its durable content or
         * its content after any one of the pending writes that touched it; the size is any size the
         * file had since its last force; sectors no persisted version reached are zeros.
         */
        TORN_SECTORS,
        /** {@link #TORN_SECTORS} with 4 KiB pages. */
        TORN_PAGES,
        /** The size change persisted, the data did not: the file grew by zeros, and overwrites are lost. */
        GROWN_ZEROS,
        /** Each file picks one of the modes above on its own. */
        MIXED
    }

    /** What happens to the pending (unsynced) entry changes of the directories. */
    public enum Dir {
        /** Every creation, rename, link and deletion since the last directory sync is undone. */
        UNDONE,
        /** Every one persisted. */
        KEPT,
        /** Each one, independently, kept or undone (applied in order; one whose source is gone is skipped). */
        EACH,
        /** A prefix of them, in their global order across directories: an in-order metadata journal. */
        PREFIX
    }

    /** The modes {@code seed} chooses. */
    public static PowerCut of(long seed) {
        var random = new Random(seed);
        var data = Data.values()[random.nextInt(Data.values().length)];
        var dir = Dir.values()[random.nextInt(Dir.values().length)];
        return new PowerCut(data, dir, seed);
    }

    /** The random source of the cut's further choices, the same for the same seed. */
    Random random() {
        var random = new Random(seed);
        random.nextInt();
        random.nextInt();
        return random;
    }

    @Override
    public String toString() {
        return "power cut (seed " + seed + ": data " + data + ", directories " + dir + ")";
    }
}

package io.laminar.storage.wal;

/**
 * What {@link WriteAheadLog#open} does when it finds corruption: damage that is not a torn tail
 * (see {@link WriteAheadLog} for how the two are told apart). A torn tail is always repaired.
 */
public enum CorruptionPolicy {

    /**
     * Refuse to open: throw {@link WalCorruptionException} naming the file, the offset and the
     * checksums. Nothing is changed on disk. The default.
     */
    FAIL,

    /**
     * Cut the log at the first bad record and open it. Nothing is deleted: the dropped bytes of the
     * damaged segment are copied to {@code <segment>.dropped-<offset>} and later segments are renamed
     * to {@code <segment>.dropped}, and {@link WalRecoveryReport#dropped()} lists exactly what was cut.
     */
    TRUNCATE
}

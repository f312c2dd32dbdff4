package io.laminar.storage.percore;

/** What a per-core log record is; stored as one byte (see {@code CoreRecordFormat}). */
public enum RecordKind {

    /** An entry appended by the core's owner. */
    DATA(1),

    /**
     * An epoch barrier: the first record of its epoch on its core. Every record after it (until the
     * next barrier) belongs to that epoch; every record before it to an earlier one.
     */
    BARRIER(2);

    final byte code;

    RecordKind(int code) {
        this.code = (byte) code;
    }

    /** The kind stored as {@code code}, or null if the code is unknown. */
    static RecordKind of(byte code) {
        return switch (code) {
            case 1 -> DATA;
            case 2 -> BARRIER;
            default -> null;
        };
    }
}

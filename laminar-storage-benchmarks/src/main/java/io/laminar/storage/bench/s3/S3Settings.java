package io.laminar.storage.bench.s3;

/**
 * Sizes of the {@code s3} suite: the quick smoke run or the default run.
 *
 * @param stateBytes logical state (key + value bytes) across the cores: what the checkpoint holds
 * @param rounds     how often each system runs, alternating; the median run is reported
 */
record S3Settings(long stateBytes, int rounds) {

    static final long MIB = 1 << 20;
    /** The size the targets are stated for. */
    static final long TARGET_STATE_BYTES = 1024 * MIB;

    static S3Settings forRun(boolean quick) {
        return quick ? new S3Settings(64 * MIB, 1) : new S3Settings(TARGET_STATE_BYTES, 3);
    }
}

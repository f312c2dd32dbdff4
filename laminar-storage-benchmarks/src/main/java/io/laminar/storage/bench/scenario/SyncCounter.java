package io.laminar.storage.bench.scenario;

import io.laminar.storage.bench.ClosedLoop;
import io.laminar.storage.bench.Result;
import io.laminar.storage.wal.WalStatistics;

/** Snapshots a log's fdatasync counters over the measured phase: how many records each sync covered. */
final class SyncCounter implements ClosedLoop.PhaseListener {

    private final WalStatistics statistics;
    private long syncsAtStart;
    private long recordsAtStart;
    private long syncNanosAtStart;
    private long syncs;
    private long records;
    private long syncNanos;

    SyncCounter(WalStatistics statistics) {
        this.statistics = statistics;
    }

    @Override
    public void measureStarted() {
        syncsAtStart = statistics.syncs();
        recordsAtStart = statistics.syncedRecords();
        syncNanosAtStart = statistics.syncNanosTotal();
    }

    @Override
    public void measureEnded() {
        syncs = statistics.syncs() - syncsAtStart;
        records = statistics.syncedRecords() - recordsAtStart;
        syncNanos = statistics.syncNanosTotal() - syncNanosAtStart;
    }

    /**
     * Adds {@code recordsPerSync}, {@code syncsPerSec} and {@code syncMicros} (the mean time inside
     * fdatasync: the rest of each commit cycle is the log's and the threads' overhead) to a row.
     */
    Result addTo(Result result, double seconds) {
        return result.extra("recordsPerSync", syncs == 0 ? null : Result.round((double) records / syncs, 2))
                .extra("syncsPerSec", Result.round(syncs / seconds, 1))
                .extra("syncMicros", syncs == 0 ? null : Result.round(syncNanos / 1e3 / syncs, 1));
    }
}

package io.laminar.storage.checkpoint;

import java.time.Duration;

/**
 * How far a running recovery is, as {@link RecoveryListener#progress} reports it every few seconds
 * and at the end of each phase. Immutable.
 *
 * @param phase          {@link Phase#RESTORE} while a checkpoint's state files are downloaded, verified
 *                       and loaded; {@link Phase#REPLAY} while the WAL is replayed onto the state
 * @param checkpointId   the checkpoint being restored (in {@code REPLAY}: the one replayed onto), or
 *                       null when recovering from the WAL alone
 * @param bytesDone      in {@code RESTORE} the state file bytes read from the store (and checksummed) so
 *                       far; in {@code REPLAY} the WAL bytes replayed so far
 * @param bytesTotal     what {@code bytesDone} will reach: the sizes the manifest records for every file
 *                       of the checkpoint, or the WAL bytes from the checkpoint's positions to the end
 * @param filesDone      in {@code RESTORE} the state files read to their end and verified; 0 in {@code REPLAY}
 * @param filesTotal     in {@code RESTORE} the state files the checkpoint references; 0 in {@code REPLAY}
 * @param elapsed        since the phase started (a fallback to an older checkpoint starts a new
 *                       {@code RESTORE})
 * @param bytesPerSecond {@code bytesDone} over {@code elapsed}
 * @param eta            the time left at that rate, or null while nothing was done yet
 */
public record RecoveryProgress(Phase phase, Long checkpointId, long bytesDone, long bytesTotal, int filesDone,
        int filesTotal, Duration elapsed, double bytesPerSecond, Duration eta) {

    /** What a recovery is doing. */
    public enum Phase {
        /** Downloading, verifying and loading a checkpoint's state files. */
        RESTORE,
        /** Replaying the WAL onto the restored (or empty) state. */
        REPLAY
    }

    /** The progress of a phase that started {@code elapsedNanos} ago; rate and ETA follow. */
    static RecoveryProgress of(Phase phase, Long checkpointId, long bytesDone, long bytesTotal, int filesDone,
                               int filesTotal, long elapsedNanos) {
        double seconds = Math.max(elapsedNanos, 1) / 1e9;
        double rate = bytesDone / seconds;
        Duration eta = bytesDone >= bytesTotal ? Duration.ZERO
                : bytesDone == 0 ? null
                : Duration.ofMillis((long) ((bytesTotal - bytesDone) / rate * 1000));
        return new RecoveryProgress(phase, checkpointId, bytesDone, bytesTotal, filesDone, filesTotal,
                Duration.ofNanos(elapsedNanos), rate, eta);
    }

    /** Whether the phase has done everything it had to. */
    public boolean complete() {
        return bytesDone >= bytesTotal && filesDone >= filesTotal;
    }

    /** For a log line, e.g. "512.0 of 1024.0 MiB (3 of 4 files), 120.5 MiB/s, about 4 s left". */
    public String describe() {
        var sb = new StringBuilder();
        sb.append(String.format("%.1f of %.1f MiB", bytesDone / 1048576.0, bytesTotal / 1048576.0));
        if (filesTotal > 0) {
            sb.append(" (").append(filesDone).append(" of ").append(filesTotal).append(" files)");
        }
        sb.append(String.format(", %.1f MiB/s", bytesPerSecond / 1048576.0));
        if (eta != null && !eta.isZero()) {
            sb.append(", about ").append(Math.max(1, eta.toSeconds())).append(" s left");
        }
        return sb.toString();
    }
}

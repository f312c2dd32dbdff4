package io.laminar.storage.spring.actuate;

import io.laminar.storage.changelog.ChangelogOptions;
import io.laminar.storage.checkpoint.CheckpointHistory;
import io.laminar.storage.checkpoint.RecoveryReport;
import io.laminar.storage.io.FaultyFileIO;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.CheckpointManifest;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A real runtime for tests: a per-core WAL in {@code <dir>/wal} and a file-system checkpoint store
 * in {@code <dir>/checkpoints}, each over its own {@link FaultyFileIO}, with a
 * {@link CheckpointHistory} registered as a listener. Not thread-safe (one test thread).
 */
public final class TestRuntime implements AutoCloseable {

    public final FaultyFileIO walIo = FaultyFileIO.overSystem();
    public final FaultyFileIO storeIo = FaultyFileIO.overSystem();
    public final PerCoreWalManager wal;
    public final FileSystemCheckpointStore store;
    public final CheckpointHistory history;
    public final LaminarRuntime runtime;
    private boolean closed;

    private TestRuntime(Path dir, int cores, CheckpointHistory history, Consumer<PerCoreWalOptions.Builder> walOptions,
                        ChangelogOptions changelogOptions) {
        this.history = history;
        var options = PerCoreWalOptions.builder().cores(cores).maxEntrySize(4096)
                .wal(w -> w.segmentSize(256 * 1024).fileIO(walIo));
        walOptions.accept(options);
        this.wal = PerCoreWalManager.open(dir.resolve("wal"), options.build());
        try {
            this.store = FileSystemCheckpointStore.open(dir.resolve("checkpoints"), storeIo);
        } catch (IOException e) {
            wal.close();
            throw new UncheckedIOException(e);
        }
        this.runtime = LaminarRuntime.builder(wal, store).listener(history).changelogOptions(changelogOptions)
                .build();
    }

    /** Opens the WAL and the store of {@code dir} and builds the runtime, without starting it. */
    public static TestRuntime open(Path dir, int cores, CheckpointHistory history) {
        return new TestRuntime(dir, cores, history, options -> { }, ChangelogOptions.defaults());
    }

    /** As {@link #open(Path, int, CheckpointHistory)}, with WAL and changelog settings of the test's own. */
    public static TestRuntime open(Path dir, int cores, CheckpointHistory history,
                                   Consumer<PerCoreWalOptions.Builder> walOptions, ChangelogOptions changelogOptions) {
        return new TestRuntime(dir, cores, history, walOptions, changelogOptions);
    }

    /** Opens, recovers and starts, and hands the recovery report to the history. */
    public static TestRuntime started(Path dir, int cores, CheckpointHistory history) {
        var test = open(dir, cores, history);
        test.start();
        return test;
    }

    /** Starts the runtime and hands the recovery report to the history, as the starter does. */
    public RecoveryReport start() {
        var report = runtime.start();
        history.recovered(report);
        return report;
    }

    /** Puts {@code key} on its core and waits until the change is durable. */
    public void put(String key, int valueSize) throws Exception {
        var bytes = key.getBytes(StandardCharsets.UTF_8);
        runtime.submitDurable(runtime.coreOf(bytes), context -> {
            context.store().put(bytes, new byte[valueSize]);
            return null;
        }).get(10, TimeUnit.SECONDS);
    }

    /** A key that {@link LaminarRuntime#coreOf} puts on {@code core}. */
    public String keyOn(int core, String prefix) {
        for (int i = 0; ; i++) {
            var key = prefix + "-" + i;
            if (runtime.coreOf(key.getBytes(StandardCharsets.UTF_8)) == core) {
                return key;
            }
        }
    }

    /** Takes a checkpoint and waits for it. */
    public CheckpointManifest checkpoint() throws Exception {
        return runtime.triggerCheckpoint().get(30, TimeUnit.SECONDS);
    }

    /** Closes the runtime, then the WAL and the store; failures of a WAL made to fail are expected. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (var io : new FaultyFileIO[] {walIo, storeIo}) {
            io.forces().stopFailing();
            io.writes().stopFailing();
        }
        try {
            runtime.close();
        } catch (RuntimeException expectedAfterAFailedWal) {
            // the test made the WAL fail: its changes could not be made durable
        }
        try {
            wal.close();
        } catch (RuntimeException expectedAfterAFailedWal) {
            // idem
        }
        try {
            store.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

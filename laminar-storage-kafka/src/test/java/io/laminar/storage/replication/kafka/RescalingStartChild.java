package io.laminar.storage.replication.kafka;

import io.laminar.storage.checkpoint.Rescaler;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.FileSystemCheckpointStore;
import java.nio.file.Path;

/**
 * A replicated shard's start in a child JVM, for {@link KafkaRescaleKillTest}: opens the WAL
 * (arguments: WAL directory, store directory, bootstrap servers, shard, cores) as the starter opens a
 * replicated one, prints {@code OPENED}, starts the runtime (which rescales if the cores differ),
 * prints {@code STARTED} with the rescale it did, then waits until it is killed.
 */
public final class RescalingStartChild {

    private RescalingStartChild() {
    }

    public static void main(String[] args) throws Exception {
        int cores = Integer.parseInt(args[4]);
        var options = Shards.options(null, args[3]).bootstrapServers(args[2]).build();
        var wal = Rescaler.openReplicated(Path.of(args[0]), PerCoreWalOptions.builder().cores(cores)
                .maxEntrySize(64 * 1024).wal(w -> w.segmentSize(1 << 20)).build());
        var store = FileSystemCheckpointStore.open(Path.of(args[1]));
        var replicator = new KafkaChangeReplicator(options);
        var runtime = LaminarRuntime.builder(wal, store).replicator(replicator).build();
        System.out.println("OPENED");
        System.out.flush();
        var report = runtime.start();
        System.out.println("STARTED " + report.rescale());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}

package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.checkpoint.CheckpointListener;
import io.laminar.storage.checkpoint.RecoveryListener;
import io.laminar.storage.checkpoint.Rescaler;
import io.laminar.storage.checkpoint.StatePlacement;
import io.laminar.storage.percore.PerCoreWalManager;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.replication.ChangeReplicator;
import io.laminar.storage.runtime.CoreInitializer;
import io.laminar.storage.runtime.CutContextProvider;
import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.store.CheckpointStore;
import io.laminar.storage.wal.WalDirectoryException;
import io.laminar.storage.wal.WalIoBackendUnavailableException;
import io.laminar.storage.wal.WalLockedException;
import java.util.Optional;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;

/**
 * Auto-configuration of laminar-storage's core beans: the {@link CheckpointStore} (chosen by
 * {@code laminar.storage.checkpoint.store}), the {@link PerCoreWalManager}, the
 * {@link LaminarRuntime} and the {@link LaminarRuntimeLifecycle} that recovers and starts it
 * before the application takes traffic and closes it on shutdown.
 *
 * <p>{@code laminar.storage.enabled=false} switches all of it off (and with it every other
 * laminar-storage auto-configuration, which needs the runtime). Every bean backs off when the
 * application defines one of its type. The S3 store uses the
 * {@code S3Client} of Spring Cloud AWS's S3 auto-configuration, hence the ordering after it.
 */
@AutoConfiguration(afterName = "io.awspring.cloud.autoconfigure.s3.S3AutoConfiguration")
@ConditionalOnBooleanProperty(name = LaminarStorageProperties.PREFIX + ".enabled", matchIfMissing = true)
@EnableConfigurationProperties(LaminarStorageProperties.class)
@Import({CheckpointStoreConfigurations.FileSystem.class, CheckpointStoreConfigurations.S3.class,
        CheckpointStoreConfigurations.S3StoreMissing.class, CheckpointStoreConfigurations.S3SdkMissing.class,
        ReplicationConfigurations.BootKafkaSettings.class, ReplicationConfigurations.Kafka.class,
        ReplicationConfigurations.KafkaMissing.class})
public final class LaminarStorageAutoConfiguration {

    /** Carries what the WAL bean's rescale did to the runtime bean, which reports it. */
    @Bean
    @ConditionalOnMissingBean
    RescaleOutcome laminarRescaleOutcome() {
        return new RescaleOutcome();
    }

    /**
     * The per-core WAL in {@code <laminar.storage.dir>/wal}, opened (and its logs' torn tails
     * repaired) when the bean is created; closed, after a final sync, when the bean is destroyed.
     * Opened through {@link Rescaler}: a directory (or the checkpoint a new directory restores)
     * written with another number of cores is rescaled to {@code laminar.storage.cores} first,
     * moving each entry as the {@link StatePlacement} bean says (default: by its stored key). With
     * {@code laminar.storage.durability=replicated} it is opened by {@link Rescaler#openReplicated},
     * which only sets an old layout of another number of cores aside: the runtime rescales the shard
     * when it starts, once it owns it.
     * A directory that cannot be used, or whose WAL is open elsewhere, fails with a
     * {@link StorageDirectoryException} naming {@code laminar.storage.dir}.
     */
    @Bean
    @ConditionalOnMissingBean
    PerCoreWalManager laminarPerCoreWalManager(LaminarStorageProperties properties,
                                               ObjectProvider<PerCoreWalOptionsCustomizer> customizers,
                                               CheckpointStore store, ObjectProvider<StatePlacement> placement,
                                               RescaleOutcome outcome) {
        var builder = PerCoreWalOptions.builder()
                .cores(properties.getCores())
                .keyGroups(properties.getKeyGroups())
                .maxEntrySize((int) properties.getWal().getMaxEntrySize().toBytes())
                .wal(wal -> wal.segmentSize(properties.getWal().getSegmentSize().toBytes())
                        .syncPolicy(properties.syncPolicy())
                        .ioBackend(properties.getWal().getIoBackend()));
        customizers.orderedStream().forEach(customizer -> customizer.customize(builder));
        PerCoreWalOptions options;
        try {
            options = builder.build();
        } catch (IllegalArgumentException ex) {
            // The properties were validated when bound, so a customizer made these options invalid.
            throw new IllegalStateException("The write-ahead log options made of the laminar.storage.wal.* "
                    + "properties and the PerCoreWalOptionsCustomizer beans are invalid: " + ex.getMessage(), ex);
        }
        var directory = properties.walDirectory();
        // A replicated shard is rescaled by LaminarRuntime.start, once it owns the shard (it fenced the
        // previous owner in Kafka and claimed the store): here its old layout is only set aside.
        boolean replicated = properties.getDurability() == LaminarStorageProperties.Durability.REPLICATED;
        try {
            var opened = replicated ? new Rescaler.Opened(Rescaler.openReplicated(directory, options), Optional.empty())
                    : Rescaler.open(directory, options, store, placement.getIfAvailable(() -> StatePlacement.BY_STORE_KEY));
            outcome.set(opened.recovered().orElse(null));
            return opened.wal();
        } catch (IllegalArgumentException ex) {
            // What open() can refuse: the number of key groups, for a directory or store created with
            // another number.
            throw new InvalidConfigurationPropertyValueException(LaminarStorageProperties.PREFIX + ".key-groups",
                    options.keyGroups(), ex.getMessage());
        } catch (WalIoBackendUnavailableException ex) {
            // The message names the property, the reason and the fix; the failure analyzer shows it as such.
            throw new InvalidConfigurationPropertyValueException(LaminarStorageProperties.PREFIX + ".wal.io-backend",
                    options.wal().ioBackend().propertyValue(), ex.getMessage());
        } catch (WalDirectoryException ex) {
            throw StorageDirectoryException.unusable(LaminarStorageProperties.PREFIX + ".dir", properties.getDir(),
                    directory, ex);
        } catch (WalLockedException ex) {
            throw StorageDirectoryException.locked(properties.getDir(), ex);
        }
    }

    /**
     * The runtime over the WAL and the store, built but not started: {@link LaminarRuntimeLifecycle}
     * starts it. Its settings are applied in this order: the properties, the
     * {@link CutContextProvider} bean (at most one), the {@link CoreInitializer} beans (all, in
     * order), the {@link RecoveryListener} beans (all, in order, looked up when the recovery starts),
     * the {@link LaminarRuntimeCustomizer} beans; at start, the coordinator gets the
     * checkpoint properties, then the {@link StateCheckpointCoordinatorCustomizer} beans.
     */
    @Bean
    @ConditionalOnMissingBean
    LaminarRuntime laminarRuntime(LaminarStorageProperties properties, PerCoreWalManager wal, CheckpointStore store,
                                  ObjectProvider<CutContextProvider> cutContextProviders,
                                  ObjectProvider<CoreInitializer> coreInitializers,
                                  ObjectProvider<LaminarRuntimeCustomizer> runtimeCustomizers,
                                  ObjectProvider<StateCheckpointCoordinatorCustomizer> coordinatorCustomizers,
                                  ObjectProvider<RecoveryListener> recoveryListeners,
                                  ObjectProvider<ChangeReplicator> replicators,
                                  ObjectProvider<RescaleOutcome> rescale,
                                  ObjectProvider<StatePlacement> placement) {
        var checkpoint = properties.getCheckpoint();
        var builder = LaminarRuntime.builder(wal, store)
                .recovered(rescale.getIfAvailable(RescaleOutcome::new).get())
                .statePlacement(placement.getIfAvailable(() -> StatePlacement.BY_STORE_KEY))
                .changelogOptions(properties.changelogOptions())
                .recoveryOptions(properties.recoveryOptions())
                .finalCheckpointOnClose(checkpoint.isFinalOnShutdown())
                .checkpoints(coordinator -> {
                    coordinator.interval(checkpoint.getInterval()).retainedCheckpoints(checkpoint.getRetained());
                    // Looked up when the runtime starts, not now: a customizer may depend on the runtime.
                    coordinatorCustomizers.orderedStream().forEach(customizer -> customizer.customize(coordinator));
                });
        var hooks = new RuntimeHookBeans(cutContextProviders, coreInitializers);
        builder.cutContext(hooks).onRecovered(hooks).recoveryListener(new RecoveryListenerBeans(recoveryListeners));
        if (properties.getDurability() == LaminarStorageProperties.Durability.REPLICATED) {
            builder.replicator(replicators.getObject()); // one, from ReplicationConfigurations or the application
        }
        runtimeCustomizers.orderedStream().forEach(customizer -> customizer.customize(builder));
        return builder.build();
    }

    /** Starts the runtime before the web server and closes it after; see {@link LaminarRuntimeLifecycle}. */
    @Bean
    @ConditionalOnMissingBean
    LaminarRuntimeLifecycle laminarRuntimeLifecycle(LaminarRuntime runtime,
                                                    ObjectProvider<CheckpointListener> listeners,
                                                    ApplicationEventPublisher events) {
        return new LaminarRuntimeLifecycle(runtime, listeners, events);
    }
}

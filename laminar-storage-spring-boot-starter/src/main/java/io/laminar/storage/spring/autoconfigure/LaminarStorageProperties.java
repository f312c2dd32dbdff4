package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.changelog.ChangelogOptions;
import io.laminar.storage.changelog.OverflowPolicy;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalOptions;
import java.nio.file.Path;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.util.StringUtils;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.Errors;
import org.springframework.validation.Validator;

/**
 * Configuration properties of laminar-storage, under {@code laminar.storage}.
 *
 * <p>The properties validate themselves when they are bound (the class is a {@link Validator},
 * which Spring Boot applies to a {@code @ConfigurationProperties} object that implements it): an
 * invalid value fails startup with a {@code BindValidationException} whose failure analysis names
 * the property, its value and where it came from, e.g. {@code laminar.storage.cores must be at
 * least 1, but was 0}.
 *
 * <p>Not thread-safe: bound once at startup, then only read.
 */
@ConfigurationProperties("laminar.storage")
public class LaminarStorageProperties implements Validator {

    /** The prefix of every property of this class. */
    public static final String PREFIX = "laminar.storage";

    /**
     * The smallest segment size: the WAL's, for entries of the default largest size (the starter
     * does not change it), so that this check and the WAL's own cannot disagree.
     */
    private static final long MIN_SEGMENT_SIZE = PerCoreWalOptions.minSegmentSize(
            PerCoreWalOptions.DEFAULT_MAX_ENTRY_SIZE);
    private static final Duration MAX_GROUP_COMMIT_WAIT = Duration.ofSeconds(10);
    private static final int MAX_CORES = 9_999;
    private static final int MAX_QUEUE_CAPACITY = 1 << 24;
    /** The batch bound of group commit; what {@link SyncPolicy#groupCommit()} uses. */
    private static final int GROUP_COMMIT_MAX_BATCH_RECORDS = 4096;

    /**
     * Directory of the data: the write-ahead logs go to its 'wal' subdirectory and, with the
     * filesystem checkpoint store, the checkpoints to its 'checkpoints' subdirectory unless
     * 'laminar.storage.checkpoint.filesystem.dir' says otherwise. A relative path is resolved
     * against the working directory.
     */
    private Path dir = Path.of("laminar-data");

    /**
     * Number of cores: each has its own write-ahead log, state and thread, and keys are hashed to
     * them. Defaults to the number of available processors. Must stay the same for the lifetime
     * of the data directory (records are partitioned by core): startup fails if it differs from
     * the number the directory was created with.
     */
    private int cores = Runtime.getRuntime().availableProcessors();

    private final Wal wal = new Wal();

    private final Checkpoint checkpoint = new Checkpoint();

    private final Changelog changelog = new Changelog();

    private final Health health = new Health();

    public Path getDir() {
        return this.dir;
    }

    public void setDir(Path dir) {
        this.dir = dir;
    }

    public int getCores() {
        return this.cores;
    }

    public void setCores(int cores) {
        this.cores = cores;
    }

    public Wal getWal() {
        return this.wal;
    }

    public Checkpoint getCheckpoint() {
        return this.checkpoint;
    }

    public Changelog getChangelog() {
        return this.changelog;
    }

    public Health getHealth() {
        return this.health;
    }

    /** The directory of the per-core write-ahead logs: {@code <dir>/wal}. */
    public Path walDirectory() {
        return this.dir.resolve("wal");
    }

    /**
     * The directory of the filesystem checkpoint store: {@code checkpoint.filesystem.dir}, or
     * {@code <dir>/checkpoints} if that is not set.
     */
    public Path checkpointDirectory() {
        var configured = this.checkpoint.getFilesystem().getDir();
        return (configured != null) ? configured : this.dir.resolve("checkpoints");
    }

    /**
     * The age beyond which the last completed checkpoint is stale: {@code health.max-checkpoint-age}
     * if set (not zero), otherwise three times {@code checkpoint.interval}. Zero means staleness is
     * not checked (both are zero: periodic checkpoints are off and no age was set).
     */
    public Duration effectiveMaxCheckpointAge() {
        var configured = this.health.getMaxCheckpointAge();
        return configured.isZero() ? this.checkpoint.getInterval().multipliedBy(3) : configured;
    }

    /** The WAL sync policy these properties describe. */
    public SyncPolicy syncPolicy() {
        return switch (this.wal.getSyncPolicy()) {
            case GROUP_COMMIT -> SyncPolicy.groupCommit(this.wal.getGroupCommitMaxWait(),
                    GROUP_COMMIT_MAX_BATCH_RECORDS);
            case EVERY_APPEND -> SyncPolicy.everyAppend();
            case INTERVAL -> SyncPolicy.interval(this.wal.getSyncInterval());
            case NONE -> SyncPolicy.none();
        };
    }

    /** The changelog options these properties describe (aligned barriers are the runtime's business). */
    public ChangelogOptions changelogOptions() {
        return ChangelogOptions.defaults()
                .withQueueCapacity(this.changelog.getQueueCapacity())
                .withOverflowPolicy(this.changelog.getOverflowPolicy());
    }

    @Override
    public boolean supports(Class<?> type) {
        return LaminarStorageProperties.class.isAssignableFrom(type);
    }

    /**
     * Checks every value. Field names are the properties' names relative to {@link #PREFIX} (in
     * their dashed form), so the failure analysis prints the name the user wrote, and each message
     * repeats the full name for logs that show only the message.
     */
    @Override
    public void validate(Object target, Errors errors) {
        var properties = (LaminarStorageProperties) target;
        properties.validateTopLevel(errors);
        properties.wal.validate(errors, properties.cores);
        properties.checkpoint.validate(errors);
        properties.changelog.validate(errors);
        properties.health.validate(errors);
    }

    private void validateTopLevel(Errors errors) {
        if (this.dir == null || this.dir.toString().isEmpty()) {
            reject(errors, "dir", "must be set to the directory of the data", this.dir);
        }
        if (this.cores < 1) {
            reject(errors, "cores", "must be at least 1", this.cores);
        } else if (this.cores > MAX_CORES) {
            reject(errors, "cores", "must be at most " + MAX_CORES + " (file names carry the core id as four digits)",
                    this.cores);
        }
    }

    static void reject(Errors errors, String field, String requirement, Object value) {
        errors.rejectValue(field, "laminar.storage.invalid", PREFIX + "." + field + " " + requirement
                + ", but was " + value);
    }

    /** A size as the property would be written: in the largest unit that is exact, 1GB, 64KB or 1048688B. */
    private static String size(long bytes) {
        var units = new String[] {"B", "KB", "MB", "GB"};
        int unit = 0;
        while (unit < units.length - 1 && bytes != 0 && bytes % 1024 == 0) {
            bytes /= 1024;
            unit++;
        }
        return bytes + units[unit];
    }

    private static void requireNotNegative(Errors errors, String field, Duration value) {
        if (value == null) {
            errors.rejectValue(field, "laminar.storage.invalid", PREFIX + "." + field + " must be set");
        } else if (value.isNegative()) {
            reject(errors, field, "must not be negative", value);
        }
    }

    /** The write-ahead log's sync policy, as the property {@code wal.sync-policy} names it. */
    public enum SyncPolicyType {

        /** A background syncer puts the records written since the last sync behind one fsync. */
        GROUP_COMMIT,

        /** Every append waits for its own fsync (concurrent appenders share one). */
        EVERY_APPEND,

        /** The syncer syncs whatever was written every {@code wal.sync-interval}. */
        INTERVAL,

        /** Records are synced only on request, on segment rotation and on close. */
        NONE
    }

    /** Where checkpoints are stored, as the property {@code checkpoint.store} names it. */
    public enum StoreType {

        /** A directory of the local file system. */
        FILESYSTEM,

        /** An S3 bucket, through the S3Client that Spring Cloud AWS configures. */
        S3
    }

    /** The health status reported when the last completed checkpoint is too old. */
    public enum StaleCheckpointStatus {

        /** The application is down. */
        DOWN,

        /** The application is up but should not take traffic. */
        OUT_OF_SERVICE
    }

    /** Settings of the per-core write-ahead logs. */
    public static class Wal {

        /**
         * Size of each segment file of each core's write-ahead log. The files are pre-allocated,
         * so the disk needs at least cores times this. Between 1048688B (a segment holds at least
         * one record of the largest size: 1MB and 112 bytes of headers) and 1GB, a multiple of 8 bytes.
         */
        private DataSize segmentSize = DataSize.ofMegabytes(64);

        /** When appended records are fsynced. */
        private SyncPolicyType syncPolicy = SyncPolicyType.GROUP_COMMIT;

        /**
         * With the group-commit sync policy, the longest a sync lingers for more records to arrive
         * while records keep coming (between 0 and 10s).
         */
        private Duration groupCommitMaxWait = Duration.ofMillis(1);

        /** With the interval sync policy, the period between syncs. */
        private Duration syncInterval = Duration.ofMillis(100);

        public DataSize getSegmentSize() {
            return this.segmentSize;
        }

        public void setSegmentSize(DataSize segmentSize) {
            this.segmentSize = segmentSize;
        }

        public SyncPolicyType getSyncPolicy() {
            return this.syncPolicy;
        }

        public void setSyncPolicy(SyncPolicyType syncPolicy) {
            this.syncPolicy = syncPolicy;
        }

        public Duration getGroupCommitMaxWait() {
            return this.groupCommitMaxWait;
        }

        public void setGroupCommitMaxWait(Duration groupCommitMaxWait) {
            this.groupCommitMaxWait = groupCommitMaxWait;
        }

        public Duration getSyncInterval() {
            return this.syncInterval;
        }

        public void setSyncInterval(Duration syncInterval) {
            this.syncInterval = syncInterval;
        }

        private void validate(Errors errors, int cores) {
            if (this.segmentSize == null) {
                errors.rejectValue("wal.segment-size", "laminar.storage.invalid",
                        PREFIX + ".wal.segment-size must be set");
            } else {
                long bytes = this.segmentSize.toBytes();
                if (bytes < MIN_SEGMENT_SIZE || bytes > WalOptions.MAX_SEGMENT_SIZE || bytes % 8 != 0) {
                    int entry = PerCoreWalOptions.DEFAULT_MAX_ENTRY_SIZE;
                    reject(errors, "wal.segment-size", "must be a multiple of 8 bytes between " + size(MIN_SEGMENT_SIZE)
                            + " and " + size(WalOptions.MAX_SEGMENT_SIZE) + " (a segment holds at least one record of "
                            + "the largest size: " + size(entry) + " and " + (MIN_SEGMENT_SIZE - entry)
                            + " bytes of headers)", this.segmentSize);
                }
            }
            if (this.syncPolicy == null) {
                errors.rejectValue("wal.sync-policy", "laminar.storage.invalid",
                        PREFIX + ".wal.sync-policy must be set");
            }
            requireNotNegative(errors, "wal.group-commit-max-wait", this.groupCommitMaxWait);
            if (this.groupCommitMaxWait != null && this.groupCommitMaxWait.compareTo(MAX_GROUP_COMMIT_WAIT) > 0) {
                reject(errors, "wal.group-commit-max-wait", "must be at most 10s", this.groupCommitMaxWait);
            }
            if (this.syncInterval == null || this.syncInterval.isNegative() || this.syncInterval.isZero()) {
                reject(errors, "wal.sync-interval", "must be positive", this.syncInterval);
            }
        }
    }

    /** Settings of the checkpoints. */
    public static class Checkpoint {

        /**
         * Time from the end of one periodic checkpoint to the start of the next. Zero turns
         * periodic checkpoints off (checkpoints are then taken only on demand).
         */
        private Duration interval = Duration.ofSeconds(10);

        /**
         * How many of the newest checkpoints to keep. The write-ahead logs are truncated only up to
         * the oldest of them, so recovery can start from any.
         */
        private int retained = 3;

        /** Where checkpoints are stored. */
        private StoreType store = StoreType.FILESYSTEM;

        /**
         * Whether to take a last checkpoint when the application shuts down gracefully, so that
         * the next start replays (almost) nothing.
         */
        private boolean finalOnShutdown = true;

        private final Filesystem filesystem = new Filesystem();

        private final S3 s3 = new S3();

        public Duration getInterval() {
            return this.interval;
        }

        public void setInterval(Duration interval) {
            this.interval = interval;
        }

        public int getRetained() {
            return this.retained;
        }

        public void setRetained(int retained) {
            this.retained = retained;
        }

        public StoreType getStore() {
            return this.store;
        }

        public void setStore(StoreType store) {
            this.store = store;
        }

        public boolean isFinalOnShutdown() {
            return this.finalOnShutdown;
        }

        public void setFinalOnShutdown(boolean finalOnShutdown) {
            this.finalOnShutdown = finalOnShutdown;
        }

        public Filesystem getFilesystem() {
            return this.filesystem;
        }

        public S3 getS3() {
            return this.s3;
        }

        private void validate(Errors errors) {
            requireNotNegative(errors, "checkpoint.interval", this.interval);
            if (this.retained < 1) {
                reject(errors, "checkpoint.retained", "must be at least 1", this.retained);
            }
            if (this.store == null) {
                errors.rejectValue("checkpoint.store", "laminar.storage.invalid",
                        PREFIX + ".checkpoint.store must be set to filesystem or s3");
            }
            if (this.store == StoreType.S3 && !StringUtils.hasText(this.s3.getBucket())) {
                errors.rejectValue("checkpoint.s3.bucket", "laminar.storage.invalid", PREFIX
                        + ".checkpoint.s3.bucket must be set when " + PREFIX + ".checkpoint.store is s3");
            }
            if (this.s3.getPrefix() == null) {
                errors.rejectValue("checkpoint.s3.prefix", "laminar.storage.invalid",
                        PREFIX + ".checkpoint.s3.prefix must not be null (leave it empty for the bucket's root)");
            }
        }
    }

    /** Settings of the filesystem checkpoint store. */
    public static class Filesystem {

        /**
         * Directory of the checkpoints (state files and manifests). Defaults to the 'checkpoints'
         * subdirectory of 'laminar.storage.dir'.
         */
        private Path dir;

        public Path getDir() {
            return this.dir;
        }

        public void setDir(Path dir) {
            this.dir = dir;
        }
    }

    /** Settings of the S3 checkpoint store. */
    public static class S3 {

        /**
         * Name of the bucket of the checkpoints; required when the store is s3. The S3 client
         * (credentials, region, endpoint) is configured with the 'spring.cloud.aws.*' properties.
         */
        private String bucket;

        /** Key prefix of every object of the store, e.g. 'my-app/'; empty for the bucket's root. */
        private String prefix = "";

        public String getBucket() {
            return this.bucket;
        }

        public void setBucket(String bucket) {
            this.bucket = bucket;
        }

        public String getPrefix() {
            return this.prefix;
        }

        public void setPrefix(String prefix) {
            this.prefix = prefix;
        }
    }

    /** Settings of the changelog between the core threads and their write-ahead logs. */
    public static class Changelog {

        /**
         * Changes each core's queue holds before the overflow policy applies (rounded up to a
         * power of two; between 2 and 16777216).
         */
        private int queueCapacity = 16384;

        /** What a core thread does when its changelog queue is full. */
        private OverflowPolicy overflowPolicy = OverflowPolicy.BACKPRESSURE;

        public int getQueueCapacity() {
            return this.queueCapacity;
        }

        public void setQueueCapacity(int queueCapacity) {
            this.queueCapacity = queueCapacity;
        }

        public OverflowPolicy getOverflowPolicy() {
            return this.overflowPolicy;
        }

        public void setOverflowPolicy(OverflowPolicy overflowPolicy) {
            this.overflowPolicy = overflowPolicy;
        }

        private void validate(Errors errors) {
            if (this.queueCapacity < 2 || this.queueCapacity > MAX_QUEUE_CAPACITY) {
                reject(errors, "changelog.queue-capacity", "must be between 2 and " + MAX_QUEUE_CAPACITY,
                        this.queueCapacity);
            }
            if (this.overflowPolicy == null) {
                errors.rejectValue("changelog.overflow-policy", "laminar.storage.invalid",
                        PREFIX + ".changelog.overflow-policy must be set to backpressure or fail");
            }
        }
    }

    /** Settings of the health indicator. */
    public static class Health {

        /**
         * Age of the last completed checkpoint beyond which the health is
         * 'stale-checkpoint-status'. Zero derives it: three times 'laminar.storage.checkpoint.interval'.
         */
        private Duration maxCheckpointAge = Duration.ZERO;

        /** Health status reported while the last completed checkpoint is older than 'max-checkpoint-age'. */
        private StaleCheckpointStatus staleCheckpointStatus = StaleCheckpointStatus.OUT_OF_SERVICE;

        public Duration getMaxCheckpointAge() {
            return this.maxCheckpointAge;
        }

        public void setMaxCheckpointAge(Duration maxCheckpointAge) {
            this.maxCheckpointAge = maxCheckpointAge;
        }

        public StaleCheckpointStatus getStaleCheckpointStatus() {
            return this.staleCheckpointStatus;
        }

        public void setStaleCheckpointStatus(StaleCheckpointStatus staleCheckpointStatus) {
            this.staleCheckpointStatus = staleCheckpointStatus;
        }

        private void validate(Errors errors) {
            requireNotNegative(errors, "health.max-checkpoint-age", this.maxCheckpointAge);
            if (this.staleCheckpointStatus == null) {
                errors.rejectValue("health.stale-checkpoint-status", "laminar.storage.invalid",
                        PREFIX + ".health.stale-checkpoint-status must be set to down or out-of-service");
            }
        }
    }
}

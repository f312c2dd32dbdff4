package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.KeyGroups;
import io.laminar.storage.changelog.ChangelogOptions;
import io.laminar.storage.changelog.OverflowPolicy;
import io.laminar.storage.checkpoint.RecoveryOptions;
import io.laminar.storage.percore.PerCoreWalOptions;
import io.laminar.storage.wal.SyncPolicy;
import io.laminar.storage.wal.WalIoBackend;
import io.laminar.storage.wal.WalOptions;
import java.nio.file.Path;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.origin.Origin;
import org.springframework.boot.origin.OriginProvider;
import org.springframework.context.EnvironmentAware;
import org.springframework.core.env.Environment;
import org.springframework.util.StringUtils;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.BindingResult;
import org.springframework.validation.Errors;
import org.springframework.validation.FieldError;
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
public class LaminarStorageProperties implements Validator, EnvironmentAware {

    /** The prefix of every property of this class. */
    public static final String PREFIX = "laminar.storage";

    /** The largest {@code wal.max-entry-size}. */
    private static final long MAX_ENTRY_SIZE = 256L << 20;
    private static final Duration MAX_GROUP_COMMIT_WAIT = Duration.ofSeconds(10);
    private static final int MAX_CORES = 9_999;
    /** S3's smallest part, and the largest the S3 store buffers (S3CheckpointStore's bounds; the module is optional). */
    private static final long MIN_PART_SIZE = 5L << 20;
    private static final long MAX_PART_SIZE = Integer.MAX_VALUE - 8;
    private static final int MAX_QUEUE_CAPACITY = 1 << 24;
    /** The batch bound of group commit; what {@link SyncPolicy#groupCommit()} uses. */
    private static final int GROUP_COMMIT_MAX_BATCH_RECORDS = 4096;

    /**
     * Whether to auto-configure laminar-storage: the write-ahead logs, the checkpoint store, the
     * runtime and everything that observes them. False backs off completely (no directory is
     * opened, no lock taken), e.g. in a test or a profile that does not need the storage.
     */
    private boolean enabled = true;

    /**
     * Directory of the data: the write-ahead logs go to its 'wal' subdirectory and, with the
     * filesystem checkpoint store, the checkpoints to its 'checkpoints' subdirectory unless
     * 'laminar.storage.checkpoint.filesystem.dir' says otherwise. A relative path is resolved
     * against the working directory.
     */
    private Path dir = Path.of("laminar-data");

    /**
     * Number of cores: each has its own write-ahead log, state and thread, and owns a contiguous
     * range of the key groups. Defaults to the number of available processors. May change between
     * restarts: a data directory, or a checkpoint restored onto a new one, written with another
     * number is rescaled at startup (every key group moves to the core that now owns it).
     */
    private int cores = Runtime.getRuntime().availableProcessors();

    /**
     * Number of key groups keys are hashed to, chosen once per data directory and checkpoint store:
     * startup fails if it differs from the number they were created with. The most cores the data
     * can ever be rescaled to; at least 'laminar.storage.cores'.
     */
    private int keyGroups = KeyGroups.DEFAULT_KEY_GROUPS;

    private final Wal wal = new Wal();

    private final Checkpoint checkpoint = new Checkpoint();

    private final Changelog changelog = new Changelog();

    private final Health health = new Health();

    private final Recovery recovery = new Recovery();

    private final Page page = new Page();

    /**
     * When a durable change is acknowledged: 'local' once it is fdatasync'd in the local
     * write-ahead log; 'replicated' once it is also acknowledged by Kafka (acks=all), so that
     * another machine can take the shard over with every acknowledged change (needs
     * laminar-storage-kafka and spring.kafka.bootstrap-servers).
     */
    private Durability durability = Durability.LOCAL;

    /**
     * The shard these data belong to: the unit of ownership (one checkpoint store prefix, one Kafka
     * topic, one owner at a time). Defaults to 'spring.application.name'.
     */
    private String shard;

    private final Replication replication = new Replication();

    /** Set by Spring before the properties are bound; null if they are bound without a context. */
    private Environment environment;

    public boolean isEnabled() {
        return this.enabled;
    }

    public void setEnabled(boolean enabled) {
        this.enabled = enabled;
    }

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

    public int getKeyGroups() {
        return this.keyGroups;
    }

    public void setKeyGroups(int keyGroups) {
        this.keyGroups = keyGroups;
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

    public Page getPage() {
        return this.page;
    }

    public Recovery getRecovery() {
        return this.recovery;
    }

    /** The recovery options these properties describe. */
    public RecoveryOptions recoveryOptions() {
        return RecoveryOptions.builder().fetchThreads(this.recovery.getFetchThreads())
                .parseThreads(this.recovery.getParseThreads()).progressInterval(this.recovery.getProgressInterval())
                .build();
    }

    public Durability getDurability() {
        return this.durability;
    }

    public void setDurability(Durability durability) {
        this.durability = durability;
    }

    public String getShard() {
        return this.shard;
    }

    public void setShard(String shard) {
        this.shard = shard;
    }

    public Replication getReplication() {
        return this.replication;
    }

    /**
     * The shard: {@code shard} if set, otherwise {@code spring.application.name}, otherwise
     * {@code laminar} (with a warning from the replication configuration).
     */
    public String effectiveShard() {
        if (this.shard != null && !this.shard.isBlank()) {
            return this.shard;
        }
        var name = this.environment == null ? null : this.environment.getProperty("spring.application.name");
        return (name != null && !name.isBlank()) ? name : "laminar";
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

    /** The environment the properties are bound from: where {@link #validate} finds each value's origin. */
    @Override
    public void setEnvironment(Environment environment) {
        this.environment = environment;
    }

    /**
     * Checks every value. Field names are the properties' names relative to {@link #PREFIX} (in
     * their dashed form), so the failure analysis prints the name the user wrote, with the
     * {@code Origin} of the value (a file and line, an environment variable) for nested properties
     * as for top-level ones; each message repeats the full name for logs that show only the message.
     */
    @Override
    public void validate(Object target, Errors errors) {
        var properties = (LaminarStorageProperties) target;
        var checks = new Checks(errors, this.environment);
        properties.validateTopLevel(checks);
        properties.wal.validate(checks);
        properties.checkpoint.validate(checks);
        properties.checkpoint.s3.validate(checks);
        properties.changelog.validate(checks);
        properties.health.validate(checks);
        properties.recovery.validate(checks);
        properties.replication.validate(checks, properties);
    }

    private void validateTopLevel(Checks checks) {
        if (this.dir == null || this.dir.toString().isEmpty()) {
            checks.reject("", "dir", "must be set to the directory of the data", this.dir);
        }
        if (this.cores < 1) {
            checks.reject("", "cores", "must be at least 1", this.cores);
        } else if (this.cores > MAX_CORES) {
            checks.reject("", "cores", "must be at most " + MAX_CORES
                    + " (file names carry the core id as four digits)", this.cores);
        }
        if (this.keyGroups < 1 || this.keyGroups > KeyGroups.MAX_KEY_GROUPS) {
            checks.reject("", "key-groups", "must be between 1 and " + KeyGroups.MAX_KEY_GROUPS, this.keyGroups);
        } else if (this.keyGroups < this.cores) {
            checks.reject("", "key-groups", "must be at least laminar.storage.cores (" + this.cores
                    + "): each core owns at least one key group", this.keyGroups);
        }
    }

    /**
     * Records the errors of {@link #validate}. Spring Boot finds the origin of a rejected value
     * only for the direct properties of the validated object ({@code laminar.storage.cores}), so the
     * origin of a nested one ({@code laminar.storage.wal.segment-size}) is looked up here, in the
     * environment's property sources, and carried by the error itself.
     */
    private static final class Checks {

        private static final String CODE = "laminar.storage.invalid";

        private final Errors errors;
        private final Environment environment;

        Checks(Errors errors, Environment environment) {
            this.errors = errors;
            this.environment = environment;
        }

        /** Rejects {@code group.property} (relative to {@link #PREFIX}; {@code group} empty at the top level). */
        void reject(String group, String property, String requirement, Object value) {
            add(group, property, value, name(group, property) + " " + requirement + ", but was " + value);
        }

        /** Rejects {@code group.property} with {@code message}. */
        void fail(String group, String property, String message) {
            add(group, property, null, message);
        }

        void requireNotNegative(String group, String property, Duration value) {
            if (value == null) {
                fail(group, property, name(group, property) + " must be set");
            } else if (value.isNegative()) {
                reject(group, property, "must not be negative", value);
            }
        }

        private void add(String group, String property, Object value, String message) {
            var field = group.isEmpty() ? property : group + "." + property;
            var origin = origin(name(group, property));
            if (origin != null && this.errors instanceof BindingResult result) {
                result.addError(new OriginFieldError(result.getObjectName(), field, value, CODE, message, origin));
            } else {
                this.errors.rejectValue(field, CODE, message);
            }
        }

        private Origin origin(String name) {
            if (this.environment == null || !ConfigurationPropertyName.isValid(name)) {
                return null;
            }
            var propertyName = ConfigurationPropertyName.of(name);
            for (var source : ConfigurationPropertySources.get(this.environment)) {
                var property = source.getConfigurationProperty(propertyName);
                if (property != null) {
                    return property.getOrigin();
                }
            }
            return null;
        }

        private static String name(String group, String property) {
            return PREFIX + "." + (group.isEmpty() ? "" : group + ".") + property;
        }
    }

    /** A field error that knows where its value came from, which Spring Boot's failure analysis prints. */
    private static final class OriginFieldError extends FieldError implements OriginProvider {

        private final transient Origin origin;

        OriginFieldError(String objectName, String field, Object value, String code, String message, Origin origin) {
            super(objectName, field, value, false, new String[] {code}, null, message);
            this.origin = origin;
        }

        @Override
        public Origin getOrigin() {
            return this.origin;
        }
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
         * while records keep coming (between 0 and 10s). It never lingers much longer than an
         * fdatasync takes either.
         */
        private Duration groupCommitMaxWait = Duration.ofMillis(1);

        /** With the interval sync policy, the period between syncs. */
        private Duration syncInterval = Duration.ofMillis(100);

        /**
         * Largest state change (key, value and a few bytes of encoding) one record of a core's
         * write-ahead log holds; a larger change fails its task. Between 1B and 256MB; a segment
         * must hold at least one such record, so 'segment-size' must exceed it by 112 bytes.
         */
        private DataSize maxEntrySize = DataSize.ofBytes(PerCoreWalOptions.DEFAULT_MAX_ENTRY_SIZE);

        /**
         * How each core's write-ahead log writes and fsyncs its segment files: 'file-channel'
         * (buffered writes, then fdatasync), 'direct' (O_DIRECT writes from an aligned buffer, then
         * fdatasync; startup fails where the file system refuses O_DIRECT or 'segment-size' is not a
         * multiple of its block size), 'direct-or-fallback' (direct where it can run, else one
         * warning and file-channel), 'io-uring' (writes and fdatasyncs through Linux io_uring; needs
         * laminar-storage-io-uring on the class path and Java 22+, and startup fails where the kernel
         * refuses io_uring) or 'io-uring-or-fallback'. The files are the same with every backend, so it may be changed
         * between runs. Measure with the benchmarks' wal suite before leaving the default.
         */
        private WalIoBackend ioBackend = WalIoBackend.FILE_CHANNEL;

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

        public DataSize getMaxEntrySize() {
            return this.maxEntrySize;
        }

        public WalIoBackend getIoBackend() {
            return this.ioBackend;
        }

        public void setIoBackend(WalIoBackend ioBackend) {
            this.ioBackend = ioBackend;
        }

        public void setMaxEntrySize(DataSize maxEntrySize) {
            this.maxEntrySize = maxEntrySize;
        }

        private void validate(Checks checks) {
            boolean entryValid = false;
            if (this.maxEntrySize == null) {
                checks.fail("wal", "max-entry-size", PREFIX + ".wal.max-entry-size must be set");
            } else if (this.maxEntrySize.toBytes() < 1 || this.maxEntrySize.toBytes() > MAX_ENTRY_SIZE) {
                checks.reject("wal", "max-entry-size", "must be between 1B and " + size(MAX_ENTRY_SIZE),
                        this.maxEntrySize);
            } else {
                entryValid = true;
            }
            if (this.segmentSize == null) {
                checks.fail("wal", "segment-size", PREFIX + ".wal.segment-size must be set");
            } else if (entryValid) {
                // The WAL's own smallest segment for this entry size, so that the two checks cannot disagree.
                int entry = (int) this.maxEntrySize.toBytes();
                long min = PerCoreWalOptions.minSegmentSize(entry);
                long bytes = this.segmentSize.toBytes();
                if (bytes < min || bytes > WalOptions.MAX_SEGMENT_SIZE || bytes % 8 != 0) {
                    checks.reject("wal", "segment-size", "must be a multiple of 8 bytes between " + size(min)
                            + " and " + size(WalOptions.MAX_SEGMENT_SIZE) + " (a segment holds at least one record of "
                            + "the largest size: " + size(entry) + " ('wal.max-entry-size') and " + (min - entry)
                            + " bytes of headers)", this.segmentSize);
                }
            }
            if (this.syncPolicy == null) {
                checks.fail("wal", "sync-policy", PREFIX + ".wal.sync-policy must be set");
            }
            if (this.ioBackend == null) {
                checks.fail("wal", "io-backend", PREFIX + ".wal.io-backend must be set to one of "
                        + WalIoBackend.validValues());
            }
            checks.requireNotNegative("wal", "group-commit-max-wait", this.groupCommitMaxWait);
            if (this.groupCommitMaxWait != null && this.groupCommitMaxWait.compareTo(MAX_GROUP_COMMIT_WAIT) > 0) {
                checks.reject("wal", "group-commit-max-wait", "must be at most 10s", this.groupCommitMaxWait);
            }
            if (this.syncInterval == null || this.syncInterval.isNegative() || this.syncInterval.isZero()) {
                checks.reject("wal", "sync-interval", "must be positive", this.syncInterval);
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

        private void validate(Checks checks) {
            checks.requireNotNegative("checkpoint", "interval", this.interval);
            if (this.retained < 1) {
                checks.reject("checkpoint", "retained", "must be at least 1", this.retained);
            }
            if (this.store == null) {
                checks.fail("checkpoint", "store", PREFIX + ".checkpoint.store must be set to filesystem or s3");
            }
            if (this.store == StoreType.S3 && !StringUtils.hasText(this.s3.getBucket())) {
                checks.fail("checkpoint", "s3.bucket", PREFIX + ".checkpoint.s3.bucket must be set when " + PREFIX
                        + ".checkpoint.store is s3");
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

        /**
         * Part size of the multipart uploads of state files (between 5MB, the S3 minimum, and
         * 2047MB); a file up to this size goes up in one PUT. The store holds at most
         * 'upload-threads' + 2 buffers of this size in memory (the parts in flight, shared by its
         * uploads, plus one being filled by each of the two state files a checkpoint writes at once).
         */
        private DataSize partSize = DataSize.ofMegabytes(16);

        /** How many parts go up at once, across the store's uploads: the size of its upload pool (1 to 64). */
        private int uploadThreads = 4;

        /**
         * Size of the ranges a state file of at least twice this size is read in during a restore,
         * several ranged GETs at once, as one S3 connection carries far less than a machine's link
         * (64KB to 1GB).
         */
        private DataSize downloadRangeSize = DataSize.ofMegabytes(8);

        /**
         * How many ranged GETs a reader of a large state file runs ahead of the bytes it returned
         * (0 to 64; 0 reads each file with one GET). Each reader holds up to this + 1 buffers of
         * 'download-range-size'; a restore reads 'laminar.storage.recovery.fetch-threads' files at once.
         */
        private int rangesAhead = 4;

        /** How often a request is tried in all before its transient failure (throttling, 5xx) is reported (1 to 100). */
        private int maxAttempts = 5;

        /**
         * Backoff before the first retry of a request; the n-th waits a random time up to
         * 'retry-base-delay' times 2^(n-1), at most 'retry-max-delay'.
         */
        private Duration retryBaseDelay = Duration.ofMillis(100);

        /** The longest backoff between two attempts of a request (at least 'retry-base-delay'). */
        private Duration retryMaxDelay = Duration.ofSeconds(5);

        /** How old an incomplete multipart upload (left by a crash) must be before cleanup aborts it. */
        private Duration incompleteUploadMaxAge = Duration.ofHours(1);

        public DataSize getPartSize() {
            return this.partSize;
        }

        public void setPartSize(DataSize partSize) {
            this.partSize = partSize;
        }

        public int getUploadThreads() {
            return this.uploadThreads;
        }

        public void setUploadThreads(int uploadThreads) {
            this.uploadThreads = uploadThreads;
        }

        public DataSize getDownloadRangeSize() {
            return this.downloadRangeSize;
        }

        public void setDownloadRangeSize(DataSize downloadRangeSize) {
            this.downloadRangeSize = downloadRangeSize;
        }

        public int getRangesAhead() {
            return this.rangesAhead;
        }

        public void setRangesAhead(int rangesAhead) {
            this.rangesAhead = rangesAhead;
        }

        public int getMaxAttempts() {
            return this.maxAttempts;
        }

        public void setMaxAttempts(int maxAttempts) {
            this.maxAttempts = maxAttempts;
        }

        public Duration getRetryBaseDelay() {
            return this.retryBaseDelay;
        }

        public void setRetryBaseDelay(Duration retryBaseDelay) {
            this.retryBaseDelay = retryBaseDelay;
        }

        public Duration getRetryMaxDelay() {
            return this.retryMaxDelay;
        }

        public void setRetryMaxDelay(Duration retryMaxDelay) {
            this.retryMaxDelay = retryMaxDelay;
        }

        public Duration getIncompleteUploadMaxAge() {
            return this.incompleteUploadMaxAge;
        }

        public void setIncompleteUploadMaxAge(Duration incompleteUploadMaxAge) {
            this.incompleteUploadMaxAge = incompleteUploadMaxAge;
        }

        private void validate(Checks checks) {
            if (this.prefix == null) {
                checks.fail("checkpoint.s3", "prefix", PREFIX
                        + ".checkpoint.s3.prefix must not be null (leave it empty for the bucket's root)");
            }
            if (this.partSize == null || this.partSize.toBytes() < MIN_PART_SIZE
                    || this.partSize.toBytes() > MAX_PART_SIZE) {
                checks.reject("checkpoint.s3", "part-size", "must be between 5MB (the S3 minimum) and "
                        + MAX_PART_SIZE + "B", this.partSize);
            }
            if (this.uploadThreads < 1 || this.uploadThreads > 64) {
                checks.reject("checkpoint.s3", "upload-threads", "must be between 1 and 64", this.uploadThreads);
            }
            if (this.downloadRangeSize == null || this.downloadRangeSize.toBytes() < 64 * 1024
                    || this.downloadRangeSize.toBytes() > 1L << 30) {
                checks.reject("checkpoint.s3", "download-range-size", "must be between 64KB and 1GB",
                        this.downloadRangeSize);
            }
            if (this.rangesAhead < 0 || this.rangesAhead > 64) {
                checks.reject("checkpoint.s3", "ranges-ahead", "must be between 0 (one GET per file) and 64",
                        this.rangesAhead);
            }
            if (this.maxAttempts < 1 || this.maxAttempts > 100) {
                checks.reject("checkpoint.s3", "max-attempts", "must be between 1 and 100", this.maxAttempts);
            }
            checks.requireNotNegative("checkpoint.s3", "retry-base-delay", this.retryBaseDelay);
            checks.requireNotNegative("checkpoint.s3", "retry-max-delay", this.retryMaxDelay);
            if (this.retryBaseDelay != null && this.retryMaxDelay != null
                    && this.retryMaxDelay.compareTo(this.retryBaseDelay) < 0) {
                checks.reject("checkpoint.s3", "retry-max-delay", "must be at least "
                        + PREFIX + ".checkpoint.s3.retry-base-delay (" + this.retryBaseDelay + ")", this.retryMaxDelay);
            }
            checks.requireNotNegative("checkpoint.s3", "incomplete-upload-max-age", this.incompleteUploadMaxAge);
        }

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

        private void validate(Checks checks) {
            if (this.queueCapacity < 2 || this.queueCapacity > MAX_QUEUE_CAPACITY) {
                checks.reject("changelog", "queue-capacity", "must be between 2 and " + MAX_QUEUE_CAPACITY,
                        this.queueCapacity);
            }
            if (this.overflowPolicy == null) {
                checks.fail("changelog", "overflow-policy",
                        PREFIX + ".changelog.overflow-policy must be set to backpressure or fail");
            }
        }
    }

    /** When a durable change is acknowledged. */
    public enum Durability {
        /** Once it is fdatasync'd in the local write-ahead log. */
        LOCAL,
        /** Once it is fdatasync'd locally and acknowledged by Kafka. */
        REPLICATED
    }

    /** Replication of durable changes through Kafka (with 'durability: replicated'). */
    public static class Replication {

        /** The shard's topic. Defaults to 'laminar-<shard>-changes'. */
        private String topic;

        /**
         * Partitions of the topic: core c writes its changes, in order, to partition c % partitions
         * (cores beyond the count share partitions). Fixed for the topic's lifetime: startup fails if an
         * existing topic has another count.
         */
        private int partitions = 16;

        /** Replication factor of the topic when laminar-storage creates it. */
        private int replicationFactor = 3;

        /** 'min.insync.replicas' of the topic when laminar-storage creates it. */
        private int minInsyncReplicas = 2;

        /** How long a durable change waits for Kafka's acknowledgement before its task fails. */
        private Duration ackTimeout = Duration.ofSeconds(30);

        /** Whether to create the topic if it is missing. */
        private boolean createTopic = true;

        public String getTopic() {
            return this.topic;
        }

        public void setTopic(String topic) {
            this.topic = topic;
        }

        public int getPartitions() {
            return this.partitions;
        }

        public void setPartitions(int partitions) {
            this.partitions = partitions;
        }

        public int getReplicationFactor() {
            return this.replicationFactor;
        }

        public void setReplicationFactor(int replicationFactor) {
            this.replicationFactor = replicationFactor;
        }

        public int getMinInsyncReplicas() {
            return this.minInsyncReplicas;
        }

        public void setMinInsyncReplicas(int minInsyncReplicas) {
            this.minInsyncReplicas = minInsyncReplicas;
        }

        public Duration getAckTimeout() {
            return this.ackTimeout;
        }

        public void setAckTimeout(Duration ackTimeout) {
            this.ackTimeout = ackTimeout;
        }

        public boolean isCreateTopic() {
            return this.createTopic;
        }

        public void setCreateTopic(boolean createTopic) {
            this.createTopic = createTopic;
        }

        private void validate(Checks checks, LaminarStorageProperties properties) {
            if (properties.durability == null) {
                checks.fail("", "durability", PREFIX + ".durability must be set to local or replicated");
            }
            if (properties.shard != null && !properties.shard.matches("[A-Za-z0-9._-]{1,200}")) {
                checks.reject("", "shard", "must be 1 to 200 letters, digits, '.', '_' or '-' (it names a Kafka "
                        + "topic and a transactional.id)", properties.shard);
            }
            if (this.partitions < 1) {
                checks.reject("replication", "partitions", "must be at least 1", this.partitions);
            }
            if (this.replicationFactor < 1) {
                checks.reject("replication", "replication-factor", "must be at least 1", this.replicationFactor);
            }
            if (this.minInsyncReplicas < 1 || this.minInsyncReplicas > this.replicationFactor) {
                checks.reject("replication", "min-insync-replicas", "must be between 1 and replication-factor ("
                        + this.replicationFactor + ")", this.minInsyncReplicas);
            }
            if (this.ackTimeout == null || this.ackTimeout.compareTo(Duration.ofSeconds(1)) < 0) {
                checks.reject("replication", "ack-timeout", "must be at least 1s", this.ackTimeout);
            }
            if (this.topic != null && !this.topic.matches("[A-Za-z0-9._-]{1,249}")) {
                checks.reject("replication", "topic", "must be 1 to 249 letters, digits, '.', '_' or '-'", this.topic);
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

        private void validate(Checks checks) {
            checks.requireNotNegative("health", "max-checkpoint-age", this.maxCheckpointAge);
            if (this.staleCheckpointStatus == null) {
                checks.fail("health", "stale-checkpoint-status",
                        PREFIX + ".health.stale-checkpoint-status must be set to down or out-of-service");
            }
        }
    }

    /** How the recovery at start restores the newest checkpoint. */
    public static class Recovery {

        /**
         * How many state files are downloaded (and checksummed) at once, across every core's chain,
         * 1 to 64. Each holds at most 1 MiB that its parser has not taken yet.
         */
        private int fetchThreads = RecoveryOptions.DEFAULTS.fetchThreads();

        /** How many cores' chains are parsed into state at once, 1 to 64. Defaults to the processors, at most 8. */
        private int parseThreads = RecoveryOptions.DEFAULTS.parseThreads();

        /** How often the recovery logs a progress line and updates the progress in the health details and meters. */
        private Duration progressInterval = RecoveryOptions.DEFAULTS.progressInterval();

        public int getFetchThreads() {
            return this.fetchThreads;
        }

        public void setFetchThreads(int fetchThreads) {
            this.fetchThreads = fetchThreads;
        }

        public int getParseThreads() {
            return this.parseThreads;
        }

        public void setParseThreads(int parseThreads) {
            this.parseThreads = parseThreads;
        }

        public Duration getProgressInterval() {
            return this.progressInterval;
        }

        public void setProgressInterval(Duration progressInterval) {
            this.progressInterval = progressInterval;
        }

        private void validate(Checks checks) {
            if (this.fetchThreads < 1 || this.fetchThreads > 64) {
                checks.reject("recovery", "fetch-threads", "must be between 1 and 64", this.fetchThreads);
            }
            if (this.parseThreads < 1 || this.parseThreads > 64) {
                checks.reject("recovery", "parse-threads", "must be between 1 and 64", this.parseThreads);
            }
            if (this.progressInterval == null) {
                checks.fail("recovery", "progress-interval", PREFIX + ".recovery.progress-interval must be set");
            } else if (this.progressInterval.compareTo(Duration.ofMillis(1)) < 0) {
                checks.reject("recovery", "progress-interval", "must be at least 1ms", this.progressInterval);
            }
        }
    }

    /** The checkpoint page, an HTML view of the checkpoints under the actuator (endpoint {@code laminar}). */
    public static class Page {

        /**
         * Whether to offer the checkpoint page: a read-only HTML page at '<management base
         * path>/laminar' (with the actuator, once 'laminar' is exposed over the web) showing the
         * recent checkpoints as charts, the latest one, each core's WAL and health, and the recovery
         * report. Off by default.
         */
        private boolean enabled = false;

        public boolean isEnabled() {
            return this.enabled;
        }

        public void setEnabled(boolean enabled) {
            this.enabled = enabled;
        }
    }
}

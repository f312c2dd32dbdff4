package io.laminar.storage.spring.observation;

import io.micrometer.common.docs.KeyName;
import io.micrometer.observation.docs.ObservationDocumentation;

/**
 * The observations of laminar-storage, their names and keys. With Spring Boot's observation
 * support each becomes a span (with a tracer on the classpath) and a timer of the same name (with
 * a meter registry): {@code laminar.storage.checkpoint} and {@code laminar.storage.checkpoint.step}
 * in Prometheus as {@code laminar_storage_checkpoint_seconds_*} and
 * {@code laminar_storage_checkpoint_step_seconds_*}. Low-cardinality keys become metric tags and span
 * tags; high-cardinality keys only span tags.
 */
public enum LaminarStorageObservationDocumentation implements ObservationDocumentation {

    /**
     * One checkpoint, from its start to its publication and cleanup; the parent of its steps. On
     * the {@code laminar-checkpoint} thread.
     */
    CHECKPOINT {
        @Override
        public String getName() {
            return "laminar.storage.checkpoint";
        }

        @Override
        public String getContextualName() {
            return "checkpoint";
        }

        @Override
        public KeyName[] getLowCardinalityKeyNames() {
            return new KeyName[] {CheckpointKeys.OUTCOME, CheckpointKeys.STORE};
        }

        @Override
        public KeyName[] getHighCardinalityKeyNames() {
            return new KeyName[] {CheckpointKeys.CHECKPOINT_ID, CheckpointKeys.WRITTEN_BYTES};
        }
    },

    /**
     * A step of a checkpoint, a child of {@link #CHECKPOINT}: {@code barrier} (the epoch advances,
     * every core places its aligned barrier and takes its O(1) snapshot of its state, the barriers
     * are fsynced: the snapshot is part of this step, at each core's barrier), {@code upload}
     * (the state files are written to the store), {@code publish} (the manifest),
     * {@code cleanup} (retention and WAL truncation).
     */
    CHECKPOINT_STEP {
        @Override
        public String getName() {
            return "laminar.storage.checkpoint.step";
        }

        @Override
        public KeyName[] getLowCardinalityKeyNames() {
            return new KeyName[] {CheckpointKeys.STEP, CheckpointKeys.OUTCOME};
        }
    },

    /**
     * The recovery at start: restoring the newest usable checkpoint and replaying the WAL; the
     * parent of its steps. On the thread that starts the runtime (the one refreshing the context).
     */
    RECOVERY {
        @Override
        public String getName() {
            return "laminar.storage.recovery";
        }

        @Override
        public String getContextualName() {
            return "recovery";
        }

        @Override
        public KeyName[] getLowCardinalityKeyNames() {
            return new KeyName[] {RecoveryKeys.OUTCOME, RecoveryKeys.SOURCE};
        }

        @Override
        public KeyName[] getHighCardinalityKeyNames() {
            return new KeyName[] {RecoveryKeys.CHECKPOINT_ID, RecoveryKeys.RECORDS_REPLAYED, RecoveryKeys.SKIPPED};
        }
    },

    /**
     * A step of the recovery, a child of {@link #RECOVERY}: {@code download} (one per checkpoint
     * tried, newest first: its manifest read, its state files downloaded and checked; outcome
     * {@code restored} or {@code skipped}) and {@code replay} (the WAL replayed onto it).
     */
    RECOVERY_STEP {
        @Override
        public String getName() {
            return "laminar.storage.recovery.step";
        }

        @Override
        public KeyName[] getLowCardinalityKeyNames() {
            return new KeyName[] {RecoveryKeys.STEP, RecoveryKeys.OUTCOME};
        }

        @Override
        public KeyName[] getHighCardinalityKeyNames() {
            return new KeyName[] {RecoveryKeys.CHECKPOINT_ID};
        }
    };

    /** Keys of the checkpoint observations. */
    public enum CheckpointKeys implements KeyName {

        /** {@code completed} or {@code failed}; of a step also {@code failed} when retention or truncation failed. */
        OUTCOME {
            @Override
            public String asString() {
                return "outcome";
            }
        },

        /** The checkpoint store: {@code filesystem}, {@code s3}, or the simple name of another store class. */
        STORE {
            @Override
            public String asString() {
                return "store";
            }
        },

        /** The step: {@code barrier}, {@code upload}, {@code publish}, {@code cleanup}. */
        STEP {
            @Override
            public String asString() {
                return "step";
            }
        },

        /** The checkpoint's id (high cardinality). */
        CHECKPOINT_ID {
            @Override
            public String asString() {
                return "checkpoint.id";
            }
        },

        /** Bytes of state files the checkpoint wrote (high cardinality). */
        WRITTEN_BYTES {
            @Override
            public String asString() {
                return "checkpoint.written.bytes";
            }
        }
    }

    /** Keys of the recovery observations. */
    public enum RecoveryKeys implements KeyName {

        /** {@code completed} or {@code failed}; of a download step {@code restored} or {@code skipped}. */
        OUTCOME {
            @Override
            public String asString() {
                return "outcome";
            }
        },

        /** What was restored: {@code checkpoint}, {@code adopted-checkpoint} (another WAL's) or {@code wal} (none). */
        SOURCE {
            @Override
            public String asString() {
                return "source";
            }
        },

        /** The step: {@code download} or {@code replay}. */
        STEP {
            @Override
            public String asString() {
                return "step";
            }
        },

        /** The checkpoint restored or tried (high cardinality). */
        CHECKPOINT_ID {
            @Override
            public String asString() {
                return "checkpoint.id";
            }
        },

        /** WAL records replayed (high cardinality). */
        RECORDS_REPLAYED {
            @Override
            public String asString() {
                return "records.replayed";
            }
        },

        /** Newer checkpoints that could not be used (high cardinality). */
        SKIPPED {
            @Override
            public String asString() {
                return "checkpoints.skipped";
            }
        }
    }
}

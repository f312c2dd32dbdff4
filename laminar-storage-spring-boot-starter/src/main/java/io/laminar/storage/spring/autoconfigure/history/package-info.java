/**
 * Auto-configuration of the {@link io.laminar.storage.checkpoint.CheckpointHistory} that the
 * starter's metrics, endpoint and health indicator share, and of the hand-over of the runtime's
 * recovery report to it. Wiring only; depends on the core and the core auto-configuration.
 */
package io.laminar.storage.spring.autoconfigure.history;

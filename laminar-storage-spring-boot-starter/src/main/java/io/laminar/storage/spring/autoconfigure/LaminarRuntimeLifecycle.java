package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.checkpoint.CheckpointListener;
import io.laminar.storage.percore.PerCoreWalListener;
import io.laminar.storage.runtime.LaminarRuntime;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.availability.AvailabilityChangeEvent;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.SmartLifecycle;

/**
 * Starts the {@link LaminarRuntime} with the application context and closes it when the context
 * stops, in a phase that puts recovery before anything takes traffic and the final checkpoint
 * after everything stopped sending work.
 *
 * <h2>Start: recovery before traffic</h2>
 * {@link #start()} adds every {@link CheckpointListener} bean to the runtime, then calls
 * {@link LaminarRuntime#start()}, which recovers every core's state (newest usable checkpoint plus
 * a replay of the write-ahead logs) and only then starts the core threads and the periodic
 * checkpoints. It runs synchronously in phase {@link #PHASE}, below the web server's start phase
 * ({@code WebServerApplicationContext.START_STOP_LIFECYCLE_PHASE}, {@code DEFAULT_PHASE - 2048})
 * and below message listener containers (which use phases near {@code DEFAULT_PHASE}): the HTTP
 * port is not even open, and no listener consumes, until recovery has completed. A recovery that
 * fails fails the startup of the application.
 *
 * <h2>Readiness</h2>
 * This class publishes no readiness change when it starts, on purpose. Recovery runs inside the
 * refresh of the application context, and Spring Boot publishes
 * {@link ReadinessState#ACCEPTING_TRAFFIC} only after the refresh and the runners, so the readiness
 * state is {@link ReadinessState#REFUSING_TRAFFIC} for the whole recovery without anyone saying so,
 * and becomes {@code ACCEPTING_TRAFFIC} only once the runtime takes tasks. Recovering in the
 * background behind an open port instead would let liveness probes through during a long recovery,
 * but would also let requests reach a runtime that refuses tasks; we prefer a closed port. So a
 * platform that probes liveness over HTTP must allow for the longest recovery before its first
 * probe (a Kubernetes startup probe): a recovery takes about the time to read the checkpoint plus
 * to replay the WAL written since it.
 *
 * <h2>A failed write-ahead log refuses traffic</h2>
 * Once the write-ahead log of any core fails (a write or fdatasync threw), that core refuses every
 * change until the application restarts. The lifecycle listens to the WAL
 * ({@link PerCoreWalListener#onFailure}) and then publishes {@link ReadinessState#REFUSING_TRAFFIC},
 * so that the readiness probe ({@code /actuator/health/readiness}, group {@code readiness} with its
 * {@code readinessState} contributor) takes the instance out of the load balancer; the liveness
 * state is left alone: whether to restart is the health indicator's DOWN and the platform's call.
 * The event is published on the WAL's {@code laminar-percore-acks} thread, once per failed core.
 *
 * <h2>Stop: drain, final checkpoint, sync</h2>
 * {@link #stop()} runs in the reverse order, after the web server stopped (and finished its
 * graceful shutdown) and after the listener containers stopped: it publishes
 * {@link ReadinessState#REFUSING_TRAFFIC} (which a closing web application context already did;
 * it matters for a context that is stopped without being closed), then closes the runtime, which
 * refuses new tasks, runs the queued ones, takes a final checkpoint if
 * {@code laminar.storage.checkpoint.final-on-shutdown} is true, and waits until every change is
 * fsynced. The WAL and the checkpoint store are closed afterwards, when their beans are destroyed.
 * The runtime cannot be started again after it stopped.
 *
 * <p>Thread-safety: {@link #start()} and {@link #stop()} are serialized.
 */
public final class LaminarRuntimeLifecycle implements SmartLifecycle {

    /**
     * The phase: starts before, and stops after, the web server ({@code DEFAULT_PHASE - 2048}) and
     * its graceful shutdown ({@code DEFAULT_PHASE - 1024}), with room for the application's own
     * lifecycles in between.
     */
    public static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 4096;

    private static final Logger log = LoggerFactory.getLogger(LaminarRuntimeLifecycle.class);

    private final LaminarRuntime runtime;
    private final ObjectProvider<CheckpointListener> listeners;
    private final ApplicationEventPublisher events;
    private final Object lock = new Object();
    private volatile boolean running;
    private boolean stopped;
    private boolean walWatched;

    /**
     * A lifecycle for {@code runtime}.
     *
     * @param listeners the listener beans, looked up when the runtime starts (not before: a
     *                  listener may depend on the runtime)
     * @param events    where the readiness change on stop is published
     */
    public LaminarRuntimeLifecycle(LaminarRuntime runtime, ObjectProvider<CheckpointListener> listeners,
                                   ApplicationEventPublisher events) {
        this.runtime = Objects.requireNonNull(runtime, "runtime");
        this.listeners = Objects.requireNonNull(listeners, "listeners");
        this.events = Objects.requireNonNull(events, "events");
    }

    @Override
    public void start() {
        synchronized (this.lock) {
            if (this.running) {
                return;
            }
            if (this.stopped) {
                throw new IllegalStateException("the laminar-storage runtime over " + this.runtime.wal().directory()
                        + " was stopped and cannot start again; restart the application instead");
            }
            this.listeners.orderedStream().forEach(this.runtime::addCheckpointListener);
            if (!this.walWatched) {
                this.walWatched = true;
                this.runtime.wal().addListener(new PerCoreWalListener() {
                    @Override
                    public void onFailure(int core, Throwable cause) {
                        log.error("the write-ahead log of core {} failed ({}): readiness now refuses traffic; "
                                + "restart the application to recover what is durable", core, cause.toString());
                        AvailabilityChangeEvent.publish(LaminarRuntimeLifecycle.this.events,
                                LaminarRuntimeLifecycle.this, ReadinessState.REFUSING_TRAFFIC);
                    }
                });
            }
            if (this.runtime.isRunning()) {
                log.info("the laminar-storage runtime over {} was already started", this.runtime.wal().directory());
            } else {
                log.info("recovering the state of {} cores from {} and {} before taking traffic",
                        this.runtime.cores(), this.runtime.wal().directory(), this.runtime.store());
                this.runtime.start();
            }
            this.running = true;
        }
    }

    @Override
    public void stop() {
        synchronized (this.lock) {
            if (!this.running) {
                return;
            }
            this.running = false;
            this.stopped = true;
            AvailabilityChangeEvent.publish(this.events, this, ReadinessState.REFUSING_TRAFFIC);
            this.runtime.close();
        }
    }

    @Override
    public boolean isRunning() {
        return this.running;
    }

    @Override
    public int getPhase() {
        return PHASE;
    }

    @Override
    public boolean isAutoStartup() {
        return true;
    }
}

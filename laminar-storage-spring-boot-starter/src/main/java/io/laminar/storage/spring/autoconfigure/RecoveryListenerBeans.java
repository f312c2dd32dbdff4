package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.checkpoint.RecoveryListener;
import io.laminar.storage.checkpoint.RecoveryProgress;
import io.laminar.storage.checkpoint.RecoveryReport;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;

/**
 * The runtime's recovery listener, backed by the application's {@link RecoveryListener} beans (any
 * number, in order), looked up when the recovery starts, not when the runtime is built (a listener
 * may depend on the runtime). Called on the thread that starts the runtime; an exception a bean
 * throws is logged and the others still hear the event.
 */
final class RecoveryListenerBeans implements RecoveryListener {

    private static final Logger log = LoggerFactory.getLogger(RecoveryListenerBeans.class);

    private final ObjectProvider<RecoveryListener> beans;
    private volatile List<RecoveryListener> listeners = List.of();

    RecoveryListenerBeans(ObjectProvider<RecoveryListener> beans) {
        this.beans = beans;
    }

    @Override
    public void started() {
        listeners = beans.orderedStream().toList();
        each(RecoveryListener::started);
    }

    @Override
    public void restoreStarted(long checkpointId) {
        each(l -> l.restoreStarted(checkpointId));
    }

    @Override
    public void restoreEnded(long checkpointId, String skipReason) {
        each(l -> l.restoreEnded(checkpointId, skipReason));
    }

    @Override
    public void replayStarted(Long checkpointId) {
        each(l -> l.replayStarted(checkpointId));
    }

    @Override
    public void progress(RecoveryProgress progress) {
        each(l -> l.progress(progress));
    }

    @Override
    public void replayEnded(long records, long bytes) {
        each(l -> l.replayEnded(records, bytes));
    }

    @Override
    public void completed(RecoveryReport report) {
        each(l -> l.completed(report));
    }

    @Override
    public void failed(Throwable cause) {
        each(l -> l.failed(cause));
    }

    private void each(Consumer<RecoveryListener> call) {
        for (var listener : listeners) {
            try {
                call.accept(listener);
            } catch (RuntimeException e) {
                log.warn("recovery listener {} threw", listener, e);
            }
        }
    }
}

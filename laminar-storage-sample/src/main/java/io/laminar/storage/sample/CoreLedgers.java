package io.laminar.storage.sample;

import io.laminar.storage.runtime.CoreContext;
import io.laminar.storage.runtime.CoreInitializer;
import io.laminar.storage.spring.autoconfigure.LaminarStorageProperties;
import java.util.concurrent.ConcurrentHashMap;
import org.springframework.stereotype.Component;

/**
 * The {@link CoreLedger} of every core, and the runtime's {@link CoreInitializer} that makes them:
 * after recovery, on each core's thread, before the core runs any task (the starter hands every
 * {@code CoreInitializer} bean to the runtime).
 *
 * <p>It does not depend on the runtime (the runtime depends on it, through the starter).
 * Thread-safe; each ledger is used only on its core's thread.
 */
@Component
final class CoreLedgers implements CoreInitializer {

    private final ConcurrentHashMap<Integer, CoreLedger> ledgers = new ConcurrentHashMap<>();
    private final int keyGroups;

    /** @param properties the storage's properties: the batch markers are kept by its key groups */
    CoreLedgers(LaminarStorageProperties properties) {
        this.keyGroups = properties.getKeyGroups();
    }

    @Override
    public void initialize(CoreContext context) {
        ledgers.put(context.core(), CoreLedger.recover(context, keyGroups));
    }

    /** The ledger of the core a task runs on; call from within that task only. */
    CoreLedger on(CoreContext context) {
        var ledger = ledgers.get(context.core());
        if (ledger == null) {
            throw new IllegalStateException("core " + context.core() + " runs a task but its ledger was not "
                    + "recovered: the runtime did not run the CoreLedgers initializer (did a LaminarRuntimeCustomizer "
                    + "replace the runtime's onRecovered hook?)");
        }
        return ledger;
    }
}

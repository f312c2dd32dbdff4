package io.laminar.storage.spring.autoconfigure;

import io.laminar.storage.changelog.CutContext;
import io.laminar.storage.runtime.CoreContext;
import io.laminar.storage.runtime.CoreInitializer;
import io.laminar.storage.runtime.CutContextProvider;
import io.laminar.storage.state.StateStore;
import java.util.List;
import org.springframework.beans.factory.ObjectProvider;

/**
 * The runtime's cut context and recovery hook, backed by the application's
 * {@link CutContextProvider} bean (at most one) and {@link CoreInitializer} beans (any number, run
 * in order).
 *
 * <p>The beans are looked up when the runtime starts, not when it is built: the component that
 * reports source offsets at the cut is usually the one that submits tasks to the runtime, so it
 * depends on the runtime bean, and looking it up while the runtime bean is created would be a
 * dependency cycle. The lookup happens in {@link #initialize} on the first core (so that two
 * {@code CutContextProvider} beans fail the start, naming the problem), or at the first cut if a
 * customizer replaced the initializer.
 *
 * <p>Thread-safe: core threads call both methods concurrently; each lookup happens once.
 */
final class RuntimeHookBeans implements CutContextProvider, CoreInitializer {

    private final ObjectProvider<CutContextProvider> cutContextProviders;
    private final ObjectProvider<CoreInitializer> coreInitializers;
    private volatile CutContextProvider cutContext;
    private volatile List<CoreInitializer> initializers;

    RuntimeHookBeans(ObjectProvider<CutContextProvider> cutContextProviders,
                     ObjectProvider<CoreInitializer> coreInitializers) {
        this.cutContextProviders = cutContextProviders;
        this.coreInitializers = coreInitializers;
    }

    @Override
    public void initialize(CoreContext context) throws Exception {
        cutContextProvider();
        for (var initializer : initializers()) {
            initializer.initialize(context);
        }
    }

    @Override
    public CutContext cutContext(int core, StateStore store) {
        return cutContextProvider().cutContext(core, store);
    }

    private CutContextProvider cutContextProvider() {
        var provider = this.cutContext;
        if (provider == null) {
            synchronized (this) {
                provider = this.cutContext;
                if (provider == null) {
                    var beans = this.cutContextProviders.orderedStream().toList();
                    if (beans.size() > 1) {
                        throw new IllegalStateException("Found " + beans.size() + " CutContextProvider beans ("
                                + beans + "), but each core reports one cut context: define a single one that "
                                + "combines them, or set it with a LaminarRuntimeCustomizer");
                    }
                    provider = beans.isEmpty() ? CutContextProvider.NONE : beans.get(0);
                    this.cutContext = provider;
                }
            }
        }
        return provider;
    }

    private List<CoreInitializer> initializers() {
        var list = this.initializers;
        if (list == null) {
            synchronized (this) {
                list = this.initializers;
                if (list == null) {
                    list = this.coreInitializers.orderedStream().toList();
                    this.initializers = list;
                }
            }
        }
        return list;
    }
}

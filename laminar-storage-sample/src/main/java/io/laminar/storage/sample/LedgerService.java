package io.laminar.storage.sample;

import io.laminar.storage.runtime.LaminarRuntime;
import io.laminar.storage.sample.CoreLedger.PartOutcome;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.springframework.stereotype.Service;

/**
 * Applies batches exactly once and reads balances and totals, over the runtime's cores.
 *
 * <h2>A batch</h2>
 * The batch is split by core ({@link Batch#parts}); the core that owns the batch id
 * ({@code coreOf(batchId)}) always gets a part, which records the batch as applied. The owner's
 * part runs first: if the owner holds the id for other events, the request is refused (409) before
 * anything changes. Then every other part runs on its core, and the reply waits until every part
 * is durable. A crash or a refused change (a full changelog queue) anywhere in between leaves some
 * parts applied, and the others not (a part cut halfway is finished by recovery, or by the next
 * part on its core, see {@link CoreLedger}); sending the batch again applies exactly the missing
 * parts, since each core skips a part it has a marker for.
 *
 * <p>Reads run as durable tasks too: an answer never shows a change that a crash could still take
 * back.
 *
 * <p>Thread-safe. Calls block only while a core's task queue is full, and to wait for the owner's
 * part to run (not for it to be durable).
 */
@Service
final class LedgerService {

    private final LaminarRuntime runtime;
    private final CoreLedgers ledgers;

    LedgerService(LaminarRuntime runtime, CoreLedgers ledgers) {
        this.runtime = runtime;
        this.ledgers = ledgers;
    }

    /**
     * Applies {@code batch} unless it was applied before. The future completes once every part is
     * durable, with whether this call applied any part; exceptionally with a
     * {@link BatchConflictException} if the id is taken by other events, or with the runtime's
     * failure (the batch may then be partly applied: send it again).
     */
    CompletableFuture<Boolean> ingest(Batch batch) {
        int owner = runtime.coreOf(batch.id().getBytes(StandardCharsets.UTF_8));
        var parts = batch.parts(runtime::coreOf, owner);
        var ownerRan = new CompletableFuture<PartOutcome>();
        var ownerDurable = runtime.submitDurable(owner, context -> {
            try {
                var outcome = ledgers.on(context).applyPart(parts.get(owner));
                ownerRan.complete(outcome);
                return outcome;
            } catch (RuntimeException e) {
                ownerRan.completeExceptionally(e);
                throw e;
            }
        });
        ownerDurable.whenComplete((outcome, failure) -> {
            if (failure != null) {
                ownerRan.completeExceptionally(failure); // refused before running: nothing else would complete it
            }
        });
        PartOutcome ownerOutcome;
        try {
            // Only until the owner's part has run in memory (microseconds), not until it is durable.
            ownerOutcome = ownerRan.join();
        } catch (CompletionException e) {
            return CompletableFuture.failedFuture(e.getCause());
        }
        if (ownerOutcome == PartOutcome.CONFLICT) {
            return CompletableFuture.failedFuture(new BatchConflictException("batch '" + batch.id()
                    + "' was applied before with other events; nothing of this request was applied. "
                    + "Give each batch its own id"));
        }
        var cores = new ArrayList<Integer>();
        var outcomes = new ArrayList<CompletableFuture<PartOutcome>>();
        cores.add(owner);
        outcomes.add(ownerDurable);
        parts.forEach((core, part) -> {
            if (core != owner) {
                cores.add(core);
                outcomes.add(runtime.submitDurable(core, context -> ledgers.on(context).applyPart(part)));
            }
        });
        return CompletableFuture.allOf(outcomes.toArray(CompletableFuture[]::new)).thenApply(done -> {
            boolean applied = false;
            var conflicting = new ArrayList<Integer>();
            for (int i = 0; i < outcomes.size(); i++) {
                var outcome = outcomes.get(i).join();
                applied |= outcome == PartOutcome.APPLIED;
                if (outcome == PartOutcome.CONFLICT) {
                    conflicting.add(cores.get(i));
                }
            }
            if (!conflicting.isEmpty()) {
                // Only possible when a crash lost the owner's marker of the earlier batch but not all its parts.
                throw new BatchConflictException("batch '" + batch.id() + "' reuses the id of an earlier batch "
                        + "with other events, whose parts on cores " + conflicting + " were kept; the parts of "
                        + "this batch on the other cores " + without(cores, conflicting) + " are applied. Give "
                        + "each batch its own id");
            }
            return applied;
        });
    }

    private static List<Integer> without(List<Integer> all, List<Integer> some) {
        var rest = new ArrayList<>(all);
        rest.removeAll(some);
        return rest;
    }

    /** The account of {@code key}, once durable; empty if the key has none. */
    CompletableFuture<Optional<Account>> account(String key) {
        int core = runtime.coreOf(key.getBytes(StandardCharsets.UTF_8));
        return runtime.submitDurable(core, context -> Optional.ofNullable(ledgers.on(context).account(key)));
    }

    /** The totals over every core, once durable. */
    CompletableFuture<Totals> summary() {
        var perCore = new ArrayList<CompletableFuture<Totals>>();
        for (int core = 0; core < runtime.cores(); core++) {
            perCore.add(runtime.submitDurable(core, context -> ledgers.on(context).totals()));
        }
        return CompletableFuture.allOf(perCore.toArray(CompletableFuture[]::new))
                .thenApply(done -> perCore.stream().map(CompletableFuture::join).reduce(Totals.ZERO, Totals::plus));
    }

    /** Whether the runtime takes tasks (false while starting or after shutdown began). */
    boolean isRunning() {
        return runtime.isRunning();
    }
}

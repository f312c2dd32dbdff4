package io.laminar.storage.sample;

import java.math.BigInteger;
import java.util.concurrent.CompletableFuture;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import tools.jackson.databind.JsonNode;

/**
 * The HTTP API: {@code POST /api/events}, {@code GET /api/balances/{key}}, {@code GET /api/summary}
 * and {@code GET /api/source}. Errors are RFC 9457 problem details ({@link ApiExceptionHandler}).
 * Answers are asynchronous: a request thread is not held while the WAL syncs.
 */
@RestController
@RequestMapping("/api")
final class EventsController {

    private final LedgerService ledger;
    private final FileEventSource source;

    EventsController(LedgerService ledger, FileEventSource source) {
        this.ledger = ledger;
        this.source = source;
    }

    /** The answer to a batch: whether this request applied it (false: it was applied before). */
    record IngestResponse(String batchId, boolean applied) {
    }

    /** The answer about one key. */
    record BalanceResponse(String key, BigInteger balance, long events) {
    }

    /** The answer about all keys. */
    record SummaryResponse(long keys, long events, BigInteger sum, long batches) {
    }

    /** Applies a batch exactly once; answers only once it is durable. */
    @PostMapping("/events")
    CompletableFuture<IngestResponse> ingest(@RequestBody JsonNode body) {
        var batch = Batch.parse(body);
        return ledger.ingest(batch).thenApply(applied -> new IngestResponse(batch.id(), applied));
    }

    @GetMapping("/balances/{key}")
    CompletableFuture<ResponseEntity<?>> balance(@PathVariable("key") String key) {
        return ledger.account(key).thenApply(account -> account
                .<ResponseEntity<?>>map(a -> ResponseEntity.ok(new BalanceResponse(key, a.balance(), a.events())))
                .orElseGet(() -> ResponseEntity.status(HttpStatus.NOT_FOUND).body(
                        ProblemDetail.forStatusAndDetail(HttpStatus.NOT_FOUND, "no event was applied to key '"
                                + key + "'"))));
    }

    @GetMapping("/summary")
    CompletableFuture<SummaryResponse> summary() {
        return ledger.summary().thenApply(t -> new SummaryResponse(t.keys(), t.events(), t.sum(), t.batches()));
    }

    /** Where the file source stands (in memory; the durable position is in the checkpoints). */
    @GetMapping("/source")
    FileEventSource.Status source() {
        return source.status();
    }
}

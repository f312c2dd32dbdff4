package io.laminar.storage.sample;

import io.laminar.storage.StorageException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import tools.jackson.core.JacksonException;

/**
 * Turns the API's failures into problem details: 400 for input the sample refuses (nothing was
 * applied), 409 for a batch id reused with other events, 503 when the runtime does not run, the WAL
 * failed or a change was refused (a full changelog queue with
 * {@code laminar.storage.changelog.overflow-policy=fail}); the batch may then be partly applied,
 * and sending it again applies exactly the missing keys on each core (see {@link CoreLedger}).
 * 500 otherwise.
 */
@RestControllerAdvice(assignableTypes = EventsController.class)
final class ApiExceptionHandler {

    private static final Logger log = LoggerFactory.getLogger(ApiExceptionHandler.class);

    private final LedgerService ledger;

    ApiExceptionHandler(LedgerService ledger) {
        this.ledger = ledger;
    }

    @ExceptionHandler(InvalidInputException.class)
    ProblemDetail invalid(InvalidInputException e) {
        return ProblemDetail.forStatusAndDetail(HttpStatus.BAD_REQUEST, e.getMessage());
    }

    @ExceptionHandler(HttpMessageNotReadableException.class)
    ProblemDetail unreadable(HttpMessageNotReadableException e) {
        String problem = e.getMessage();
        if (e.getMostSpecificCause() instanceof JacksonException json) {
            var at = json.getLocation();
            problem = json.getOriginalMessage() + (at == null || at.getLineNr() < 0 ? ""
                    : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")");
        }
        return ProblemDetail.forStatusAndDetail(HttpStatus.BAD_REQUEST, "the body is not valid JSON: " + problem);
    }

    @ExceptionHandler(BatchConflictException.class)
    ProblemDetail conflict(BatchConflictException e) {
        return ProblemDetail.forStatusAndDetail(HttpStatus.CONFLICT, e.getMessage());
    }

    /** A failure that completed an answer's future, or one thrown before it. */
    @ExceptionHandler({CompletionException.class, ExecutionException.class, StorageException.class,
            IllegalStateException.class})
    ProblemDetail failed(Exception e) {
        Throwable cause = e;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof InvalidInputException invalid) {
            return invalid(invalid);
        }
        if (cause instanceof BatchConflictException conflict) {
            return conflict(conflict);
        }
        if (cause instanceof StorageException || !ledger.isRunning()) {
            log.warn("answering 503: {}", cause.toString());
            return ProblemDetail.forStatusAndDetail(HttpStatus.SERVICE_UNAVAILABLE, "the change was refused or could "
                    + "not be made durable (" + cause.getMessage() + "); the batch may be partly applied: send it "
                    + "again, and the retry applies exactly what is missing");
        }
        log.error("answering 500", cause);
        return ProblemDetail.forStatusAndDetail(HttpStatus.INTERNAL_SERVER_ERROR, cause.toString());
    }
}

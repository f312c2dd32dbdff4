package io.laminar.storage.cli;

/**
 * A problem the person at the terminal can act on (a missing directory, a store that cannot be
 * read, ...): printed as one or two lines without a stack trace, exit code
 * {@link LaminarCli#EXIT_ERROR} unless stated otherwise.
 */
final class CliException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final int exitCode;

    CliException(String message) {
        this(message, LaminarCli.EXIT_ERROR, null);
    }

    CliException(String message, Throwable cause) {
        this(message, LaminarCli.EXIT_ERROR, cause);
    }

    CliException(String message, int exitCode, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    int exitCode() {
        return exitCode;
    }
}

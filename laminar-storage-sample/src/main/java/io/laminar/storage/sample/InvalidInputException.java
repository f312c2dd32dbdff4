package io.laminar.storage.sample;

/** Input the sample refuses, with a message for the client (answered with HTTP 400). */
final class InvalidInputException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    InvalidInputException(String message) {
        super(message);
    }
}

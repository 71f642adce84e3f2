package dev.twofour.server;

/** The engine's waiting queue is full; the request may be retried after {@link #retryAfterSeconds()}. */
public final class EngineBusyException extends Exception {
    private final int retryAfterSeconds;

    public EngineBusyException(String message, int retryAfterSeconds) {
        super(message);
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public int retryAfterSeconds() {
        return retryAfterSeconds;
    }
}

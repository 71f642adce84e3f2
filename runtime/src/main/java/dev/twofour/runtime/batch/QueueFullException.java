package dev.twofour.runtime.batch;

/** The scheduler's waiting queue is full; retry later. */
public final class QueueFullException extends Exception {
    public QueueFullException(String message) {
        super(message);
    }
}

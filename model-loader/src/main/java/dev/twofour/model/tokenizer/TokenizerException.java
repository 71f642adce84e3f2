package dev.twofour.model.tokenizer;

/** A tokenizer or chat template that cannot be loaded or used; the message says which file and what is wrong. */
public class TokenizerException extends RuntimeException {
    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}

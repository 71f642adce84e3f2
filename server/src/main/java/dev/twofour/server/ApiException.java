package dev.twofour.server;

/**
 * A request that is answered with an OpenAI-style error body
 * {@code {"error": {"message", "type", "param", "code"}}} and the given HTTP status.
 */
final class ApiException extends Exception {
    final int status;
    final String type;
    final String param;
    final String code;
    final int retryAfterSeconds;

    ApiException(int status, String type, String param, String code, String message, int retryAfterSeconds) {
        super(message, null, false, false); // no stack trace: these are expected answers, not bugs
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    static ApiException invalid(String param, String message) {
        return new ApiException(400, "invalid_request_error", param, null, message, 0);
    }

    static ApiException invalid(String param, String code, String message) {
        return new ApiException(400, "invalid_request_error", param, code, message, 0);
    }

    static ApiException notFound(String param, String code, String message) {
        return new ApiException(404, "invalid_request_error", param, code, message, 0);
    }

    static ApiException tooLarge(String param, String code, String message) {
        return new ApiException(413, "invalid_request_error", param, code, message, 0);
    }

    static ApiException unauthorized(String message) {
        return new ApiException(401, "invalid_request_error", null, "invalid_api_key", message, 0);
    }

    static ApiException methodNotAllowed(String method, String path, String allowed) {
        return new ApiException(405, "invalid_request_error", null, "method_not_allowed",
                method + " is not supported on " + path + "; use " + allowed, 0);
    }

    static ApiException busy(String message, int retryAfterSeconds) {
        return new ApiException(429, "rate_limit_error", null, "queue_full", message, retryAfterSeconds);
    }

    static ApiException unavailable(String message) {
        return new ApiException(503, "server_error", null, "unavailable", message, 1);
    }
}

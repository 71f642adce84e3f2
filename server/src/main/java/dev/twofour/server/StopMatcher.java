package dev.twofour.server;

import java.util.List;

/**
 * Finds stop strings in streamed text. Text that could still turn out to be the start of a
 * stop string is held back until the next piece decides it, so no part of a stop string is
 * ever sent to the client.
 */
final class StopMatcher {
    private final List<String> stops;
    private final StringBuilder pending = new StringBuilder();
    private boolean stopped;

    StopMatcher(List<String> stops) {
        this.stops = stops;
    }

    /** Adds generated text; returns the text that is safe to send now (up to the stop string once one matched). */
    String push(String text) {
        if (stopped) return "";
        pending.append(text);
        if (stops.isEmpty()) return take(pending.length());
        int earliest = -1;
        for (String s : stops) {
            int i = pending.indexOf(s);
            if (i >= 0 && (earliest < 0 || i < earliest)) earliest = i;
        }
        if (earliest >= 0) {
            stopped = true;
            String out = pending.substring(0, earliest);
            pending.setLength(0);
            return out;
        }
        return take(pending.length() - longestStopPrefixSuffix());
    }

    /** Text still held back at the end of the generation (it did not complete a stop string). */
    String flush() {
        return stopped ? "" : take(pending.length());
    }

    /** True once a stop string matched; the generation should end with finish_reason "stop". */
    boolean stopped() {
        return stopped;
    }

    /** Length of the longest suffix of {@code pending} that is a proper prefix of some stop string. */
    private int longestStopPrefixSuffix() {
        String p = pending.toString();
        int best = 0;
        for (String s : stops) {
            int max = Math.min(s.length() - 1, p.length());
            for (int len = max; len > best; len--) {
                if (p.regionMatches(p.length() - len, s, 0, len)) {
                    best = len;
                    break;
                }
            }
        }
        return best;
    }

    private String take(int n) {
        String out = pending.substring(0, n);
        pending.delete(0, n);
        return out;
    }
}

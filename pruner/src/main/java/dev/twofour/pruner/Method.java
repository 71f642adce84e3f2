package dev.twofour.pruner;

import java.util.Locale;

/** The 2:4 pruning methods. */
public enum Method {
    MAGNITUDE, WANDA, SPARSEGPT, PROX;

    /** Lower-case name as used on the command line and in reports. */
    public String id() { return name().toLowerCase(Locale.ROOT); }

    public static Method parse(String s) {
        for (Method m : values()) if (m.id().equalsIgnoreCase(s.trim())) return m;
        throw new IllegalArgumentException("unknown pruning method '" + s + "'; use one of prox, sparsegpt, wanda, magnitude");
    }
}

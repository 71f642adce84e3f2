package dev.twofour.runtime.cuda;

import java.util.Locale;

/**
 * Whether {@link CudaModel#load} runs a checkpoint's linear layers through the 2:4 kernels.
 * <ul>
 *   <li>{@link #AUTO}: every fused linear layer (qkv, o, gate_up, down of each block) whose weights are 2:4 is packed
 *       and runs 2:4; the others stay dense (a dense checkpoint simply loads dense);</li>
 *   <li>{@link #ON}: every linear layer must be 2:4, else loading fails and says which weight is not;</li>
 *   <li>{@link #OFF}: every linear layer dense (the baseline), without looking at the weights.</li>
 * </ul>
 */
public enum SparseMode {
    AUTO, ON, OFF;

    /** "auto", "on" or "off" (any case). */
    public static SparseMode parse(String s) {
        if (s != null) {
            switch (s.strip().toLowerCase(Locale.ROOT)) {
                case "auto": return AUTO;
                case "on": return ON;
                case "off": return OFF;
                default: break;
            }
        }
        throw new IllegalArgumentException("sparse mode must be auto, on or off, got '" + s + "'");
    }

    /** "auto", "on" or "off". */
    public String label() { return name().toLowerCase(Locale.ROOT); }
}

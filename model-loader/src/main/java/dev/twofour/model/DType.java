package dev.twofour.model;

import java.util.Locale;

/**
 * Element types of safetensors files. F32, F16 and BF16 are the compute types; the others are
 * read (headers, sizes, raw bytes) so that any checkpoint opens, and rejected where math is needed.
 */
public enum DType {
    F64(8, "F64"),
    F32(4, "F32"),
    F16(2, "F16"),
    BF16(2, "BF16"),
    I64(8, "I64"),
    I32(4, "I32"),
    I16(2, "I16"),
    I8(1, "I8"),
    U8(1, "U8"),
    BOOL(1, "BOOL");

    private final int byteSize;
    private final String safetensorsName;

    DType(int byteSize, String safetensorsName) {
        this.byteSize = byteSize;
        this.safetensorsName = safetensorsName;
    }

    /** Bytes per element. */
    public int byteSize() { return byteSize; }

    /** The dtype string used in safetensors headers ("F16", "BF16", ...). */
    public String safetensorsName() { return safetensorsName; }

    /** True for F32, F16 and BF16: the types the runtime computes with. */
    public boolean isComputeType() { return this == F32 || this == F16 || this == BF16; }

    public boolean isFloatingPoint() { return this == F64 || isComputeType(); }

    /** The safetensors dtype for a header string, or null when it is not one we know. */
    public static DType fromSafetensorsName(String name) {
        if (name == null) return null;
        for (DType t : values()) if (t.safetensorsName.equals(name)) return t;
        return null;
    }

    /**
     * The dtype for a Hugging Face config value ("float16", "bfloat16", "float32", also with a
     * "torch." prefix), or null when it is not one of those.
     */
    public static DType fromTorchName(String name) {
        if (name == null) return null;
        String n = name.toLowerCase(Locale.ROOT);
        if (n.startsWith("torch.")) n = n.substring("torch.".length());
        return switch (n) {
            case "float16", "half", "fp16" -> F16;
            case "bfloat16", "bf16" -> BF16;
            case "float32", "float", "fp32" -> F32;
            case "float64", "double" -> F64;
            default -> null;
        };
    }

    /** The name Hugging Face configs use for this type ("float16", ...). */
    public String torchName() {
        return switch (this) {
            case F64 -> "float64";
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            case I64 -> "int64";
            case I32 -> "int32";
            case I16 -> "int16";
            case I8 -> "int8";
            case U8 -> "uint8";
            case BOOL -> "bool";
        };
    }
}

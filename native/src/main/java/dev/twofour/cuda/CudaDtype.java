package dev.twofour.cuda;

/** Element types the CUDA libraries are asked to read and write, with their cudaDataType values. */
public enum CudaDtype {
    F32(0, 4),   // CUDA_R_32F
    F16(2, 2),   // CUDA_R_16F
    BF16(14, 2); // CUDA_R_16BF

    private final int cudaDataType;
    private final int byteSize;

    CudaDtype(int cudaDataType, int byteSize) {
        this.cudaDataType = cudaDataType;
        this.byteSize = byteSize;
    }

    /** The value of library_types.h's cudaDataType for this type. */
    public int cudaDataType() { return cudaDataType; }

    public int byteSize() { return byteSize; }

    /** "fp16", "f16", "float16", "half", "bf16", "bfloat16", "fp32", "f32", "float32", "float" (any case). */
    public static CudaDtype parse(String s) {
        return switch (s.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "fp16", "f16", "float16", "half" -> F16;
            case "bf16", "bfloat16" -> BF16;
            case "fp32", "f32", "float32", "float" -> F32;
            default -> throw new IllegalArgumentException("unknown dtype '" + s + "': use fp16, bf16 or fp32");
        };
    }
}

package dev.twofour.kernels;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.DeviceBuffer;

/** Argument checks shared by the launchers: every message names the argument and what to do. */
final class Launch {
    private Launch() {}

    static void requireBytes(DeviceBuffer b, long bytes, String what) {
        if (b == null) throw new IllegalArgumentException(what + " is null");
        if (bytes > b.bytes()) {
            throw new IllegalArgumentException(what + " needs " + bytes + " bytes but the buffer has " + b.bytes()
                    + "; allocate a larger buffer or pass a smaller count");
        }
    }

    static void requireHalf(CudaDtype dtype, String kernel) {
        if (dtype != CudaDtype.F16 && dtype != CudaDtype.BF16) {
            throw new IllegalArgumentException(kernel + " supports fp16 and bf16, not " + dtype);
        }
    }

    static String suffix(CudaDtype dtype) {
        return switch (dtype) {
            case F32 -> "f32";
            case F16 -> "f16";
            case BF16 -> "bf16";
        };
    }
}

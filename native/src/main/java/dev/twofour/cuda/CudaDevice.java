package dev.twofour.cuda;

import java.util.HexFormat;

/** One GPU. Queries go to the driver each time (they are cheap); no context is needed. */
public final class CudaDevice {

    /** A few CUdevice_attribute values (cuda.h), for {@link #attribute(int)}. */
    public static final int ATTR_MAX_THREADS_PER_BLOCK = 1;
    public static final int ATTR_WARP_SIZE = 10;
    public static final int ATTR_CLOCK_RATE_KHZ = 13;
    public static final int ATTR_MULTIPROCESSOR_COUNT = 16;
    public static final int ATTR_PCI_BUS_ID = 33;
    public static final int ATTR_MEMORY_CLOCK_RATE_KHZ = 36;
    public static final int ATTR_GLOBAL_MEMORY_BUS_WIDTH = 37;
    public static final int ATTR_L2_CACHE_SIZE = 38;
    public static final int ATTR_COMPUTE_CAPABILITY_MAJOR = 75;
    public static final int ATTR_COMPUTE_CAPABILITY_MINOR = 76;
    public static final int ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;

    /** Compute capability, e.g. 9.0 for the H100. */
    public record ComputeCapability(int major, int minor) {
        /** 90 for 9.0, as in sm_90. */
        public int asInt() { return major * 10 + minor; }
        @Override public String toString() { return major + "." + minor; }
    }

    private final int ordinal;
    private final int handle;

    CudaDevice(int ordinal, int handle) {
        this.ordinal = ordinal;
        this.handle = handle;
    }

    public int ordinal() { return ordinal; }

    /** The CUdevice value. */
    public int handle() { return handle; }

    public String name() { return Driver.deviceName(handle); }

    public ComputeCapability computeCapability() {
        return new ComputeCapability(attribute(ATTR_COMPUTE_CAPABILITY_MAJOR), attribute(ATTR_COMPUTE_CAPABILITY_MINOR));
    }

    /** Total device memory in bytes. */
    public long totalMemory() { return Driver.deviceTotalMem(handle); }

    /** The UUID as nvidia-smi prints it: GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx. */
    public String uuid() {
        String hex = HexFormat.of().formatHex(Driver.deviceUuid(handle));
        return "GPU-" + hex.substring(0, 8) + "-" + hex.substring(8, 12) + "-" + hex.substring(12, 16) + "-"
                + hex.substring(16, 20) + "-" + hex.substring(20);
    }

    public int multiprocessorCount() { return attribute(ATTR_MULTIPROCESSOR_COUNT); }

    /** Any CUdevice_attribute value (see cuda.h; the ATTR_ constants name a few). */
    public int attribute(int cuDeviceAttribute) { return Driver.deviceAttribute(cuDeviceAttribute, handle); }

    @Override public String toString() { return "GPU " + ordinal; }
}

package dev.twofour.cuda;

/**
 * Entry point: is CUDA usable here, and what is there. "Usable" means the driver library loads,
 * cuInit succeeds, at least one GPU is visible and cuBLAS is installed. The answer is computed once
 * per JVM. Setting the system property {@code twofour.cuda=off} makes CUDA unavailable on purpose
 * (for tests of the CPU fallback on a GPU machine).
 */
public final class Cuda {
    private Cuda() {}

    private record State(boolean available, String reason, int deviceCount) {}

    private static volatile State state;

    private static State state() {
        State s = state;
        if (s == null) {
            synchronized (Cuda.class) {
                s = state;
                if (s == null) state = s = probe();
            }
        }
        return s;
    }

    private static State probe() {
        if ("off".equalsIgnoreCase(System.getProperty("twofour.cuda", ""))) {
            return new State(false, "CUDA disabled by -Dtwofour.cuda=off", 0);
        }
        CudaLibraries libs = CudaLibraries.system();
        if (libs.find(CudaLibraries.Kind.DRIVER).isEmpty()) {
            return new State(false, "no NVIDIA driver library: " + libs.describeSearch(CudaLibraries.Kind.DRIVER), 0);
        }
        int rc;
        int[] count = new int[1];
        try {
            NativeSupport.load(CudaLibraries.Kind.DRIVER);
            rc = Driver.init();
            if (rc == 0) rc = Driver.deviceCount(count);
        } catch (CudaException e) {
            return new State(false, e.getMessage(), 0);
        } catch (ExceptionInInitializerError e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            return new State(false, "the CUDA driver library could not be bound: " + c.getMessage(), 0);
        } catch (LinkageError | RuntimeException e) {
            return new State(false, "the CUDA driver library could not be used: " + e, 0);
        }
        if (rc != 0) {
            String name = StatusNames.name(CudaException.Library.DRIVER, rc);
            return new State(false, "cuInit failed with " + name + " (" + rc + ")"
                    + (rc == 100 ? ": the driver sees no GPU" : ""), 0);
        }
        if (count[0] == 0) return new State(false, "the NVIDIA driver sees no GPU", 0);
        if (libs.find(CudaLibraries.Kind.CUBLAS).isEmpty()) {
            return new State(false, "GPU found but no cuBLAS: " + libs.describeSearch(CudaLibraries.Kind.CUBLAS), count[0]);
        }
        return new State(true, null, count[0]);
    }

    /** True when a GPU, the driver and cuBLAS can be used. Never throws. */
    public static boolean isAvailable() {
        return state().available();
    }

    /** Why CUDA cannot be used (one line: what was searched or what failed); null when it can. */
    public static String unavailableReason() {
        return state().reason();
    }

    /** Throws CudaException with {@link #unavailableReason()} unless CUDA is usable. */
    public static void requireAvailable() {
        State s = state();
        if (!s.available()) throw CudaException.unavailable("CUDA is not usable: " + s.reason());
    }

    /** Number of visible GPUs (0 when CUDA is not usable). */
    public static int deviceCount() {
        return state().deviceCount();
    }

    /** The GPU of this ordinal (0-based). */
    public static CudaDevice device(int ordinal) {
        requireAvailable();
        int n = deviceCount();
        if (ordinal < 0 || ordinal >= n) {
            throw new IllegalArgumentException("GPU " + ordinal + " does not exist: " + n + " GPU(s) visible (0.." + (n - 1) + ")");
        }
        return new CudaDevice(ordinal, Driver.deviceGet(ordinal));
    }

    /** The driver's CUDA version as reported by cuDriverGetVersion, e.g. 13000 for 13.0. */
    public static int driverVersion() {
        requireAvailable();
        return Driver.driverVersion();
    }

    /**
     * True when the driver has cuLaunchKernelEx, which {@link CudaFunction#launchProgrammatic} needs (CUDA 11.8+
     * drivers). Programmatic dependent launch itself also needs a GPU of compute capability 9.0 or newer.
     */
    public static boolean supportsProgrammaticLaunch() {
        requireAvailable();
        return Driver.hasLaunchKernelEx();
    }

    /** 13000 -> "13.0", 12080 -> "12.8". */
    public static String formatVersion(int cudaVersion) {
        return (cudaVersion / 1000) + "." + (cudaVersion % 1000) / 10;
    }

    /** What discovery found on this machine. */
    public static CudaLibraries libraries() {
        return CudaLibraries.system();
    }

    /** The driver's description of a CUresult (e.g. "out of memory"); null when unknown or the driver is absent. */
    public static String driverErrorString(int status) {
        return isAvailable() ? Driver.errorString(status) : null;
    }
}

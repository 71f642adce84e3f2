package dev.twofour.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What {@code twofour info} shows: whether CUDA is usable (or why not), the GPUs, the driver
 * version and each CUDA library found, with its path and version. Collecting never throws:
 * problems become text in the report.
 */
public record CudaReport(boolean available, String unavailableReason, String driverVersion,
                         List<Gpu> gpus, List<Library> libraries, List<CudaLibraries.SearchedFolder> searched) {

    public record Gpu(int ordinal, String name, String computeCapability, long totalMemoryBytes, String uuid,
                      int multiprocessors) {}

    /**
     * @param version what the library reports about itself once loaded (null when it could not be asked)
     * @param problem why it is missing or could not be loaded; null when fine
     */
    public record Library(String name, String soname, String path, String source, String fileVersion,
                          String version, String problem) {
        public boolean found() { return path != null; }
    }

    public static CudaReport collect() {
        boolean available = Cuda.isAvailable();
        String driverVersion = null;
        List<Gpu> gpus = new ArrayList<>();
        if (available) {
            try {
                driverVersion = Cuda.formatVersion(Cuda.driverVersion());
                for (int i = 0; i < Cuda.deviceCount(); i++) {
                    CudaDevice d = Cuda.device(i);
                    gpus.add(new Gpu(i, d.name(), d.computeCapability().toString(), d.totalMemory(), d.uuid(),
                            d.multiprocessorCount()));
                }
            } catch (RuntimeException e) {
                return new CudaReport(false, "querying the GPU failed: " + e.getMessage(), driverVersion, gpus,
                        libraries(false), CudaLibraries.system().searched());
            }
        }
        return new CudaReport(available, Cuda.unavailableReason(), driverVersion, List.copyOf(gpus), libraries(available),
                CudaLibraries.system().searched());
    }

    private static List<Library> libraries(boolean cudaUsable) {
        CudaLibraries libs = CudaLibraries.system();
        List<Library> out = new ArrayList<>();
        for (CudaLibraries.Kind kind : CudaLibraries.Kind.values()) {
            Optional<CudaLibraries.Found> f = libs.find(kind);
            if (f.isEmpty()) {
                out.add(new Library(kind.displayName(), null, null, null, null, null, "wanted " + String.join(" or ", kind.sonames())));
                continue;
            }
            CudaLibraries.Found found = f.get();
            String version = null;
            String problem = null;
            try {
                version = switch (kind) {
                    case DRIVER -> cudaUsable ? "CUDA " + Cuda.formatVersion(Cuda.driverVersion()) : null;
                    case CUBLAS -> formatCublas(Cublas.propertyVersion());
                    case CUBLASLT -> null; // same release as cuBLAS; the file name tells its version
                    case CUSPARSELT -> CusparseLt.formatVersion(CusparseLt.libraryVersion());
                };
            } catch (CudaException e) {
                problem = e.getMessage();
            } catch (ExceptionInInitializerError e) {
                problem = "could not be bound: " + (e.getCause() != null ? e.getCause().getMessage() : e.toString());
            } catch (LinkageError | RuntimeException e) {
                problem = "could not be used: " + e;
            }
            out.add(new Library(kind.displayName(), found.soname(), found.path().toString(), found.source(),
                    found.fileVersion(), version, problem));
        }
        return List.copyOf(out);
    }

    /** 130002 -> "13.0.2". */
    static String formatCublas(int v) {
        return (v / 10000) + "." + (v % 10000) / 100 + "." + (v % 100);
    }
}

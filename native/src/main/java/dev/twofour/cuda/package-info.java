/**
 * CUDA for twofour through the Foreign Function and Memory API (no JNI, no native glue).
 *
 * <ul>
 *   <li>{@link dev.twofour.cuda.Cuda}: is CUDA usable here (else one line saying why), devices, driver version;
 *       {@link dev.twofour.cuda.BackendChoice} resolves {@code --backend cpu|cuda|auto}.</li>
 *   <li>{@link dev.twofour.cuda.CudaLibraries}: finds libcuda, cuBLAS(Lt) and cuSPARSELt on disk
 *       (TWOFOUR_CUDA_LIB_DIRS, loader folders, $CUDA_HOME, /usr/local/cuda, Python site-packages).</li>
 *   <li>Driver API owners: {@link dev.twofour.cuda.CudaContext}, {@link dev.twofour.cuda.DeviceBuffer},
 *       {@link dev.twofour.cuda.PinnedHostBuffer}, {@link dev.twofour.cuda.CudaStream},
 *       {@link dev.twofour.cuda.CudaEvent}, {@link dev.twofour.cuda.CudaGraph},
 *       {@link dev.twofour.cuda.CudaModule} / {@link dev.twofour.cuda.CudaFunction} with
 *       {@link dev.twofour.cuda.KernelArgs} and {@link dev.twofour.cuda.Dim3}.</li>
 *   <li>{@link dev.twofour.cuda.Cublas}: GemmEx / StridedBatchedEx, fp32 compute, row-major helpers.</li>
 *   <li>{@link dev.twofour.cuda.CusparseLt} (full binding) and {@link dev.twofour.cuda.CusparseLtGemm}
 *       (Y = X·Wᵀ with a 2:4 weight).</li>
 * </ul>
 * Every failing status becomes a {@link dev.twofour.cuda.CudaException} naming the call and the
 * library's error name. Owners are AutoCloseable: closing twice is harmless, use after close throws
 * IllegalStateException. GPU calls act on the context current on the calling thread.
 */
package dev.twofour.cuda;

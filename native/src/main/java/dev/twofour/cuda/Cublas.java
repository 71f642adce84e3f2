package dev.twofour.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A cuBLAS handle for the context current at creation, with its own workspace (so that its
 * GEMMs can be captured into CUDA graphs: cuBLAS then never allocates). Not thread-safe: one
 * handle per thread or a lock around it. Every GEMM here computes in fp32
 * (CUBLAS_COMPUTE_32F, tensor cores for fp16/bf16 inputs) with alpha/beta given as host floats.
 *
 * <h2>Row-major convenience and how it maps to column-major cuBLAS</h2>
 * Our weights are W[N][K] row-major (HF Linear layout) and activations X[M][K] row-major; a linear
 * layer is Y[M][N] = X·Wᵀ. cuBLAS is column-major, and a row-major [R][C] matrix is the same bytes
 * as a column-major C×R matrix (its transpose) with leading dimension C. So
 * Yᵀ (N×M, col-major, ld N) = W (N×K) · Xᵀ (K×M), where W is the col-major K×N matrix "Wᵀ" read
 * with op T (lda = K) and Xᵀ is X's bytes as a col-major K×M matrix read with op N (ldb = K):
 * {@code gemmEx(T, N, m=N, n=M, k=K, A=W, lda=K, B=X, ldb=K, C=Y, ldc=N)} — {@link #linear}.
 * Likewise C[M][N] = A[M][K]·B[K][N] is Cᵀ = Bᵀ·Aᵀ: {@code gemmEx(N, N, N, M, K, B, ldb=N, A, lda=K, C, ldc=N)}
 * — {@link #matmul}.
 */
public final class Cublas extends NativeOwner {
    /** cublasOperation_t. */
    public enum Op {
        N(0), T(1);
        final int value;
        Op(int value) { this.value = value; }
    }

    /** Workspace cuBLAS may use per call; NVIDIA recommends 32 MiB on Hopper. */
    public static final long DEFAULT_WORKSPACE_BYTES = 32L << 20;

    private static final int CUBLAS_COMPUTE_32F = 68;
    private static final int CUBLAS_GEMM_DEFAULT = -1;

    private final long handle;
    private final DeviceBuffer workspace;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment alpha = arena.allocate(JAVA_FLOAT);
    private final MemorySegment beta = arena.allocate(JAVA_FLOAT);
    private CudaStream stream;

    private Cublas(long handle, DeviceBuffer workspace) {
        this.handle = handle;
        this.workspace = workspace;
    }

    /** A handle with a {@link #DEFAULT_WORKSPACE_BYTES} workspace, on the legacy default stream. */
    public static Cublas create() {
        return create(DEFAULT_WORKSPACE_BYTES);
    }

    public static Cublas create(long workspaceBytes) {
        Cuda.requireAvailable();
        long h;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            CudaException.checkCublas((int) CublasApi.cublasCreate.invokeExact(p), "cublasCreate_v2",
                    "creating a cuBLAS handle");
            h = p.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
        DeviceBuffer ws = null;
        try {
            ws = DeviceBuffer.allocate(workspaceBytes);
            Cublas c = new Cublas(h, ws);
            c.applyWorkspace();
            return c;
        } catch (RuntimeException e) {
            if (ws != null) ws.close();
            try {
                int ignored = (int) CublasApi.cublasDestroy.invokeExact(h);
            } catch (Throwable t) {
                e.addSuppressed(t);
            }
            throw e;
        }
    }

    /** cuBLAS's version as an integer, e.g. 130002 for 13.0.2 (major*10000 + minor*100 + patch). */
    public static int version() {
        Cuda.requireAvailable();
        return propertyVersion();
    }

    /** cublasGetProperty needs no GPU, only the library. */
    static int propertyVersion() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            int[] v = new int[3];
            for (int i = 0; i < 3; i++) { // libraryPropertyType: MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL
                CudaException.checkCublas((int) CublasApi.cublasGetProperty.invokeExact(i, p), "cublasGetProperty", null);
                v[i] = p.get(JAVA_INT, 0);
            }
            return v[0] * 10000 + v[1] * 100 + v[2];
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    /** cublasGetVersion_v2 on this handle (same encoding as {@link #version()}). */
    public int handleVersion() {
        ensureOpen();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            CudaException.checkCublas((int) CublasApi.cublasGetVersion.invokeExact(handle, p), "cublasGetVersion_v2", null);
            return p.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    /** Later calls run on {@code stream} (null: the legacy default stream). The workspace stays ours. */
    public void setStream(CudaStream stream) {
        ensureOpen();
        long s = stream == null ? 0L : stream.handle();
        try {
            CudaException.checkCublas((int) CublasApi.cublasSetStream.invokeExact(handle, s), "cublasSetStream_v2", null);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
        this.stream = stream;
        applyWorkspace(); // cublasSetStream resets the workspace to cuBLAS's own pool
    }

    public CudaStream stream() { return stream; }

    private void applyWorkspace() {
        try {
            CudaException.checkCublas((int) CublasApi.cublasSetWorkspace.invokeExact(handle, workspace.address(),
                    workspace.bytes()), "cublasSetWorkspace_v2", "setting a " + workspace.bytes() + "-byte workspace");
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    /** Column-major C = alpha·op(A)·op(B) + beta·C, fp32 compute. Addresses are device pointers. */
    public void gemmEx(Op opA, Op opB, int m, int n, int k,
                       float alphaValue, long a, CudaDtype aType, int lda,
                       long b, CudaDtype bType, int ldb,
                       float betaValue, long c, CudaDtype cType, int ldc) {
        ensureOpen();
        alpha.set(JAVA_FLOAT, 0, alphaValue);
        beta.set(JAVA_FLOAT, 0, betaValue);
        int rc;
        try {
            rc = (int) CublasApi.cublasGemmEx.invokeExact(handle, opA.value, opB.value, m, n, k,
                    alpha, a, aType.cudaDataType(), lda, b, bType.cudaDataType(), ldb,
                    beta, c, cType.cudaDataType(), ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
        CudaException.checkCublas(rc, "cublasGemmEx", "computing a column-major " + opA + opB + " GEMM m=" + m + " n=" + n
                + " k=" + k + " lda=" + lda + " ldb=" + ldb + " ldc=" + ldc + " " + aType + "/" + bType + "->" + cType);
    }

    /** {@link #gemmEx} over {@code batch} matrices at strides (in elements) from each base. */
    public void gemmStridedBatchedEx(Op opA, Op opB, int m, int n, int k,
                                     float alphaValue, long a, CudaDtype aType, int lda, long strideA,
                                     long b, CudaDtype bType, int ldb, long strideB,
                                     float betaValue, long c, CudaDtype cType, int ldc, long strideC, int batch) {
        ensureOpen();
        alpha.set(JAVA_FLOAT, 0, alphaValue);
        beta.set(JAVA_FLOAT, 0, betaValue);
        int rc;
        try {
            rc = (int) CublasApi.cublasGemmStridedBatchedEx.invokeExact(handle, opA.value, opB.value, m, n, k,
                    alpha, a, aType.cudaDataType(), lda, strideA, b, bType.cudaDataType(), ldb, strideB,
                    beta, c, cType.cudaDataType(), ldc, strideC, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
        CudaException.checkCublas(rc, "cublasGemmStridedBatchedEx", "computing " + batch + " column-major " + opA + opB
                + " GEMMs m=" + m + " n=" + n + " k=" + k + " " + aType + "/" + bType + "->" + cType);
    }

    /** Row-major Y[M][N] = X[M][K] · W[N][K]ᵀ (a linear layer). */
    public void linear(long x, long w, long y, int m, int n, int k, CudaDtype inType, CudaDtype outType) {
        gemmEx(Op.T, Op.N, n, m, k, 1f, w, inType, k, x, inType, k, 0f, y, outType, n);
    }

    /** Row-major Y_b = X_b · W_bᵀ for b in [0, batch), strides in elements. */
    public void linearStridedBatched(long x, long strideX, long w, long strideW, long y, long strideY, int batch,
                                     int m, int n, int k, CudaDtype inType, CudaDtype outType) {
        gemmStridedBatchedEx(Op.T, Op.N, n, m, k, 1f, w, inType, k, strideW, x, inType, k, strideX,
                0f, y, outType, n, strideY, batch);
    }

    /** Row-major C[M][N] = A[M][K] · B[K][N]. */
    public void matmul(long a, long b, long c, int m, int n, int k, CudaDtype inType, CudaDtype outType) {
        gemmEx(Op.N, Op.N, n, m, k, 1f, b, inType, n, a, inType, k, 0f, c, outType, n);
    }

    /** Row-major C_b = A_b · B_b for b in [0, batch), strides in elements. */
    public void matmulStridedBatched(long a, long strideA, long b, long strideB, long c, long strideC, int batch,
                                     int m, int n, int k, CudaDtype inType, CudaDtype outType) {
        gemmStridedBatchedEx(Op.N, Op.N, n, m, k, 1f, b, inType, n, strideB, a, inType, k, strideA,
                0f, c, outType, n, strideC, batch);
    }

    /** The cublasHandle_t value. */
    public long handle() {
        ensureOpen();
        return handle;
    }

    @Override protected void release() {
        try {
            CudaException.checkCublas((int) CublasApi.cublasDestroy.invokeExact(handle), "cublasDestroy_v2", null);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        } finally {
            workspace.close();
            arena.close();
        }
    }

    @Override protected String describe() { return "Cublas handle"; }
}

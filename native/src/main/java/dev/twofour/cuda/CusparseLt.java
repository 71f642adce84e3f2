package dev.twofour.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A cuSPARSELt handle (one per GPU: it is tied to the device current at creation) and the
 * complete 0.6-0.8 API around it: matrix descriptors, matmul descriptor, algorithm selection,
 * plan, prune / prune check, compressed size / compress (and the plan-free *2 variants when the
 * library has them), workspace, matmul and matmul search.
 *
 * <p>cuSPARSELt's opaque structs changed size across releases (1024, 11024, 13072, 512 bytes)
 * and the library keeps pointers between them (a plan refers to its matmul descriptor, which
 * refers to the matrix descriptors). So each one is allocated once, {@value #OPAQUE_BYTES} bytes,
 * 64-byte aligned, at a stable address in its own arena, never copied, and must stay open while
 * anything built from it is used. {@link CusparseLtGemm} packages all that for Y = X·Wᵀ.
 *
 * <p>Never run {@link #search} in a serving process: it can fail with INTERNAL_ERROR and poison
 * the context (ARCHITECTURE.md); tuning runs in a separate process.
 */
public final class CusparseLt extends NativeOwner {
    /** Bytes reserved for every opaque cuSPARSELt struct (largest known: 13072). */
    public static final long OPAQUE_BYTES = 16 * 1024;
    /** The oldest version whose API this binding matches (0.6.0 = 600). */
    public static final int MIN_VERSION = 600;

    /** cusparseOrder_t. */
    public enum Order {
        COL(1), ROW(2);
        final int value;
        Order(int value) { this.value = value; }
    }

    /** cusparseOperation_t. */
    public enum Operation {
        NON_TRANSPOSE(0), TRANSPOSE(1);
        final int value;
        Operation(int value) { this.value = value; }
    }

    /** cusparseComputeType (0.6+ numbering). */
    public enum ComputeType {
        COMPUTE_32I(0), COMPUTE_16F(1), COMPUTE_32F(2);
        final int value;
        ComputeType(int value) { this.value = value; }
    }

    /** cusparseLtPruneAlg_t. */
    public enum PruneAlg {
        SPMMA_TILE(0), SPMMA_STRIP(1);
        final int value;
        PruneAlg(int value) { this.value = value; }
    }

    /** cusparseLtSplitKMode_t. */
    public enum SplitKMode {
        ONE_KERNEL(1), TWO_KERNELS(2);
        final int value;
        SplitKMode(int value) { this.value = value; }

        static SplitKMode of(int v) {
            for (SplitKMode m : values()) if (m.value == v) return m;
            return null;
        }
    }

    /** cusparseLtMatmulAlgAttribute_t. */
    static final int ALG_CONFIG_ID = 0;
    static final int ALG_CONFIG_MAX_ID = 1;
    static final int ALG_SEARCH_ITERATIONS = 2;
    static final int ALG_SPLIT_K = 3;
    static final int ALG_SPLIT_K_MODE = 4;
    static final int ALG_SPLIT_K_BUFFERS = 5;

    private static final int SPARSITY_50_PERCENT = 0;
    private static final int MATMUL_ALG_DEFAULT = 0;

    /** Sizes returned by the compressed-size queries. */
    public record CompressedSize(long compressedBytes, long compressBufferBytes) {}

    private final Arena arena = Arena.ofShared();
    private final MemorySegment handle = opaque(arena);
    private final MemorySegment alpha = arena.allocate(JAVA_FLOAT);
    private final MemorySegment beta = arena.allocate(JAVA_FLOAT);
    private final MemorySegment streams = arena.allocate(JAVA_LONG);
    private final int version;
    private DeviceBuffer validFlag; // 4 bytes of device memory for the prune checks

    private CusparseLt() {
        int rc;
        try {
            rc = (int) CusparseLtApi.init.invokeExact(handle);
        } catch (Throwable t) {
            arena.close();
            throw NativeSupport.rethrow(t);
        }
        if (rc != 0) {
            arena.close();
            throw CudaException.of(CudaException.Library.CUSPARSELT, rc, "cusparseLtInit", "creating a cuSPARSELt handle");
        }
        int v;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            check((int) CusparseLtApi.getVersion.invokeExact(handle, p), "cusparseLtGetVersion", null);
            v = p.get(JAVA_INT, 0);
        } catch (Throwable t) {
            destroyQuietly();
            throw NativeSupport.rethrow(t);
        }
        this.version = v;
    }

    /** True when discovery found libcusparseLt.so.0 (it is not loaded by this call). */
    public static boolean isInstalled() {
        return CudaLibraries.system().find(CudaLibraries.Kind.CUSPARSELT).isPresent();
    }

    /** Creates a handle for the GPU of the context current on this thread. */
    public static CusparseLt create() {
        Cuda.requireAvailable();
        int v = libraryVersion();
        if (v < MIN_VERSION) {
            throw CudaException.unavailable("cuSPARSELt " + formatVersion(v) + " at "
                    + CudaLibraries.system().find(CudaLibraries.Kind.CUSPARSELT).map(f -> f.path().toString()).orElse("?")
                    + " is too old: twofour needs " + formatVersion(MIN_VERSION) + " or newer (pip install nvidia-cusparselt-cu12/cu13)");
        }
        return new CusparseLt();
    }

    /** The library's version from cusparseLtGetProperty, encoded major*1000 + minor*100 + patch (0.8.1 -> 801). */
    public static int libraryVersion() {
        if (!isInstalled()) {
            throw CudaException.unavailable("cuSPARSELt: " + CudaLibraries.system().describeSearch(CudaLibraries.Kind.CUSPARSELT));
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_INT);
            int[] parts = new int[3];
            for (int i = 0; i < 3; i++) { // MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL
                check((int) CusparseLtApi.getProperty.invokeExact(i, p), "cusparseLtGetProperty", null);
                parts[i] = p.get(JAVA_INT, 0);
            }
            return parts[0] * 1000 + parts[1] * 100 + parts[2];
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    /** 801 -> "0.8.1". */
    public static String formatVersion(int v) {
        return (v / 1000) + "." + (v % 1000) / 100 + "." + (v % 100);
    }

    /** The version cusparseLtGetVersion reports for this handle (same encoding as {@link #libraryVersion()}). */
    public int version() { return version; }

    /** True when the plan-free cusparseLtSpMMACompressedSize2 / Compress2 are available. */
    public static boolean hasCompress2() {
        return CusparseLtApi.compressedSize2 != null && CusparseLtApi.compress2 != null;
    }

    /** The library's description of a status (0.8+), or null. */
    public static String errorString(int status) { return CusparseLtApi.errorString(status); }

    // --- descriptors ------------------------------------------------------------------------------

    /** A dense matrix: rows × cols with leading dimension ld (elements), data aligned to {@code alignment} bytes. */
    public MatDescriptor dense(long rows, long cols, long ld, int alignment, CudaDtype type, Order order) {
        ensureOpen();
        MatDescriptor d = new MatDescriptor(rows, cols, type, false);
        int rc;
        try {
            rc = (int) CusparseLtApi.denseDescriptorInit.invokeExact(handle, d.struct, rows, cols, ld, alignment,
                    type.cudaDataType(), order.value);
        } catch (Throwable t) {
            d.abandon();
            throw NativeSupport.rethrow(t);
        }
        d.initialized(rc, "cusparseLtDenseDescriptorInit", "describing a dense " + rows + "x" + cols + " (ld " + ld + ") "
                + type + " " + order + " matrix");
        return d;
    }

    /** A 2:4 structured matrix (50% sparsity): rows × cols with leading dimension ld (elements). */
    public MatDescriptor structured(long rows, long cols, long ld, int alignment, CudaDtype type, Order order) {
        ensureOpen();
        MatDescriptor d = new MatDescriptor(rows, cols, type, true);
        int rc;
        try {
            rc = (int) CusparseLtApi.structuredDescriptorInit.invokeExact(handle, d.struct, rows, cols, ld, alignment,
                    type.cudaDataType(), order.value, SPARSITY_50_PERCENT);
        } catch (Throwable t) {
            d.abandon();
            throw NativeSupport.rethrow(t);
        }
        d.initialized(rc, "cusparseLtStructuredDescriptorInit", "describing a 2:4 structured " + rows + "x" + cols
                + " (ld " + ld + ") " + type + " " + order + " matrix");
        return d;
    }

    /** D = alpha·op(A)·op(B) + beta·C; exactly one of A and B is structured. */
    public MatmulDescriptor matmulDescriptor(Operation opA, Operation opB, MatDescriptor a, MatDescriptor b,
                                             MatDescriptor c, MatDescriptor d, ComputeType computeType) {
        ensureOpen();
        MatmulDescriptor m = new MatmulDescriptor(a, b, c, d);
        int rc;
        try {
            rc = (int) CusparseLtApi.matmulDescriptorInit.invokeExact(handle, m.struct, opA.value, opB.value,
                    a.struct(), b.struct(), c.struct(), d.struct(), computeType.value);
        } catch (Throwable t) {
            m.abandon();
            throw NativeSupport.rethrow(t);
        }
        if (rc != 0) {
            m.abandon();
            throw CudaException.of(CudaException.Library.CUSPARSELT, rc, "cusparseLtMatmulDescriptorInit",
                    "describing op(A)=" + opA + " op(B)=" + opB + " with A " + a + ", B " + b + ", D " + d + ", " + computeType);
        }
        return m;
    }

    /** The default algorithm for a matmul; its attributes can be read and set before a plan is made. */
    public AlgSelection algSelection(MatmulDescriptor matmul) {
        ensureOpen();
        AlgSelection s = new AlgSelection(this, matmul);
        int rc;
        try {
            rc = (int) CusparseLtApi.algSelectionInit.invokeExact(handle, s.struct, matmul.struct(), MATMUL_ALG_DEFAULT);
        } catch (Throwable t) {
            s.abandon();
            throw NativeSupport.rethrow(t);
        }
        if (rc != 0) {
            s.abandon();
            throw CudaException.of(CudaException.Library.CUSPARSELT, rc, "cusparseLtMatmulAlgSelectionInit", null);
        }
        s.live = true;
        return s;
    }

    /** A plan for the matmul with the selection's current attributes (make a new plan after changing them). */
    public Plan plan(MatmulDescriptor matmul, AlgSelection selection) {
        ensureOpen();
        Plan p = new Plan(matmul, selection);
        int rc;
        try {
            rc = (int) CusparseLtApi.planInit.invokeExact(handle, p.struct, matmul.struct(), selection.struct());
        } catch (Throwable t) {
            p.abandon();
            throw NativeSupport.rethrow(t);
        }
        if (rc != 0) {
            p.abandon();
            throw CudaException.of(CudaException.Library.CUSPARSELT, rc, "cusparseLtMatmulPlanInit",
                    "planning with config " + selection.safeConfigId());
        }
        p.live = true;
        return p;
    }

    // --- prune, check, compress -------------------------------------------------------------------

    /** Prunes the structured operand of {@code matmul} from dIn into dOut (may be the same). */
    public void prune(MatmulDescriptor matmul, long dIn, long dOut, PruneAlg alg, CudaStream stream) {
        ensureOpen();
        try {
            check((int) CusparseLtApi.prune.invokeExact(handle, matmul.struct(), dIn, dOut, alg.value, stream.handle()),
                    "cusparseLtSpMMAPrune", null);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    /** True when the structured operand at dIn is valid 2:4 for this matmul. Synchronizes {@code stream}. */
    public boolean pruneCheck(MatmulDescriptor matmul, long dIn, CudaStream stream) {
        ensureOpen();
        DeviceBuffer flag = validFlag(stream);
        try {
            check((int) CusparseLtApi.pruneCheck.invokeExact(handle, matmul.struct(), dIn, flag.address(), stream.handle()),
                    "cusparseLtSpMMAPruneCheck", "checking the 2:4 structure of " + matmul.structuredOperand());
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
        return readValid(flag, stream);
    }

    /** Plan-free prune check of a structured matrix used as A ({@code isSparseA}) or B with operation {@code op}. */
    public boolean pruneCheck2(MatDescriptor sparse, boolean isSparseA, Operation op, long dIn, CudaStream stream) {
        ensureOpen();
        if (CusparseLtApi.pruneCheck2 == null) throw missing("cusparseLtSpMMAPruneCheck2");
        DeviceBuffer flag = validFlag(stream);
        try {
            check((int) CusparseLtApi.pruneCheck2.invokeExact(handle, sparse.struct(), isSparseA ? 1 : 0, op.value, dIn,
                    flag.address(), stream.handle()), "cusparseLtSpMMAPruneCheck2", "checking the 2:4 structure of " + sparse);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
        return readValid(flag, stream);
    }

    public void prune2(MatDescriptor sparse, boolean isSparseA, Operation op, long dIn, long dOut, PruneAlg alg,
                       CudaStream stream) {
        ensureOpen();
        if (CusparseLtApi.prune2 == null) throw missing("cusparseLtSpMMAPrune2");
        try {
            check((int) CusparseLtApi.prune2.invokeExact(handle, sparse.struct(), isSparseA ? 1 : 0, op.value, dIn, dOut,
                    alg.value, stream.handle()), "cusparseLtSpMMAPrune2", null);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    public CompressedSize compressedSize(Plan plan) {
        ensureOpen();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment size = a.allocate(JAVA_LONG);
            MemorySegment buf = a.allocate(JAVA_LONG);
            check((int) CusparseLtApi.compressedSize.invokeExact(handle, plan.struct(), size, buf),
                    "cusparseLtSpMMACompressedSize", null);
            return new CompressedSize(size.get(JAVA_LONG, 0), buf.get(JAVA_LONG, 0));
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    /** Compresses the dense 2:4 matrix dDense into dCompressed using a temporary buffer dBuffer (may be 0 when its size is 0). */
    public void compress(Plan plan, long dDense, long dCompressed, long dBuffer, CudaStream stream) {
        ensureOpen();
        try {
            check((int) CusparseLtApi.compress.invokeExact(handle, plan.struct(), dDense, dCompressed, dBuffer, stream.handle()),
                    "cusparseLtSpMMACompress", null);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    public CompressedSize compressedSize2(MatDescriptor sparse) {
        ensureOpen();
        if (CusparseLtApi.compressedSize2 == null) throw missing("cusparseLtSpMMACompressedSize2");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment size = a.allocate(JAVA_LONG);
            MemorySegment buf = a.allocate(JAVA_LONG);
            check((int) CusparseLtApi.compressedSize2.invokeExact(handle, sparse.struct(), size, buf),
                    "cusparseLtSpMMACompressedSize2", null);
            return new CompressedSize(size.get(JAVA_LONG, 0), buf.get(JAVA_LONG, 0));
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    public void compress2(MatDescriptor sparse, boolean isSparseA, Operation op, long dDense, long dCompressed,
                          long dBuffer, CudaStream stream) {
        ensureOpen();
        if (CusparseLtApi.compress2 == null) throw missing("cusparseLtSpMMACompress2");
        try {
            check((int) CusparseLtApi.compress2.invokeExact(handle, sparse.struct(), isSparseA ? 1 : 0, op.value, dDense,
                    dCompressed, dBuffer, stream.handle()), "cusparseLtSpMMACompress2", null);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    // --- execution --------------------------------------------------------------------------------

    /** Workspace bytes the plan needs for {@link #matmul}. */
    public long workspaceSize(Plan plan) {
        ensureOpen();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            check((int) CusparseLtApi.getWorkspace.invokeExact(handle, plan.struct(), p), "cusparseLtMatmulGetWorkspace", null);
            return p.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
    }

    /** D = alpha·op(A)·op(B) + beta·C on {@code stream}; the structured operand is the compressed one. Capturable. */
    public void matmul(Plan plan, float alphaValue, long dA, long dB, float betaValue, long dC, long dD, long workspace,
                       CudaStream stream) {
        ensureOpen();
        plan.ensureUsable();
        alpha.set(JAVA_FLOAT, 0, alphaValue);
        beta.set(JAVA_FLOAT, 0, betaValue);
        streams.set(JAVA_LONG, 0, stream.handle());
        int rc;
        try {
            rc = (int) CusparseLtApi.matmul.invokeExact(handle, plan.struct, alpha, dA, dB, beta, dC, dD, workspace, streams, 1);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
        if (rc != 0) {
            throw CudaException.of(CudaException.Library.CUSPARSELT, rc, "cusparseLtMatmul", "multiplying " + plan.describe());
        }
    }

    /**
     * Times the algorithm configurations on these operands and keeps the fastest in the plan
     * (and its selection). Not for serving processes: see the class comment.
     */
    public void search(Plan plan, float alphaValue, long dA, long dB, float betaValue, long dC, long dD, long workspace,
                       CudaStream stream) {
        ensureOpen();
        plan.ensureUsable();
        alpha.set(JAVA_FLOAT, 0, alphaValue);
        beta.set(JAVA_FLOAT, 0, betaValue);
        streams.set(JAVA_LONG, 0, stream.handle());
        int rc;
        try {
            rc = (int) CusparseLtApi.matmulSearch.invokeExact(handle, plan.struct, alpha, dA, dB, beta, dC, dD, workspace,
                    streams, 1);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        }
        if (rc != 0) {
            throw CudaException.of(CudaException.Library.CUSPARSELT, rc, "cusparseLtMatmulSearch", "searching " + plan.describe());
        }
    }

    /** The cusparseLtHandle_t struct (for code that calls cuSPARSELt directly). */
    public MemorySegment handleStruct() {
        ensureOpen();
        return handle;
    }

    // --- internals --------------------------------------------------------------------------------

    static MemorySegment opaque(Arena arena) {
        MemorySegment s = arena.allocate(OPAQUE_BYTES, 64);
        s.fill((byte) 0);
        return s;
    }

    static void check(int rc, String call, String detail) {
        CudaException.checkCusparseLt(rc, call, detail);
    }

    private static CudaException missing(String fn) {
        return CudaException.unavailable("the installed cuSPARSELt has no " + fn + ": install cuSPARSELt 0.6 or newer");
    }

    /**
     * The 4-byte flag the prune checks write, cleared on {@code stream} first: the library only reports what it
     * finds, so a flag left at "invalid" by an earlier check of a dense matrix made a later valid one look invalid
     * (seen on the H100).
     */
    private DeviceBuffer validFlag(CudaStream stream) {
        if (validFlag == null) validFlag = DeviceBuffer.allocate(4);
        validFlag.memset((byte) 0, stream);
        return validFlag;
    }

    /** The prune checks write 0 for a valid matrix, nonzero otherwise. */
    private static boolean readValid(DeviceBuffer flag, CudaStream stream) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(JAVA_INT);
            flag.copyTo(host, stream);
            stream.synchronize();
            return host.get(JAVA_INT, 0) == 0;
        }
    }

    private void destroyQuietly() {
        try {
            int ignored = (int) CusparseLtApi.destroy.invokeExact(handle);
        } catch (Throwable ignored) {
            // already failing
        }
        arena.close();
    }

    @Override protected void release() {
        try {
            check((int) CusparseLtApi.destroy.invokeExact(handle), "cusparseLtDestroy", null);
        } catch (Throwable t) {
            throw NativeSupport.rethrow(t);
        } finally {
            if (validFlag != null) validFlag.close();
            arena.close();
        }
    }

    @Override protected String describe() { return "CusparseLt handle"; }

    // =============================================================================================

    /** A matrix descriptor (cusparseLtMatDescriptor_t). */
    public static final class MatDescriptor extends NativeOwner {
        private final Arena arena = Arena.ofShared();
        final MemorySegment struct = opaque(arena);
        private final long rows, cols;
        private final CudaDtype type;
        private final boolean structured;
        private boolean live;

        private MatDescriptor(long rows, long cols, CudaDtype type, boolean structured) {
            this.rows = rows;
            this.cols = cols;
            this.type = type;
            this.structured = structured;
        }

        private void initialized(int rc, String call, String detail) {
            if (rc != 0) {
                abandon();
                throw CudaException.of(CudaException.Library.CUSPARSELT, rc, call, detail);
            }
            live = true;
        }

        private void abandon() {
            live = false;
            close();
        }

        MemorySegment struct() {
            ensureOpen();
            return struct;
        }

        public long rows() { return rows; }
        public long cols() { return cols; }
        public CudaDtype type() { return type; }
        public boolean isStructured() { return structured; }

        @Override protected void release() {
            try {
                if (live) check((int) CusparseLtApi.matDescriptorDestroy.invokeExact(struct), "cusparseLtMatDescriptorDestroy", null);
            } catch (Throwable t) {
                throw NativeSupport.rethrow(t);
            } finally {
                arena.close();
            }
        }

        @Override protected String describe() {
            return (structured ? "structured " : "dense ") + rows + "x" + cols + " " + type + " matrix descriptor";
        }

        @Override public String toString() { return describe(); }
    }

    /** A matmul descriptor (cusparseLtMatmulDescriptor_t); it refers to its four matrix descriptors. */
    public static final class MatmulDescriptor extends NativeOwner {
        private final Arena arena = Arena.ofShared();
        final MemorySegment struct = opaque(arena);
        private final MatDescriptor a, b, c, d;

        private MatmulDescriptor(MatDescriptor a, MatDescriptor b, MatDescriptor c, MatDescriptor d) {
            this.a = a;
            this.b = b;
            this.c = c;
            this.d = d;
        }

        private void abandon() { close(); }

        MemorySegment struct() {
            ensureOpen();
            a.ensureOpen();
            b.ensureOpen();
            c.ensureOpen();
            d.ensureOpen();
            return struct;
        }

        MatDescriptor structuredOperand() { return a.isStructured() ? a : b; }

        // cuSPARSELt 0.6-0.8 has no destroy function for matmul descriptors: only the memory is freed.
        @Override protected void release() { arena.close(); }

        @Override protected String describe() { return "matmul descriptor (A " + a + ", B " + b + ", D " + d + ")"; }
    }

    /** An algorithm selection (cusparseLtMatmulAlgSelection_t) with its tunable attributes. */
    public static final class AlgSelection extends NativeOwner {
        private final Arena arena = Arena.ofShared();
        final MemorySegment struct = opaque(arena);
        private final MatmulDescriptor matmul;
        private boolean live;
        private final CusparseLt owner;

        private AlgSelection(CusparseLt owner, MatmulDescriptor matmul) {
            this.owner = owner;
            this.matmul = matmul;
        }

        private void abandon() {
            live = false;
            close();
        }

        MemorySegment struct() {
            ensureOpen();
            return struct;
        }

        private int getInt(int attribute, String name) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment p = a.allocate(JAVA_INT);
                check((int) CusparseLtApi.algGetAttribute.invokeExact(owner.handleStruct(), struct(), attribute, p, 4L),
                        "cusparseLtMatmulAlgGetAttribute", "reading " + name);
                return p.get(JAVA_INT, 0);
            } catch (Throwable t) {
                throw NativeSupport.rethrow(t);
            }
        }

        private void setInt(int attribute, String name, int value) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment p = a.allocate(JAVA_INT);
                p.set(JAVA_INT, 0, value);
                check((int) CusparseLtApi.algSetAttribute.invokeExact(owner.handleStruct(), struct(), attribute, p, 4L),
                        "cusparseLtMatmulAlgSetAttribute", "setting " + name + " to " + value);
            } catch (Throwable t) {
                throw NativeSupport.rethrow(t);
            }
        }

        public int configId() { return getInt(ALG_CONFIG_ID, "CONFIG_ID"); }
        /**
         * Selects configuration {@code id} in [0, {@link #configMaxId()}) (the bound is exclusive). Checked
         * here, not only by the library: an invalid id is refused with INVALID_VALUE, and a selection
         * whose set was refused is best not planned with (it has crashed PlanInit here); make a new one.
         */
        public void setConfigId(int id) {
            int limit = configMaxId();
            if (id < 0 || id >= limit) {
                throw new IllegalArgumentException("cuSPARSELt CONFIG_ID " + id + " is outside [0, " + limit + ") for this matmul");
            }
            setInt(ALG_CONFIG_ID, "CONFIG_ID", id);
        }
        /** CONFIG_MAX_ID: the exclusive upper bound of CONFIG_ID (the number of configurations); read-only. */
        public int configMaxId() { return getInt(ALG_CONFIG_MAX_ID, "CONFIG_MAX_ID"); }
        public int splitK() { return getInt(ALG_SPLIT_K, "SPLIT_K"); }
        /** Split-K factor, at least 1 (1 = no split). */
        public void setSplitK(int splitK) {
            if (splitK < 1) throw new IllegalArgumentException("cuSPARSELt SPLIT_K must be >= 1, got " + splitK);
            setInt(ALG_SPLIT_K, "SPLIT_K", splitK);
        }
        /** The split-K mode, or null when the library reports one this binding does not name. */
        public SplitKMode splitKMode() { return SplitKMode.of(getInt(ALG_SPLIT_K_MODE, "SPLIT_K_MODE")); }
        public void setSplitKMode(SplitKMode mode) { setInt(ALG_SPLIT_K_MODE, "SPLIT_K_MODE", mode.value); }
        public int splitKBuffers() { return getInt(ALG_SPLIT_K_BUFFERS, "SPLIT_K_BUFFERS"); }
        public void setSplitKBuffers(int n) { setInt(ALG_SPLIT_K_BUFFERS, "SPLIT_K_BUFFERS", n); }
        public int searchIterations() { return getInt(ALG_SEARCH_ITERATIONS, "SEARCH_ITERATIONS"); }
        public void setSearchIterations(int n) { setInt(ALG_SEARCH_ITERATIONS, "SEARCH_ITERATIONS", n); }

        String safeConfigId() {
            try {
                return String.valueOf(configId());
            } catch (RuntimeException e) {
                return "?";
            }
        }

        MatmulDescriptor matmul() { return matmul; }

        // 0.8+ (and 0.7 where exported) owns resources behind a selection: destroy it; older ones have no destroy.
        @Override protected void release() {
            try {
                if (live && CusparseLtApi.algSelectionDestroy != null) {
                    check((int) CusparseLtApi.algSelectionDestroy.invokeExact(struct), "cusparseLtMatmulAlgSelectionDestroy", null);
                }
            } catch (Throwable t) {
                throw NativeSupport.rethrow(t);
            } finally {
                arena.close();
            }
        }

        @Override protected String describe() { return "algorithm selection"; }
    }

    /** A matmul plan (cusparseLtMatmulPlan_t). */
    public static final class Plan extends NativeOwner {
        private final Arena arena = Arena.ofShared();
        final MemorySegment struct = opaque(arena);
        private final MatmulDescriptor matmul;
        private final AlgSelection selection;
        private boolean live;

        private Plan(MatmulDescriptor matmul, AlgSelection selection) {
            this.matmul = matmul;
            this.selection = selection;
        }

        private void abandon() {
            live = false;
            close();
        }

        MemorySegment struct() {
            ensureUsable();
            return struct;
        }

        /** The plan and everything it refers to must be open. */
        void ensureUsable() {
            ensureOpen();
            matmul.struct();
            selection.struct();
        }

        public AlgSelection selection() { return selection; }

        @Override protected void release() {
            try {
                if (live) check((int) CusparseLtApi.planDestroy.invokeExact(struct), "cusparseLtMatmulPlanDestroy", null);
            } catch (Throwable t) {
                throw NativeSupport.rethrow(t);
            } finally {
                arena.close();
            }
        }

        @Override protected String describe() { return "plan for " + matmul.describe(); }
    }
}

package dev.twofour.kernels.ref;

import dev.twofour.cuda.CudaDtype;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Proves the wide kernel (kernels/src/main/cuda/sparse24_wide.cuh) on paper, on the CPU: every CTA's shared-memory stages
 * are laid out with the kernel's swizzled offsets (bytes nobody should read are poisoned with NaN patterns), the A and B
 * fragments are read by an emulated ldmatrix.x4 from the kernel's lane addresses, the metadata words are formed as the
 * kernel forms them, and mma.sp::ordered_metadata.m16n8k32 is {@link MmaSpEmulationTest#mmaSp}, the instruction as the
 * PTX ISA defines it. Split-K partials and the in-order fixup are emulated too. The result must equal the plain product of
 * the decoded 2:4 rows with X ({@link Sparse24GemmRef}); every deliberate mistake must not; and the 8 row addresses of
 * every ldmatrix matrix must fall in 8 distinct 16-byte bank groups (conflict-free).
 */
class WideEmulationTest {
    static final int LANES = 32, WINDOW = 64;

    enum Mutation {
        NONE,
        VALUES_UNSWIZZLED_READ,  // A read at r*64 + 16p while written swizzled
        X_UNSWIZZLED_READ,       // B read at n*128 + 16p while written swizzled
        SELECTORS_SWAPPED,       // block 0 with selector 1, block 1 with selector 0
        META_LANE_PAIR_SWAPPED,  // lane t supplies chunk t ^ 1
        A_MATRICES_ROW_HALVES,   // ldmatrix matrices 1 and 2 exchanged (rows 8-15 vs values 8-15)
        B_BLOCK_UNITS_REVERSED   // B matrix j from unit 4h + 3 - j
    }

    /** Byte offsets of sparse24_wide.cuh: twofour_wide_value_unit, twofour_wide_x_unit, TwofourWideLayout. */
    static int valueUnit(int r, int p) { return r * 64 + 16 * (p ^ ((r >> 1) & 3)); }
    static int xUnit(int n, int p) { return n * 128 + 16 * (p ^ (n & 7)); }
    static int metaOffset(int bn) { return bn * 64; }
    static int xOffset(int bn) { return bn * 64 + bn * 8; }
    static int stageBytes(int mt, int bn) { return xOffset(bn) + mt * 128; }

    static int le32(byte[] b, int at) {
        return (b[at] & 0xFF) | (b[at + 1] & 0xFF) << 8 | (b[at + 2] & 0xFF) << 16 | (b[at + 3] & 0xFF) << 24;
    }

    static void put16(byte[] b, int at, int v) {
        b[at] = (byte) v;
        b[at + 1] = (byte) (v >>> 8);
    }

    /**
     * ldmatrix.sync.aligned.m8n8.x4.shared.b16: lane 8j + i gives the address of row i of matrix j; lane (g, t) receives
     * in register j the 32 bits at bytes 4t..4t+3 of row g of matrix j. Also checks the rows of each matrix hit 8 distinct
     * 16-byte bank groups (32 banks of 4 bytes = 8 groups of 16 bytes).
     */
    static int[][] ldmatrixX4(byte[] smem, int base, int[] laneAddr) {
        for (int j = 0; j < 4; j++) {
            boolean[] seen = new boolean[8];
            for (int i = 0; i < 8; i++) {
                int a = base + laneAddr[8 * j + i];
                if (a % 16 != 0) throw new AssertionError("ldmatrix row address not 16-byte aligned: " + a);
                int group = (a / 16) % 8;
                if (seen[group]) throw new AssertionError("bank conflict in ldmatrix matrix " + j + " at row " + i);
                seen[group] = true;
            }
        }
        int[][] r = new int[LANES][4];
        for (int l = 0; l < LANES; l++)
            for (int j = 0; j < 4; j++) r[l][j] = le32(smem, base + laneAddr[8 * j + (l >> 2)] + 4 * (l & 3));
        return r;
    }

    /**
     * The wide kernel over the whole grid: Y[m][n] in fp32 (the kernel rounds these to fp16/bf16 on the store) for
     * {@code mt} tokens per tile, {@code warps} warps (32 rows each) per CTA and {@code windowsPerSplit} windows per
     * split. NaN where nothing is written.
     */
    static float[] kernel(Packed24 w, float[] x, int ldx, int m, int mt, int warps, int windowsPerSplit, Mutation mut) {
        return kernel(w, x, ldx, m, mt, warps, 32, windowsPerSplit, mut);
    }

    /** The same with warps of {@code rw} (32 or 64) rows: rw / 16 A tiles per B fragment. */
    static float[] kernel(Packed24 w, float[] x, int ldx, int m, int mt, int warps, int rw, int windowsPerSplit, Mutation mut) {
        CudaDtype dt = w.dtype();
        int n = w.n(), k = w.k();
        if (k % WINDOW != 0 || m > mt) throw new IllegalArgumentException("k % 64 and m <= mt");
        int ti = rw / 16;
        int bn = rw * warps, rowGroups = (n + bn - 1) / bn, windows = k / WINDOW;
        int splits = (windows + windowsPerSplit - 1) / windowsPerSplit;
        float[] y = new float[m * n];
        Arrays.fill(y, Float.NaN);
        float[] ws = new float[rowGroups * splits * mt * bn];
        Arrays.fill(ws, Float.NaN);
        byte[] st = new byte[stageBytes(mt, bn)];
        for (int rg = 0; rg < rowGroups; rg++) {
            int rowBase = rg * bn, validRows = Math.min(bn, n - rowBase);
            for (int split = 0; split < splits; split++) {
                float[][][][][] acc = new float[warps][ti][mt / 8][LANES][4];
                int w0 = split * windowsPerSplit, nw = Math.min(windows, w0 + windowsPerSplit) - w0;
                for (int s = 0; s < nw; s++) {
                    fillStage(st, w, x, ldx, m, mt, bn, rowBase, validRows, w0 + s);
                    for (int warp = 0; warp < warps; warp++) warpWindow(acc[warp], st, bn, mt, m, rw * warp, dt, mut);
                }
                for (int warp = 0; warp < warps; warp++)
                    for (int i = 0; i < ti; i++)
                        for (int o = 0; o < mt / 8; o++)
                            for (int l = 0; l < LANES; l++)
                                for (int c = 0; c < 4; c++) {
                                    int g = l >> 2, t = l & 3;
                                    int tok = 8 * o + 2 * t + (c & 1), r = rw * warp + 16 * i + g + 8 * (c >> 1);
                                    if (tok >= m) continue;
                                    if (splits == 1) {
                                        if (rowBase + r < n) y[tok * n + rowBase + r] = acc[warp][i][o][l][c];
                                    } else {
                                        ws[(rg * splits + split) * mt * bn + tok * bn + r] = acc[warp][i][o][l][c];
                                    }
                                }
            }
            if (splits > 1) {  // the last CTA's fixup: splits summed in split order
                for (int tok = 0; tok < m; tok++)
                    for (int r = 0; r < validRows; r++) {
                        float sum = 0f;
                        for (int sp = 0; sp < splits; sp++) sum += ws[(rg * splits + sp) * mt * bn + tok * bn + r];
                        y[tok * n + rowBase + r] = sum;
                    }
            }
        }
        return y;
    }

    /** One stage as the kernel's copies leave it: poison first, then the one-time fills and the window's copies. */
    static void fillStage(byte[] st, Packed24 w, float[] x, int ldx, int m, int mt, int bn, int rowBase, int validRows, int win) {
        CudaDtype dt = w.dtype();
        int k = w.k();
        Arrays.fill(st, (byte) 0xFF);  // 0xFFFF is NaN in fp16 and bf16: any read of an unwritten byte shows
        for (int r = 0; r < bn; r++) {
            int row = rowBase + r;
            for (int p = 0; p < 4; p++)
                for (int e = 0; e < 8; e++)
                    put16(st, valueUnit(r, p) + 2 * e, r < validRows ? w.values()[row * (k / 2) + win * 32 + 8 * p + e] : 0);
            for (int b = 0; b < 8; b++)
                st[metaOffset(bn) + r * 8 + b] = r < validRows ? w.metadata()[row * (k / 8) + win * 8 + b] : (byte) 0x44;
        }
        for (int tok = 0; tok < mt; tok++)
            for (int p = 0; p < 8; p++)
                for (int e = 0; e < 8; e++)
                    put16(st, xOffset(bn) + xUnit(tok, p) + 2 * e,
                            tok < m ? HalfFloats.fromFloat(dt, x[tok * ldx + win * WINDOW + 8 * p + e]) : 0);
    }

    /** One warp's share of a stage (twofour_sparse24_wide's loop body and twofour_wide_window), its acc.length 16-row tiles. */
    static void warpWindow(float[][][][] acc, byte[] st, int bn, int mt, int m, int warpRow0, CudaDtype dt, Mutation mut) {
        int ti = acc.length;
        int[][] e = new int[ti][LANES];
        for (int i = 0; i < ti; i++)
            for (int l = 0; l < LANES; l++) {
                int g = l >> 2, t = l & 3;
                int chunk = mut == Mutation.META_LANE_PAIR_SWAPPED ? t ^ 1 : t;
                int rA = warpRow0 + 16 * i + g;
                int lo = (st[metaOffset(bn) + rA * 8 + 2 * chunk] & 0xFF) | (st[metaOffset(bn) + rA * 8 + 2 * chunk + 1] & 0xFF) << 8;
                int hi = (st[metaOffset(bn) + (rA + 8) * 8 + 2 * chunk] & 0xFF) | (st[metaOffset(bn) + (rA + 8) * 8 + 2 * chunk + 1] & 0xFF) << 8;
                e[i][l] = lo | hi << 16;
            }
        for (int h = 0; h < 2; h++) {
            int[][][] a = new int[ti][][];
            for (int i = 0; i < ti; i++) {
                int[] addr = new int[LANES];
                for (int l = 0; l < LANES; l++) {
                    int q = l >> 3;
                    if (mut == Mutation.A_MATRICES_ROW_HALVES && (q == 1 || q == 2)) q ^= 3;
                    int r = warpRow0 + 16 * i + (l & 7) + 8 * (q & 1), p = 2 * h + (q >> 1);
                    addr[l] = mut == Mutation.VALUES_UNSWIZZLED_READ ? r * 64 + 16 * p : valueUnit(r, p);
                }
                a[i] = ldmatrixX4(st, 0, addr);
            }
            for (int o = 0; o < mt / 8; o++) {
                if (8 * o >= m) continue;
                int[] addr = new int[LANES];
                for (int l = 0; l < LANES; l++) {
                    int tok = 8 * o + (l & 7), j = l >> 3;
                    int p = 4 * h + (mut == Mutation.B_BLOCK_UNITS_REVERSED ? 3 - j : j);
                    addr[l] = mut == Mutation.X_UNSWIZZLED_READ ? tok * 128 + 16 * p : xUnit(tok, p);
                }
                int[][] b = ldmatrixX4(st, xOffset(bn), addr);
                int sel = mut == Mutation.SELECTORS_SWAPPED ? 1 - h : h;
                for (int i = 0; i < ti; i++) MmaSpEmulationTest.mmaSp(acc[i][o], a[i], b, e[i], sel, dt);
            }
        }
    }

    static double maxRelError(float[] got, float[] want) {
        double worst = 0, scale = 1e-6;
        for (float v : want) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < want.length; i++) {
            if (Float.isNaN(got[i])) return Double.POSITIVE_INFINITY;
            worst = Math.max(worst, Math.abs(got[i] - want[i]) / scale);
        }
        return worst;
    }

    @Test
    void kernelEqualsThePlainProductOfTheDecodedRows() {
        Random rnd = new Random(2464);
        // {n, k, m, tokens per tile, warps, rows per warp, windows per split}: odd n (partial row groups, rows beyond N), m
        // below, at and above octet boundaries, one and several splits (a last split shorter than the others), padded X
        // rows (ldx > k), 32- and 64-row warps.
        int[][] cases = {
                {77, 64, 17, 32, 1, 32, 1}, {77, 192, 31, 32, 2, 32, 1}, {77, 192, 32, 32, 4, 32, 2}, {45, 128, 33, 64, 1, 32, 2},
                {100, 320, 48, 64, 2, 32, 2}, {33, 256, 64, 64, 1, 32, 4}, {150, 128, 64, 64, 4, 32, 1}, {64, 448, 19, 32, 1, 32, 3},
                {300, 128, 40, 64, 8, 32, 1}, {77, 192, 64, 64, 1, 64, 2}, {300, 256, 41, 64, 4, 64, 3},
                {200, 192, 33, 64, 3, 32, 1}, {95, 128, 20, 32, 3, 32, 2}};
        int done = 0;
        for (CudaDtype dt : new CudaDtype[] {CudaDtype.F16, CudaDtype.BF16}) {
            for (int[] c : cases) {
                int n = c[0], k = c[1], m = c[2], mt = c[3], warps = c[4], rw = c[5], wps = c[6];
                int ldx = k + (done % 3 == 0 ? 8 : 0);
                Packed24 w = RandomFillRef.sparse24(dt, n, k, rnd.nextLong(), 1f);
                float[] x = MmaSpEmulationTest.randomX(dt, m, ldx, rnd);
                float[] want = Sparse24GemmRef.gemm(x, ldx, w, m);
                float[] got = kernel(w, x, ldx, m, mt, warps, rw, wps, Mutation.NONE);
                double err = maxRelError(got, want);
                assertTrue(err < 1e-5, dt + " " + Arrays.toString(c) + " ldx " + ldx + ": max error " + err + " (relative to max |y|)");
                done++;
            }
        }
        assertEquals(2 * cases.length, done);
    }

    @Test
    void everyDeliberateMistakeIsCaught() {
        Random rnd = new Random(99);
        for (CudaDtype dt : new CudaDtype[] {CudaDtype.F16, CudaDtype.BF16}) {
            Packed24 w = RandomFillRef.sparse24(dt, 70, 128, rnd.nextLong(), 1f);
            float[] x = MmaSpEmulationTest.randomX(dt, 37, 128, rnd);
            float[] want = Sparse24GemmRef.gemm(x, 128, w, 37);
            for (Mutation mut : Mutation.values()) {
                if (mut == Mutation.NONE) continue;
                double err;
                try {
                    err = maxRelError(kernel(w, x, 128, 37, 64, 2, 1, mut), want);
                } catch (IllegalStateException undefinedMetadata) {
                    err = Double.POSITIVE_INFINITY;  // the hardware would be undefined: caught as well
                } catch (AssertionError bankConflict) {
                    err = Double.POSITIVE_INFINITY;  // an unswizzled read also conflicts: caught as well
                }
                assertTrue(err > 0.01, dt + " " + mut + " went unnoticed (max error " + err + ")");
            }
        }
    }

    @Test
    void unswizzledLayoutWouldConflict() {
        // Why the swizzle: with a plain 64-byte row stride, 8 rows of one ldmatrix matrix hit only 2 bank groups.
        int[] addr = new int[LANES];
        for (int l = 0; l < LANES; l++) addr[l] = (l & 7) * 64 + 16 * (l >> 3);
        byte[] smem = new byte[8 * 64];
        try {
            ldmatrixX4(smem, 0, addr);
            throw new IllegalStateException("expected a bank conflict");
        } catch (AssertionError expected) {
            assertTrue(expected.getMessage().contains("bank conflict"));
        }
        for (int l = 0; l < LANES; l++) addr[l] = valueUnit(l & 7, l >> 3);
        ldmatrixX4(smem, 0, addr);  // the kernel's layout: no conflict
    }
}

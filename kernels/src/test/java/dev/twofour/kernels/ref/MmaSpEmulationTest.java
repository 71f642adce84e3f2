package dev.twofour.kernels.ref;

import dev.twofour.cuda.CudaDtype;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Proves twofour_mmasp_window (kernels/src/main/cuda/sparse24_mmasp.cuh) on paper, on the CPU: the 32 lanes' registers
 * are filled with the same index formulas as the CUDA code (loads of the probe kernel, the metadata transpose with its
 * shuffles and byte permutes, the B offsets), and mma.sp::ordered_metadata.m16n8k32 is modelled separately as the
 * PTX ISA defines it (A fragment + metadata -> dense 16x32, B fragment -> 32x8, C fragment). The product over several
 * windows must equal the plain product of the decoded 2:4 rows with X; every deliberate mistake must not.
 */
class MmaSpEmulationTest {
    static final int LANES = 32, MO = 2, WINDOW = 64;

    /** Mistakes the emulated kernel can be made to contain; each must be caught. */
    enum Mutation {
        NONE,
        SWAP_META_NIBBLES,   // nibbles 0 and 1 of each half of the metadata word exchanged
        SWAP_SELECTORS,      // MMA 0 with selector 1 and MMA 1 with selector 0
        NO_TRANSPOSE,        // each lane passes its own metadata instead of the quad transpose
        A_WORDS_XZ,          // MMA 0 takes words x, z (and MMA 1 y, w) while B and metadata assume x, y
        B_OFFSETS_SWAPPED    // B register j read at the offset of register (j>>1) | (j&1)<<1
    }

    // ---- the lanes, as sparse24_mmasp.cuh fills them ----

    /** __byte_perm(x, y, s) for selectors without the sign-replicate bit: result byte i = byte s[4i..4i+2] of y:x. */
    static int bytePerm(int x, int y, int s) {
        long both = (x & 0xFFFFFFFFL) | ((long) y << 32);
        int r = 0;
        for (int i = 0; i < 4; i++) {
            int sel = (s >>> (4 * i)) & 0xF;
            if (sel > 7) throw new IllegalArgumentException("selector nibble " + sel + " uses the sign mode");
            r |= (int) ((both >>> (8 * sel)) & 0xFF) << (8 * i);
        }
        return r;
    }

    /** __shfl_xor_sync(full mask, v, mask): every lane reads lane ^ mask. */
    static int[] shflXor(int[] v, int mask) {
        int[] out = new int[LANES];
        for (int l = 0; l < LANES; l++) out[l] = v[l ^ mask];
        return out;
    }

    /** twofour_mmasp_meta for all lanes. */
    static int[] meta(int[] mA, int[] mB, Mutation mut) {
        int[] m = new int[LANES];
        for (int l = 0; l < LANES; l++) m[l] = bytePerm(mA[l], mB[l], 0x5410);
        if (mut == Mutation.NO_TRANSPOSE) return m;
        int[] o = shflXor(m, 2);
        for (int l = 0; l < LANES; l++) {
            int t = l & 3;
            int blockSel = (0x37156240 >>> ((t & 2) << 3)) & 0xFFFF;
            m[l] = bytePerm(m[l], o[l], blockSel);
        }
        o = shflXor(m, 1);
        int[] out = new int[LANES];
        for (int l = 0; l < LANES; l++) {
            int t = l & 3;
            int keep = 0x0F0F0F0F << ((t & 1) << 2);
            int rot = 28 - 24 * (t & 1);
            int moved = Integer.rotateRight(o[l], rot);   // __funnelshift_r(o, o, rot)
            out[l] = (m[l] & keep) | (moved & ~keep);
            if (mut == Mutation.SWAP_META_NIBBLES) {
                int w = out[l];
                out[l] = (w & 0xFF00FF00) | ((w & 0x000F000F) << 4) | ((w >>> 4) & 0x000F000F);
            }
        }
        return out;
    }

    /** The 32-bit shared-memory word at element {@code e} of {@code xs}: elements e (low half) and e+1. */
    static int word(short[] xs, int e) {
        if ((e & 1) != 0) throw new AssertionError("unaligned 32-bit shared load at element " + e);
        return (xs[e] & 0xFFFF) | (xs[e + 1] & 0xFFFF) << 16;
    }

    /**
     * twofour_mmasp_window for all lanes: acc[lane][o][h][i]; vA/vB[lane][q] the value words, mA/mB[lane] the 16-bit
     * metadata; xq[lane][o] = element offset of token 8o+g's window in xs, or -1 for nullptr.
     */
    static void window(float[][][][] acc, int[][] vA, int[][] vB, int[] mA, int[] mB, short[] xs, int[][] xq,
                       CudaDtype dt, Mutation mut) {
        int[] e = meta(mA, mB, mut);
        int[][][] b = new int[MO][LANES][8];   // [o][lane][4h + j]
        for (int o = 0; o < MO; o++)
            for (int l = 0; l < LANES; l++) {
                int t = l & 3;
                int laneOffset = 16 * (t >> 1) + 2 * (t & 1);
                if (xq[l][o] < 0) continue;  // nullptr: zeros
                for (int h = 0; h < 2; h++)
                    for (int j = 0; j < 4; j++) {
                        int jj = mut == Mutation.B_OFFSETS_SWAPPED ? (j >> 1) | (j & 1) << 1 : j;
                        b[o][l][4 * h + j] = word(xs, xq[l][o] + laneOffset + 2 * (16 * (jj & 1) + 4 * h + 2 * (jj >> 1)));
                    }
            }
        int[][][] a = new int[2][LANES][];   // [h][lane]: the A quad of MMA h
        for (int l = 0; l < LANES; l++) {
            if (mut == Mutation.A_WORDS_XZ) {
                a[0][l] = new int[] {vA[l][0], vB[l][0], vA[l][2], vB[l][2]};
                a[1][l] = new int[] {vA[l][1], vB[l][1], vA[l][3], vB[l][3]};
            } else {
                a[0][l] = new int[] {vA[l][0], vB[l][0], vA[l][1], vB[l][1]};
                a[1][l] = new int[] {vA[l][2], vB[l][2], vA[l][3], vB[l][3]};
            }
        }
        for (int h = 0; h < 2; h++)         // MMA 0 of every octet, then MMA 1 of every octet
            for (int o = 0; o < MO; o++) {
                float[][] d = new float[LANES][];
                int[][] bo = new int[LANES][];
                for (int l = 0; l < LANES; l++) {
                    d[l] = acc[l][o][h];
                    bo[l] = java.util.Arrays.copyOfRange(b[o][l], 4 * h, 4 * h + 4);
                }
                int sel = mut == Mutation.SWAP_SELECTORS ? 1 - h : h;
                mmaSp(d, a[h], bo, e, sel, dt);
            }
    }

    // ---- the instruction, as the PTX ISA defines it ----

    /**
     * mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32.{f16,bf16}.f32 with selector {@code sel} (0 or 1):
     * d[lane][0..3] += (A · B) fragment. Throws for metadata the ordered form leaves undefined.
     */
    static void mmaSp(float[][] d, int[][] a, int[][] b, int[] e, int sel, CudaDtype dt) {
        double[][] dense = new double[16][32];
        boolean[][] set = new boolean[16][32];
        for (int l = 0; l < LANES; l++) {
            int g = l >> 2, t = l & 3;
            for (int r = 0; r < 4; r++) {
                int row = g + 8 * (r & 1);          // a0: row g, a1: row g+8, a2: row g, a3: row g+8
                int group = t + 4 * (r >> 1);       // a0, a1: cols 4t..4t+3; a2, a3: cols 16+4t..
                int provider = 4 * (row & 7) + 2 * sel + (group >> 2);   // even lane of the pair: cols 0-15
                int nib = (e[provider] >>> (16 * (row >> 3) + 4 * (group & 3))) & 0xF;
                int i0 = nib & 3, i1 = nib >>> 2;
                if (i0 >= i1) throw new IllegalStateException("metadata nibble 0x" + Integer.toHexString(nib) + " for row " + row
                        + " group " + group + " (lane " + provider + ") is undefined for mma.sp::ordered_metadata");
                for (int c = 0; c < 2; c++) {
                    int col = 4 * group + (c == 0 ? i0 : i1);
                    if (set[row][col]) throw new AssertionError("A element set twice");
                    set[row][col] = true;
                    dense[row][col] = HalfFloats.toFloat(dt, (short) (a[l][r] >>> (16 * c)));
                }
            }
        }
        double[][] bm = new double[32][8];
        for (int l = 0; l < LANES; l++) {
            int g = l >> 2, t = l & 3;
            for (int j = 0; j < 4; j++)
                for (int c = 0; c < 2; c++) bm[8 * j + 2 * t + c][g] = HalfFloats.toFloat(dt, (short) (b[l][j] >>> (16 * c)));
        }
        for (int l = 0; l < LANES; l++) {
            int g = l >> 2, t = l & 3;
            for (int i = 0; i < 4; i++) {
                int row = g + 8 * (i >> 1), col = 2 * t + (i & 1);
                double s = 0;
                for (int k = 0; k < 32; k++) s += dense[row][k] * bm[k][col];
                d[l][i] = (float) (d[l][i] + s);
            }
        }
    }

    // ---- the probe kernel's loop (twofour_mmasp_probe), for one warp of 16 rows starting at row0 ----

    static final int XSTRIDE = 72;

    /** Y[m][row] for rows row0..row0+15 (< n) and m < M, exactly as the probe writes them (NaN where it writes nothing). */
    static float[] probe(Packed24 w, int row0, float[] x, int m, Mutation mut) {
        return probe(w, row0, x, m, mut, true);
    }

    /** mayBeNull = false: as the _nonnull probe kernels, xq points at the zero-staged rows of tokens beyond M. */
    static float[] probe(Packed24 w, int row0, float[] x, int m, Mutation mut, boolean mayBeNull) {
        int n = w.n(), k = w.k();
        if (k % WINDOW != 0) throw new IllegalArgumentException("k must be a multiple of 64");
        float[][][][] acc = new float[LANES][MO][2][4];
        short[] xs = new short[16 * XSTRIDE];
        int[][] xq = new int[LANES][MO];
        for (int l = 0; l < LANES; l++)
            for (int o = 0; o < MO; o++) xq[l][o] = !mayBeNull || 8 * o + (l >> 2) < m ? (8 * o + (l >> 2)) * XSTRIDE : -1;
        for (int win = 0; win < k / WINDOW; win++) {
            java.util.Arrays.fill(xs, (short) 0x7E00);  // poison: nothing may read a row that is not restaged
            for (int tok = 0; tok < 16; tok++)
                for (int i = 0; i < WINDOW; i++)
                    xs[tok * XSTRIDE + i] = tok < m ? HalfFloats.fromFloat(w.dtype(), x[tok * k + WINDOW * win + i]) : 0;
            int[][] vA = new int[LANES][4], vB = new int[LANES][4];
            int[] mA = new int[LANES], mB = new int[LANES];
            for (int l = 0; l < LANES; l++) {
                int g = l >> 2, t = l & 3, chunk = 4 * win + t;
                load(w, row0 + g, chunk, vA[l], mA, l);
                load(w, row0 + g + 8, chunk, vB[l], mB, l);
            }
            window(acc, vA, vB, mA, mB, xs, xq, w.dtype(), mut);
        }
        float[] y = new float[m * n];
        java.util.Arrays.fill(y, Float.NaN);
        for (int l = 0; l < LANES; l++) {
            int g = l >> 2, t = l & 3;
            for (int o = 0; o < MO; o++)
                for (int i = 0; i < 4; i++) {
                    int tok = 8 * o + 2 * t + (i & 1), row = row0 + g + 8 * (i >> 1);
                    if (tok < m && row < n) y[tok * n + row] = acc[l][o][0][i] + acc[l][o][1][i];
                }
        }
        return y;
    }

    /** One lane's 16-byte value load and 2-byte metadata load of chunk {@code chunk} of {@code row}; masked beyond n. */
    static void load(Packed24 w, int row, int chunk, int[] v, int[] meta, int lane) {
        int kp = w.kPadded();
        if (row >= w.n()) {
            java.util.Arrays.fill(v, 0);
            meta[lane] = 0x4444;
            return;
        }
        for (int q = 0; q < 4; q++) {
            int e = row * (kp / 2) + 8 * chunk + 2 * q;
            v[q] = (w.values()[e] & 0xFFFF) | (w.values()[e + 1] & 0xFFFF) << 16;
        }
        int b = row * (kp / 8) + 2 * chunk;
        meta[lane] = (w.metadata()[b] & 0xFF) | (w.metadata()[b + 1] & 0xFF) << 8;
    }

    // ---- the checks ----

    static float[] randomX(CudaDtype dt, int m, int k, Random rnd) {
        float[] x = new float[m * k];
        for (int i = 0; i < x.length; i++) x[i] = HalfFloats.toFloat(dt, HalfFloats.fromFloat(dt, (float) rnd.nextGaussian()));
        return x;
    }

    /** Largest |got - want| over the entries the probe writes (rows < n, tokens < m); NaN there counts as infinite. */
    static double maxError(float[] got, float[] want, int row0, int n, int m) {
        double worst = 0;
        for (int tok = 0; tok < m; tok++)
            for (int row = row0; row < Math.min(n, row0 + 16); row++) {
                float gv = got[tok * n + row];
                if (Float.isNaN(gv)) return Double.POSITIVE_INFINITY;
                worst = Math.max(worst, Math.abs(gv - want[tok * n + row]));
            }
        return worst;
    }

    @Test
    void windowEqualsThePlainProductOfTheDecodedRows() {
        Random rnd = new Random(24);
        int cases = 0;
        for (CudaDtype dt : new CudaDtype[] {CudaDtype.F16, CudaDtype.BF16}) {
            for (int[] nk : new int[][] {{16, 64}, {16, 192}, {11, 128}, {29, 320}}) {
                int n = nk[0], k = nk[1];
                Packed24 w = RandomFillRef.sparse24(dt, n, k, rnd.nextLong(), 1f);
                for (int m : new int[] {1, 5, 8, 13, 16}) {
                    float[] x = randomX(dt, m, k, rnd);
                    float[] want = Sparse24GemmRef.gemm(x, k, w, m);
                    for (int row0 = 0; row0 < n; row0 += 16) {
                        for (boolean mayBeNull : new boolean[] {true, false}) {
                            float[] got = probe(w, row0, x, m, Mutation.NONE, mayBeNull);
                            double err = maxError(got, want, row0, n, m);
                            assertTrue(err < 1e-4, dt + " n=" + n + " k=" + k + " m=" + m + " rows from " + row0
                                    + (mayBeNull ? "" : " (non-null xq)") + ": max error " + err);
                        }
                        cases++;
                    }
                }
            }
        }
        assertEquals(2 * (1 + 1 + 1 + 2) * 5, cases);
    }

    @Test
    void everyDeliberateMistakeIsCaught() {
        Random rnd = new Random(7);
        for (CudaDtype dt : new CudaDtype[] {CudaDtype.F16, CudaDtype.BF16}) {
            Packed24 w = RandomFillRef.sparse24(dt, 16, 128, rnd.nextLong(), 1f);
            float[] x = randomX(dt, 13, 128, rnd);
            float[] want = Sparse24GemmRef.gemm(x, 128, w, 13);
            for (Mutation mut : Mutation.values()) {
                if (mut == Mutation.NONE) continue;
                double err;
                try {
                    err = maxError(probe(w, 0, x, 13, mut), want, 0, 16, 13);
                } catch (IllegalStateException undefinedMetadata) {
                    err = Double.POSITIVE_INFINITY;  // the hardware would be undefined: caught as well
                }
                assertTrue(err > 0.05, dt + " " + mut + " went unnoticed (max error " + err + ")");
            }
        }
    }

    /** The metadata word is the quad's 4x4 nibble transpose, for each row half. */
    @Test
    void metadataWordIsTheQuadTranspose() {
        Random rnd = new Random(3);
        int[] mA = new int[LANES], mB = new int[LANES];
        for (int l = 0; l < LANES; l++) { mA[l] = rnd.nextInt(1 << 16) | 0xABCD0000; mB[l] = rnd.nextInt(1 << 16) | 0x12340000; }
        int[] e = meta(mA, mB, Mutation.NONE);
        for (int l = 0; l < LANES; l++) {
            int quad = l & ~3, t = l & 3;
            for (int j = 0; j < 4; j++) {
                assertEquals((mA[quad + j] >>> (4 * t)) & 0xF, (e[l] >>> (4 * j)) & 0xF, "lane " + l + " row g nibble " + j);
                assertEquals((mB[quad + j] >>> (4 * t)) & 0xF, (e[l] >>> (16 + 4 * j)) & 0xF, "lane " + l + " row g+8 nibble " + j);
            }
        }
    }

    /** The emulated instruction itself against a product worked out by hand, and its refusal of undefined metadata. */
    @Test
    void instructionModelPlacesValuesByMetadata() {
        // Every group keeps slots (1, 3) with values (row+1, -(row+1)); every B entry is k + 8n, so
        // C[row][n] = sum over groups J of (row+1) * ((4J+1) - (4J+3)) + ... = (row+1) * sum_J (-2) = -16 (row+1).
        int[][] a = new int[LANES][4], b = new int[LANES][4];
        int[] e = new int[LANES];
        for (int l = 0; l < LANES; l++) {
            int g = l >> 2, t = l & 3;
            for (int r = 0; r < 4; r++) {
                int row = g + 8 * (r & 1);
                short pos = HalfFloats.floatToF16(row + 1), neg = HalfFloats.floatToF16(-(row + 1));
                a[l][r] = (pos & 0xFFFF) | (neg & 0xFFFF) << 16;
            }
            for (int j = 0; j < 4; j++) {
                int k0 = 8 * j + 2 * t;
                b[l][j] = (HalfFloats.floatToF16(k0 + 8 * g) & 0xFFFF) | (HalfFloats.floatToF16(k0 + 1 + 8 * g) & 0xFFFF) << 16;
            }
            e[l] = 0xDDDDDDDD;  // nibble (1, 3) everywhere
        }
        float[][] d = new float[LANES][4];
        mmaSp(d, a, b, e, 0, CudaDtype.F16);
        for (int l = 0; l < LANES; l++)
            for (int i = 0; i < 4; i++) assertEquals(-16f * ((l >> 2) + 8 * (i >> 1) + 1), d[l][i], "lane " + l + " d" + i);
        e[5] = 0;  // (0, 0): undefined for the ordered form
        assertThrows(IllegalStateException.class, () -> mmaSp(new float[LANES][4], a, b, e, 0, CudaDtype.F16));
    }
}

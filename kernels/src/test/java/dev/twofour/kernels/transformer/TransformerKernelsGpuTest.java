package dev.twofour.kernels.transformer;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.cuda.CudaGraph;
import dev.twofour.cuda.CudaStream;
import dev.twofour.cuda.DeviceBuffer;
import dev.twofour.kernels.GpuTestSupport;
import dev.twofour.kernels.Sparse24Gemm;
import dev.twofour.kernels.ref.Packed24;
import dev.twofour.kernels.ref.RandomFillRef;
import dev.twofour.kernels.ref.HalfFloats;
import dev.twofour.kernels.transformer.ref.SamplerRef;
import dev.twofour.kernels.transformer.ref.TransformerRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each transformer kernel against its Java twin on random data at awkward sizes, fp16 and bf16. */
@Tag("gpu")
class TransformerKernelsGpuTest {
    static final CudaDtype[] DTYPES = {CudaDtype.F16, CudaDtype.BF16};
    static TransformerKernels tk;
    static CudaStream stream;
    final List<DeviceBuffer> buffers = new ArrayList<>();

    @BeforeAll
    static void setUp() {
        tk = new TransformerKernels(GpuTestSupport.kernelsOrSkip());
        stream = CudaStream.create();
    }

    @AfterAll
    static void tearDown() {
        if (stream != null) stream.close();
    }

    void free() {
        for (DeviceBuffer b : buffers) b.close();
        buffers.clear();
    }

    DeviceBuffer dev(float[] v, CudaDtype dt) {
        short[] s = HalfFloats.fromFloats(dt, v);
        DeviceBuffer b = DeviceBuffer.of(MemorySegment.ofArray(s));
        buffers.add(b);
        return b;
    }

    DeviceBuffer devF32(float[] v) {
        DeviceBuffer b = DeviceBuffer.of(MemorySegment.ofArray(v));
        buffers.add(b);
        return b;
    }

    DeviceBuffer devI32(int[] v) {
        DeviceBuffer b = DeviceBuffer.of(MemorySegment.ofArray(v));
        buffers.add(b);
        return b;
    }

    /** A packed 2:4 weight on the device: {values, metadata}, freed with the other buffers. */
    DeviceBuffer[] devPacked(Packed24 p) {
        DeviceBuffer vals = DeviceBuffer.of(MemorySegment.ofArray(p.values()));
        buffers.add(vals);
        DeviceBuffer meta = DeviceBuffer.of(MemorySegment.ofArray(p.metadata()));
        buffers.add(meta);
        return new DeviceBuffer[] {vals, meta};
    }

    DeviceBuffer poisoned16(int n) {
        DeviceBuffer b = DeviceBuffer.allocate(Math.max(2L, n * 2L));
        b.memset((byte) 0x7F);  // 0x7F7F: a large finite fp16 / bf16 value nothing should leave behind
        buffers.add(b);
        return b;
    }

    static float[] get(DeviceBuffer b, int n, CudaDtype dt) {
        stream.synchronize();
        short[] s = new short[n];
        b.copyTo(MemorySegment.ofArray(s));
        return HalfFloats.toFloats(dt, s);
    }

    static int[] getI32(DeviceBuffer b, int n) {
        stream.synchronize();
        int[] s = new int[n];
        b.copyTo(MemorySegment.ofArray(s));
        return s;
    }

    static float[] rand(Random r, int n, float scale, CudaDtype dt) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = TransformerRef.round(dt, (float) r.nextGaussian() * scale);
        return v;
    }

    static void assertClose(float[] ref, float[] got, double relTol, String what) {
        assertEquals(ref.length, got.length, what);
        double num = 0, den = 0;
        for (int i = 0; i < ref.length; i++) {
            assertTrue(Float.isFinite(got[i]), what + ": element " + i + " is " + got[i]);
            num += (ref[i] - got[i]) * (double) (ref[i] - got[i]);
            den += (double) ref[i] * ref[i];
        }
        double rel = Math.sqrt(num / Math.max(den, 1e-30));
        assertTrue(rel <= relTol, what + ": relative error " + rel + " > " + relTol);
    }

    static double ulpTol(CudaDtype dt) { return dt == CudaDtype.F16 ? 2e-3 : 1e-2; }

    @Test
    void gatherRowsCopiesRowsAndMarksBadIds() {
        Random r = new Random(1);
        for (CudaDtype dt : DTYPES) {
            int vocab = 37, hidden = 200, rows = 13;
            float[] table = rand(r, vocab * hidden, 0.5f, dt);
            int[] ids = new int[rows];
            for (int i = 0; i < rows; i++) ids[i] = r.nextInt(vocab);
            ids[5] = vocab;  // out of range
            DeviceBuffer out = poisoned16(rows * hidden);
            tk.gatherRows(stream, dt, out.address(), hidden, dev(table, dt).address(), hidden, devI32(ids).address(),
                    rows, hidden, vocab);
            float[] got = get(out, rows * hidden, dt);
            for (int i = 0; i < rows; i++) {
                for (int c = 0; c < hidden; c++) {
                    float g = got[i * hidden + c];
                    if (i == 5) assertTrue(Float.isNaN(g), "bad id must give NaN");
                    else assertEquals(table[ids[i] * hidden + c], g, 0f, "row " + i);
                }
            }
            free();
        }
    }

    @Test
    void addRmsNormMatchesReference() {
        Random r = new Random(2);
        for (CudaDtype dt : DTYPES) {
            for (int cols : new int[] {1000, 4096, 77}) {
                int rows = 5;
                float[] x = rand(r, rows * cols, 1f, dt), delta = rand(r, rows * cols, 0.7f, dt);
                float[] w = rand(r, cols, 1f, dt);
                DeviceBuffer dx = dev(x, dt), dd = dev(delta, dt), dw = dev(w, dt), dy = poisoned16(rows * cols);
                tk.addRmsNorm(stream, dt, dx.address(), cols, dd.address(), cols, dw.address(), dy.address(), cols,
                        rows, cols, 1e-5f);
                float[] refX = x.clone(), refY = new float[rows * cols];
                TransformerRef.addRmsNorm(dt, refX, delta, w, refY, rows, cols, 1e-5f);
                assertArrayEquals(refX, get(dx, rows * cols, dt), 0f, "residual sum");
                assertClose(refY, get(dy, rows * cols, dt), ulpTol(dt), "rmsnorm " + dt + " cols " + cols);
                // without delta, in place
                float[] x2 = rand(r, rows * cols, 2f, dt);
                DeviceBuffer dx2 = dev(x2, dt);
                tk.addRmsNorm(stream, dt, dx2.address(), cols, 0L, 0, dw.address(), dx2.address(), cols, rows, cols, 1e-6f);
                float[] refY2 = new float[rows * cols];
                TransformerRef.addRmsNorm(dt, x2.clone(), null, w, refY2, rows, cols, 1e-6f);
                assertClose(refY2, get(dx2, rows * cols, dt), ulpTol(dt), "rmsnorm in place");
                free();
            }
        }
    }

    @Test
    void ropeAndKvAppendMatchReference() {
        Random r = new Random(3);
        for (CudaDtype dt : DTYPES) {
            // 7 rows: one head per thread; 1500 rows: one block per row, each thread's angle serves every head
            for (int[] shape : new int[][] {{64, 7}, {128, 7}, {46, 7}, {128, 1500}, {46, 1500}}) {
                int headDim = shape[0], rows = shape[1], nh = 6, nkv = 2, qDim = nh * headDim, kvDim = nkv * headDim, width = qDim + 2 * kvDim;
                float[] qkv = rand(r, rows * width, 1f, dt);
                int[] pos = new int[rows];
                int[] slots = new int[rows];
                for (int i = 0; i < rows; i++) { pos[i] = r.nextInt(9000); slots[i] = 3 * i + 1; }
                slots[4] = -1;  // a padding row: no cache write
                float[] inv = new float[headDim / 2];
                for (int j = 0; j < inv.length; j++) inv[j] = (float) (Math.pow(500000.0, -2.0 * j / headDim) / (j % 3 == 0 ? 8 : 1));
                int cacheSlots = 3 * rows + 2;
                DeviceBuffer d = dev(qkv, dt), kc = poisoned16(cacheSlots * kvDim), vc = poisoned16(cacheSlots * kvDim);
                long base = d.address();
                tk.ropeAppend(stream, dt, rows, base, width, nh, base + qDim * 2L, width, base + (qDim + kvDim) * 2L, width,
                        nkv, true, devI32(pos).address(), devI32(slots).address(), kc.address(), vc.address(),
                        devF32(inv).address(), headDim);
                float[] ref = qkv.clone();
                TransformerRef.rope(dt, ref, width, rows, nh + nkv, headDim, pos, inv);  // q and k heads are adjacent
                float[] got = get(d, rows * width, dt);
                assertClose(ref, got, ulpTol(dt), "rope " + dt + " hd " + headDim + ", " + rows + " rows");
                float[] kGot = get(kc, cacheSlots * kvDim, dt), vGot = get(vc, cacheSlots * kvDim, dt);
                for (int i = 0; i < rows; i++) {
                    if (slots[i] < 0) continue;
                    for (int c = 0; c < kvDim; c++) {
                        assertEquals(got[i * width + qDim + c], kGot[slots[i] * kvDim + c], 0f, "k cache");
                        assertEquals(qkv[i * width + qDim + kvDim + c], vGot[slots[i] * kvDim + c], 0f, "v cache");
                    }
                }
                float poison = HalfFloats.toFloat(dt, (short) 0x7F7F);
                assertEquals(poison, kGot[(3 * 4 + 1) * kvDim], 0f, "padding row must not be written");
                free();
            }
        }
    }

    @Test
    void swigluAndBiasMatchReference() {
        Random r = new Random(4);
        for (CudaDtype dt : DTYPES) for (int cols : new int[] {777, 1376}) {  // 1376: the 16-byte kernel
            int rows = cols == 777 ? 3 : 5;
            float[] gu = rand(r, rows * 2 * cols, 2f, dt);
            float[] gate = new float[rows * cols], up = new float[rows * cols];
            for (int i = 0; i < rows; i++) {
                System.arraycopy(gu, i * 2 * cols, gate, i * cols, cols);
                System.arraycopy(gu, i * 2 * cols + cols, up, i * cols, cols);
            }
            DeviceBuffer d = dev(gu, dt), out = poisoned16(rows * cols);
            tk.swiglu(stream, dt, d.address(), 2 * cols, d.address() + cols * 2L, 2 * cols, out.address(), cols, rows, cols);
            assertClose(TransformerRef.swiglu(dt, gate, up), get(out, rows * cols, dt), ulpTol(dt) / 2, "swiglu " + dt);
            float[] bias = rand(r, cols, 1f, dt);
            tk.addBias(stream, dt, out.address(), cols, dev(bias, dt).address(), rows, cols);
            float[] sw = TransformerRef.swiglu(dt, gate, up);
            for (int i = 0; i < sw.length; i++) sw[i] = TransformerRef.round(dt, sw[i] + bias[i % cols]);
            assertClose(sw, get(out, rows * cols, dt), ulpTol(dt) / 2, "bias " + dt);
            free();
        }
    }

    /** A paged cache with shuffled blocks, K/V random; returns {kCache, vCache} and fills tables. */
    static int[][] blockTables(Random r, int[] lens, int blockSize, int[] numBlocksOut) {
        int total = 0;
        int[] need = new int[lens.length];
        for (int s = 0; s < lens.length; s++) { need[s] = (lens[s] + blockSize - 1) / blockSize; total += need[s]; }
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < total + 3; i++) ids.add(i);
        Collections.shuffle(ids, r);
        int[][] t = new int[lens.length][];
        int k = 0;
        for (int s = 0; s < lens.length; s++) {
            t[s] = new int[need[s]];
            for (int j = 0; j < need[s]; j++) t[s][j] = ids.get(k++);
        }
        numBlocksOut[0] = total + 3;
        return t;
    }

    static int[] flatten(int[][] tables, int maxBlocks) {
        int[] flat = new int[tables.length * maxBlocks];
        for (int s = 0; s < tables.length; s++) System.arraycopy(tables[s], 0, flat, s * maxBlocks, tables[s].length);
        return flat;
    }

    @Test
    void decodeAttentionMatchesReference() {
        Random r = new Random(5);
        int[][] shapes = {{8, 2, 128}, {16, 2, 64}, {4, 4, 64}, {32, 8, 128}};  // heads, kv heads, head dim
        for (CudaDtype dt : DTYPES) {
            for (int[] sh : shapes) {
                int nh = sh[0], nkv = sh[1], hd = sh[2], bs = 16;
                int[] lens = {1, 100, 1000, 0, 37};
                int[] nb = new int[1];
                int[][] tables = blockTables(r, lens, bs, nb);
                int maxBlocks = 0;
                for (int[] t : tables) maxBlocks = Math.max(maxBlocks, t.length);
                maxBlocks = Math.max(maxBlocks, 1);
                int kvDim = nkv * hd, slots = nb[0] * bs, rows = lens.length;
                float[] kc = rand(r, slots * kvDim, 1f, dt), vc = rand(r, slots * kvDim, 1f, dt);
                float[] q = rand(r, rows * nh * hd, 1f, dt);
                DeviceBuffer dk = dev(kc, dt), dv = dev(vc, dt), dq = dev(q, dt), out = poisoned16(rows * nh * hd);
                DeviceBuffer tab = devI32(flatten(tables, maxBlocks)), dl = devI32(lens);
                for (int splits : new int[] {1, 5, tk.decodeSplits(rows, nkv, 1000)}) {
                    DeviceBuffer scratch = DeviceBuffer.allocate(TransformerKernels.decodeScratchFloats(rows, nh, hd, splits) * 4);
                    buffers.add(scratch);
                    tk.attentionDecode(stream, dt, rows, dq.address(), nh * hd, dk.address(), dv.address(), tab.address(),
                            maxBlocks, dl.address(), bs, nh, nkv, hd, splits, scratch.address(), out.address(), nh * hd);
                    float[] got = get(out, rows * nh * hd, dt);
                    for (int b = 0; b < rows; b++) {
                        float[] gb = java.util.Arrays.copyOfRange(got, b * nh * hd, (b + 1) * nh * hd);
                        if (lens[b] == 0) {
                            for (float g : gb) assertEquals(0f, g, 0f, "empty sequence gives zeros");
                            continue;
                        }
                        float[] qb = java.util.Arrays.copyOfRange(q, b * nh * hd, (b + 1) * nh * hd);
                        float[] ref = TransformerRef.attention(qb, nh * hd, 1, lens[b], kc, vc, tables[b], bs, nh, nkv, hd);
                        assertClose(ref, gb, dt == CudaDtype.F16 ? 3e-3 : 1.5e-2,
                                "decode " + dt + " " + nh + "/" + nkv + "x" + hd + " len " + lens[b] + " splits " + splits);
                    }
                }
                free();
            }
        }
    }

    /**
     * Query heads, KV heads, head dim: group 1, 2 (tiny-llama-8m's shape), 4, 8 and 3 (runs the group-4 variant),
     * both head sizes.
     */
    static final int[][] DECODE1_SHAPES = {{8, 8, 128}, {4, 2, 64}, {16, 4, 64}, {32, 4, 128}, {12, 4, 128}};

    /**
     * The one-launch decode attention (splits merged by the last block through arrival counters) against the
     * reference, at contexts around the 16-position chunk and 32/64-position tile edges, long contexts, an empty
     * row, batch 8 and 1, paged caches (blocks of 16 and 512 positions); the counters must be back at zero after each launch.
     */
    @Test
    void oneLaunchDecodeAttentionMatchesReference() {
        Random r = new Random(51);
        for (CudaDtype dt : DTYPES) {
            for (int[] sh : DECODE1_SHAPES) {
                for (int[] lens : new int[][] {{1, 15, 16, 17, 0, 255, 1000, 4096}, {200}, {33, 64, 65, 3000, 31}}) {
                    for (int bs : new int[] {16, 512}) {  // 512: one block per sequence for the short ones (CudaModel's layout)
                        checkOneLaunchDecode(r, dt, sh[0], sh[1], sh[2], lens, bs);
                    }
                }
            }
        }
    }

    void checkOneLaunchDecode(Random r, CudaDtype dt, int nh, int nkv, int hd, int[] lens, int bs) {
        int[] nb = new int[1];
        int[][] tables = blockTables(r, lens, bs, nb);
        int maxBlocks = 1;
        for (int[] t : tables) maxBlocks = Math.max(maxBlocks, t.length);
        int kvDim = nkv * hd, slots = nb[0] * bs, rows = lens.length, qStride = nh * hd + 3;  // awkward q row stride
        float[] kc = rand(r, slots * kvDim, 1f, dt), vc = rand(r, slots * kvDim, 1f, dt);
        float[] q = rand(r, rows * qStride, 1.5f, dt);
        DeviceBuffer dk = dev(kc, dt), dv = dev(vc, dt), dq = dev(q, dt), out = poisoned16(rows * nh * hd);
        DeviceBuffer tab = devI32(flatten(tables, maxBlocks)), dl = devI32(lens);
        DeviceBuffer counters = devI32(new int[(int) TransformerKernels.decodeCounterInts(rows, nkv)]);
        float[][] refs = new float[rows][];
        for (int b = 0; b < rows; b++) {
            if (lens[b] == 0) continue;
            float[] qb = java.util.Arrays.copyOfRange(q, b * qStride, b * qStride + nh * hd);
            refs[b] = TransformerRef.attention(qb, nh * hd, 1, lens[b], kc, vc, tables[b], bs, nh, nkv, hd);
        }
        for (int splits : new int[] {1, 3, 7, tk.decodeSplits(rows, nkv, 4096), 64}) {
            DeviceBuffer scratch = DeviceBuffer.allocate(TransformerKernels.decodeScratchFloats(rows, nh, hd, splits) * 4);
            buffers.add(scratch);
            out.memset((byte) 0x7F);
            tk.attentionDecode(stream, dt, rows, dq.address(), qStride, dk.address(), dv.address(), tab.address(),
                    maxBlocks, dl.address(), bs, nh, nkv, hd, splits, scratch.address(), counters.address(), out.address(), nh * hd);
            float[] got = get(out, rows * nh * hd, dt);
            for (int b = 0; b < rows; b++) {
                float[] gb = java.util.Arrays.copyOfRange(got, b * nh * hd, (b + 1) * nh * hd);
                String what = "one-launch decode " + dt + " " + nh + "/" + nkv + "x" + hd + " len " + lens[b] + " block "
                        + bs + " splits " + splits;
                if (lens[b] == 0) {
                    for (float g : gb) assertEquals(0f, g, 0f, what + ": empty sequence gives zeros");
                } else {
                    assertClose(refs[b], gb, dt == CudaDtype.F16 ? 3e-3 : 1.5e-2, what);
                }
            }
            assertArrayEquals(new int[rows * nkv], getI32(counters, rows * nkv), "arrival counters are left at zero");
        }
        free();
    }

    /**
     * RoPE + KV append + decode attention in one launch equals rotating q and k (reference RoPE), writing k and v
     * at position kvLens-1 and attending (reference attention); the cache slot of the new token is written with the
     * rotated k and with v, nothing else in the cache changes. Also replayed from a CUDA graph (counters reset).
     */
    @Test
    void fusedRopeAttentionDecodeMatchesRopeAppendThenAttention() {
        Random r = new Random(52);
        for (CudaDtype dt : DTYPES) {
            for (int[] sh : DECODE1_SHAPES) {
                for (int[] lens : new int[][] {{1, 17, 0, 255, 1000, 4096, 16}, {129}}) {
                    checkFusedDecode(r, dt, sh[0], sh[1], sh[2], lens, 16);
                    checkFusedDecode(r, dt, sh[0], sh[1], sh[2], lens, 512);
                }
            }
        }
    }

    void checkFusedDecode(Random r, CudaDtype dt, int nh, int nkv, int hd, int[] lens, int bs) {
        int[] nb = new int[1];
        int[][] tables = blockTables(r, lens, bs, nb);
        int maxBlocks = 1;
        for (int[] t : tables) maxBlocks = Math.max(maxBlocks, t.length);
        int qDim = nh * hd, kvDim = nkv * hd, width = qDim + 2 * kvDim, slots = nb[0] * bs, rows = lens.length;
        float[] kc = rand(r, slots * kvDim, 1f, dt), vc = rand(r, slots * kvDim, 1f, dt);
        float[] qkv = rand(r, rows * width, 1f, dt);
        int[] pos = new int[rows];
        for (int b = 0; b < rows; b++) pos[b] = Math.max(0, lens[b] - 1);
        float[] inv = new float[hd / 2];
        for (int j = 0; j < inv.length; j++) inv[j] = (float) Math.pow(10000.0, -2.0 * j / hd);
        // reference: rotate q and k heads, write k and v of the new token, attend
        float[] kRef = kc.clone(), vRef = vc.clone();
        float[][] refs = new float[rows][];
        for (int b = 0; b < rows; b++) {
            float[] row = java.util.Arrays.copyOfRange(qkv, b * width, (b + 1) * width);
            refs[b] = TransformerRef.ropeAttentionDecode(dt, row, nh, nkv, hd, pos[b], lens[b], inv, kRef, vRef,
                    lens[b] == 0 ? new int[] {0} : tables[b], bs);
        }
        DeviceBuffer dqkv = dev(qkv, dt), dk = dev(kc, dt), dv = dev(vc, dt), out = poisoned16(rows * qDim);
        DeviceBuffer tab = devI32(flatten(tables, maxBlocks)), dl = devI32(lens), dpos = devI32(pos), dinv = devF32(inv);
        DeviceBuffer counters = devI32(new int[(int) TransformerKernels.decodeCounterInts(rows, nkv)]);
        int splits = tk.decodeSplits(rows, nkv, 4096);
        DeviceBuffer scratch = DeviceBuffer.allocate(TransformerKernels.decodeScratchFloats(rows, nh, hd, splits) * 4);
        buffers.add(scratch);
        long base = dqkv.address();
        int mb = maxBlocks;
        Runnable launch = () -> tk.ropeAttentionDecode(stream, dt, rows, base, width, base + qDim * 2L, width,
                base + (qDim + kvDim) * 2L, width, dpos.address(), dinv.address(), dk.address(), dv.address(), tab.address(),
                mb, dl.address(), bs, nh, nkv, hd, splits, scratch.address(), counters.address(), out.address(), qDim);
        String what = "fused rope+attention " + dt + " " + nh + "/" + nkv + "x" + hd + " block " + bs;
        launch.run();
        float[] got = get(out, rows * qDim, dt);
        for (int b = 0; b < rows; b++) {
            float[] gb = java.util.Arrays.copyOfRange(got, b * qDim, (b + 1) * qDim);
            if (lens[b] == 0) {
                for (float g : gb) assertEquals(0f, g, 0f, what + ": empty sequence gives zeros");
                continue;
            }
            assertClose(refs[b], gb, dt == CudaDtype.F16 ? 4e-3 : 2e-2, what + " len " + lens[b]);
        }
        float[] kGot = get(dk, slots * kvDim, dt), vGot = get(dv, slots * kvDim, dt);
        assertClose(kRef, kGot, ulpTol(dt), what + ": k cache");
        assertArrayEquals(vRef, vGot, 0f, what + ": v cache");
        for (int b = 0; b < rows; b++) {  // untouched positions are bit for bit what they were
            if (lens[b] < 2) continue;
            int slot = tables[b][0] * bs;
            for (int c = 0; c < kvDim; c++) assertEquals(kc[slot * kvDim + c], kGot[slot * kvDim + c], 0f, what + ": old k");
        }
        assertArrayEquals(qkv, get(dqkv, rows * width, dt), 0f, what + ": q, k, v inputs are left as they were");
        // graph replays: the same output again (the counters reset themselves)
        out.memset((byte) 0x7F);
        try (CudaGraph g = CudaGraph.capture(stream, launch)) {
            g.launch(stream);
            g.launch(stream);
            assertArrayEquals(got, get(out, rows * qDim, dt), 0f, what + ": graph replay");
        }
        assertArrayEquals(new int[rows * nkv], getI32(counters, rows * nkv), what + ": arrival counters are left at zero");
        free();
    }

    @Test
    void prefillAttentionMatchesReference() {
        Random r = new Random(6);
        int[][] shapes = {{4, 2, 64}, {8, 2, 128}, {6, 6, 128}};
        for (CudaDtype dt : DTYPES) {
            for (int[] sh : shapes) {
                int nh = sh[0], nkv = sh[1], hd = sh[2], bs = 16;
                // sequence 1 is a chunk after 117 cached tokens, sequence 4 one of 300 after 95 (5 query tiles, 7 key
                // tiles: tiles below the diagonal skip the mask)
                int[] qLens = {70, 33, 1, 130, 300};
                int[] ctx = {70, 150, 9, 130, 395};
                int[] nb = new int[1];
                int[][] tables = blockTables(r, ctx, bs, nb);
                int maxBlocks = 0;
                for (int[] t : tables) maxBlocks = Math.max(maxBlocks, t.length);
                int kvDim = nkv * hd, slots = nb[0] * bs;
                int[] seqStart = new int[qLens.length + 1];
                for (int s = 0; s < qLens.length; s++) seqStart[s + 1] = seqStart[s] + qLens[s];
                int rows = seqStart[qLens.length], qStride = nh * hd + 2 * kvDim;  // q inside a fused qkv row
                float[] kc = rand(r, slots * kvDim, 1f, dt), vc = rand(r, slots * kvDim, 1f, dt);
                float[] qkv = rand(r, rows * qStride, 1f, dt);
                DeviceBuffer out = poisoned16(rows * nh * hd);
                tk.attentionPrefill(stream, dt, qLens.length, 300, dev(qkv, dt).address(), qStride, dev(kc, dt).address(),
                        dev(vc, dt).address(), devI32(flatten(tables, maxBlocks)).address(), maxBlocks,
                        devI32(seqStart).address(), devI32(ctx).address(), bs, nh, nkv, hd, out.address(), nh * hd);
                float[] got = get(out, rows * nh * hd, dt);
                for (int s = 0; s < qLens.length; s++) {
                    float[] qs = java.util.Arrays.copyOfRange(qkv, seqStart[s] * qStride, seqStart[s + 1] * qStride);
                    float[] ref = TransformerRef.attention(qs, qStride, qLens[s], ctx[s], kc, vc, tables[s], bs, nh, nkv, hd);
                    float[] gs = java.util.Arrays.copyOfRange(got, seqStart[s] * nh * hd, seqStart[s + 1] * nh * hd);
                    assertClose(ref, gs, dt == CudaDtype.F16 ? 5e-3 : 2e-2,
                            "prefill " + dt + " " + nh + "/" + nkv + "x" + hd + " seq " + s);
                }
                free();
            }
        }
    }

    /**
     * Programmatic dependent launch (Kernels.launchDependent): a chain of dependent kernels (GEMV, 2:4 GEMM with
     * split-K counters, add+RMSNorm, SwiGLU) replayed back to back as a CUDA graph gives bit for bit what the same
     * chain gives with a synchronisation after every launch (where no kernel can overlap another). A kernel that read
     * its input before the previous one finished would differ. All kernels are deterministic, so equality is exact.
     */
    @Test
    void dependentLaunchesInAGraphEqualFullySerialisedLaunches() {
        dependentChain(false);
    }

    /** The same with the streaming 2:4 kernel, whose weight loads start before griddepcontrol.wait. */
    @Test
    void dependentLaunchesWithTheStreamingGemmEqualFullySerialisedLaunches() {
        dependentChain(true);
    }

    private void dependentChain(boolean streamed) {
        System.out.println("programmatic dependent launch: " + tk.kernels().programmaticLaunch() + ", streaming 2:4 GEMM: " + streamed);
        CudaDtype dt = CudaDtype.F16;
        int h = 4096, inter = 2048, steps = 12;
        Random r = new Random(31);
        DeviceBuffer w1 = dev(rand(r, inter * 2 * h, 0.02f, dt), dt);     // gate|up, dense GEMV
        Packed24 p = RandomFillRef.sparse24(dt, h, inter, 77L, 0.03f);   // down, 2:4 (split-K at M = 1)
        DeviceBuffer[] packed = devPacked(p);
        DeviceBuffer vals = packed[0], meta = packed[1];
        DeviceBuffer ln = dev(rand(r, h, 1f, dt), dt);
        float[] x0 = rand(r, h, 1f, dt);
        DeviceBuffer x = dev(x0, dt), normed = poisoned16(h), gateUp = poisoned16(2 * inter), act = poisoned16(inter),
                delta = poisoned16(h);
        try (Sparse24Gemm gemm = new Sparse24Gemm(tk.kernels())) {
            Sparse24Gemm.Plan plan = gemm.plan(1, h, inter);
            Sparse24Gemm.StreamPlan sp = gemm.streamPlan(1, h, inter);
            gemm.reserve(plan);
            java.util.function.Consumer<Boolean> chain = sync -> {
                for (int i = 0; i < steps; i++) {
                    tk.addRmsNorm(stream, dt, x.address(), h, i == 0 ? 0L : delta.address(), h, ln.address(), normed.address(), h, 1, h, 1e-5f);
                    if (sync) stream.synchronize();
                    tk.gemv(stream, dt, 1, normed.address(), h, w1.address(), gateUp.address(), 2 * inter, 2 * inter, h, false, 1);
                    if (sync) stream.synchronize();
                    tk.swiglu(stream, dt, gateUp.address(), 2 * inter, gateUp.address() + 2L * inter, 2 * inter, act.address(), inter, 1, inter);
                    if (sync) stream.synchronize();
                    if (streamed) gemm.run(stream, dt, act, inter, vals, meta, delta, h, sp, false);
                    else gemm.run(stream, dt, act, inter, vals, meta, delta, h, plan);
                    if (sync) stream.synchronize();
                }
            };
            chain.accept(true);
            float[] serial = get(x, h, dt), serialDelta = get(delta, h, dt);
            assertTrue(streamed ? sp != null : plan.splits() > 1, "the 2:4 GEMM should run " + (streamed ? "streaming" : "split-K") + " here");
            x.copyFrom(MemorySegment.ofArray(HalfFloats.fromFloats(dt, x0)));
            delta.memset((byte) 0x7F);
            try (CudaGraph g = CudaGraph.capture(stream, () -> chain.accept(false))) {
                g.launch(stream);
                assertArrayEquals(serial, get(x, h, dt), 0f, "residual after " + steps + " steps, graph replay");
                assertArrayEquals(serialDelta, get(delta, h, dt), 0f, "last 2:4 output, graph replay");
                // and again without the graph: plain stream launches back to back
                x.copyFrom(MemorySegment.ofArray(HalfFloats.fromFloats(dt, x0)));
                chain.accept(false);
                assertArrayEquals(serial, get(x, h, dt), 0f, "residual after " + steps + " steps, stream launches");
            }
        } finally {
            free();
        }
    }

    /**
     * The 2:4 down projection fused with SwiGLU equals swiglu then the 2:4 GEMM, bit for bit (same rounding), in both
     * kernels (streaming where Sparse24Gemm.swigluStreamPlan picks it: one row of 4096x11008 and of 12288x1152; classic
     * elsewhere).
     */
    @Test
    void sparse24GemmFusedWithSwigluEqualsSwigluThenGemm() {
        Random r = new Random(41);
        int streamed = 0;
        for (CudaDtype dt : DTYPES) {
            for (int[] nk : new int[][] {{4096, 11008}, {300, 176}, {77, 4104}, {12288, 1152}}) {
                int n = nk[0], k = nk[1];
                Packed24 p = RandomFillRef.sparse24(dt, n, k, r.nextLong(), 0.03f);
                DeviceBuffer[] packed = devPacked(p);
                DeviceBuffer vals = packed[0], meta = packed[1];
                for (boolean stream24 : new boolean[] {false, true}) {
                    try (Sparse24Gemm gemm = new Sparse24Gemm(tk.kernels(), stream24)) {
                        for (int rows : new int[] {1, 2, 3, 8, 13}) {
                            Sparse24Gemm.StreamPlan fusedPlan = gemm.swigluStreamPlan(rows, n, k);
                            if (fusedPlan != null) streamed++;
                            DeviceBuffer gateUp = dev(rand(r, rows * 2 * k, 2f, dt), dt);
                            DeviceBuffer act = poisoned16(rows * k), want = poisoned16(rows * n), got = poisoned16(rows * n);
                            tk.swiglu(stream, dt, gateUp.address(), 2 * k, gateUp.address() + 2L * k, 2 * k, act.address(), k, rows, k);
                            // the same kernel and plan as runSwiglu, so the same summation order
                            if (fusedPlan != null) gemm.run(stream, dt, act, k, vals, meta, want, n, fusedPlan, false);
                            else gemm.run(stream, dt, act, k, vals, meta, want, n, gemm.plan(rows, n, k));
                            gemm.runSwiglu(stream, dt, gateUp, 2L * k, vals, meta, got, n, rows, n, k);
                            float[] w = get(want, rows * n, dt);
                            for (float v : w) assertFalse(Float.isNaN(v), "unwritten output (NaN) " + dt + " " + n + "x" + k + " rows " + rows);
                            assertArrayEquals(w, get(got, rows * n, dt), 0f,
                                    "fused SwiGLU + 2:4 GEMM " + dt + " " + n + "x" + k + " rows " + rows + (stream24 ? " (streaming)" : ""));
                        }
                    }
                }
                free();
            }
        }
        assertTrue(streamed >= 4, "the streaming kernel ran only " + streamed + " of the cases");
    }

    /**
     * The add+RMSNorm fused into the streaming 2:4 GEMM: its residual output equals tf_add_rmsnorm's in-place update bit
     * for bit (same rounding of x + delta), and its product equals add+rmsnorm then the GEMM within rounding (the sum of
     * squares runs in another order, so the normalised input may differ in the last bit). Also without a delta (the
     * first layer) and without a residual output.
     */
    @Test
    void sparse24GemmFusedWithAddRmsNormMatchesAddRmsNormThenGemm() {
        Random r = new Random(43);
        float eps = 1e-5f;
        int runs = 0;
        for (CudaDtype dt : DTYPES) {
            for (int[] nk : new int[][] {{1000, 4096}, {77, 1152}, {300, 11008}}) {
                int n = nk[0], k = nk[1];
                Packed24 p = RandomFillRef.sparse24(dt, n, k, r.nextLong(), 0.03f);
                DeviceBuffer[] packed = devPacked(p);
                DeviceBuffer vals = packed[0], meta = packed[1];
                DeviceBuffer w = dev(rand(r, k, 1f, dt), dt);
                try (Sparse24Gemm gemm = new Sparse24Gemm(tk.kernels(), true)) {
                    for (int rows : new int[] {1, 3, 8, 13}) {
                        Sparse24Gemm.StreamPlan plan = gemm.streamPlan(rows, n, k);
                        if (plan == null) continue;
                        for (boolean withDelta : new boolean[] {true, false}) {
                            float[] x0 = rand(r, rows * k, 2f, dt);
                            DeviceBuffer d = withDelta ? dev(rand(r, rows * k, 1f, dt), dt) : null;
                            DeviceBuffer xRef = dev(x0, dt), normed = poisoned16(rows * k), want = poisoned16(rows * n);
                            tk.addRmsNorm(stream, dt, xRef.address(), k, d == null ? 0L : d.address(), k, w.address(), normed.address(), k, rows, k, eps);
                            gemm.run(stream, dt, normed, k, vals, meta, want, n, plan, false);
                            DeviceBuffer x = dev(x0, dt), xOut = poisoned16(rows * k), got = poisoned16(rows * n);
                            assertTrue(gemm.runAddRmsNorm(stream, dt, x, k, d, k, w, eps, withDelta ? xOut : null, k, vals, meta, got, n, plan));
                            String what = dt + " " + n + "x" + k + " rows " + rows + (withDelta ? " with delta" : " without delta");
                            assertArrayEquals(x0, get(x, rows * k, dt), 0f, "the residual input must stay as it was: " + what);
                            if (withDelta) assertArrayEquals(get(xRef, rows * k, dt), get(xOut, rows * k, dt), 0f, "residual output " + what);
                            assertClose(get(want, rows * n, dt), get(got, rows * n, dt), dt == CudaDtype.F16 ? 2e-3 : 1e-2, "fused add+rmsnorm + 2:4 GEMM " + what);
                            runs++;
                        }
                    }
                    DeviceBuffer x = dev(rand(r, k, 1f, dt), dt), y = poisoned16(n);
                    assertThrows(IllegalArgumentException.class, () -> gemm.runAddRmsNorm(stream, dt, x, k, null, k, w, eps, x, k, vals, meta, y, n,
                                    gemm.streamPlan(1, n, k)),
                            "a residual output on top of the input must be refused");
                }
                free();
            }
        }
        assertTrue(runs >= 30, "only " + runs + " fused runs");
    }

    @Test
    void gemvMatchesReference() {
        Random r = new Random(8);
        for (CudaDtype dt : DTYPES) {
            for (int[] nk : new int[][] {{1001, 4104}, {4096, 776}, {3, 8}}) {
                int n = nk[0], k = nk[1];
                float[] w = rand(r, n * k, 0.05f, dt);
                DeviceBuffer dw = dev(w, dt);
                for (int rows : new int[] {1, 2, 3, 5, 8}) {
                    float[] x = rand(r, rows * k, 1f, dt);
                    double[] ref = new double[rows * n];
                    for (int m = 0; m < rows; m++)
                        for (int j = 0; j < n; j++) {
                            double acc = 0;
                            for (int i = 0; i < k; i++) acc += (double) x[m * k + i] * w[j * k + i];
                            ref[m * n + j] = acc;
                        }
                    float[] refF = new float[ref.length];
                    for (int i = 0; i < ref.length; i++) refF[i] = (float) ref[i];
                    DeviceBuffer dx = dev(x, dt);
                    DeviceBuffer y16 = poisoned16(8 * n);
                    tk.gemv(stream, dt, rows, dx.address(), k, dw.address(), y16.address(), n, n, k, false);
                    float[] got = get(y16, 8 * n, dt);
                    assertClose(refF, java.util.Arrays.copyOf(got, rows * n), ulpTol(dt), "gemv " + dt + " " + n + "x" + k + " rows " + rows);
                    float poison = HalfFloats.toFloat(dt, (short) 0x7F7F);
                    if (rows < 8) assertEquals(poison, got[rows * n], 0f, "rows past the count are not written");
                    if (rows <= 2) {
                        for (int rpw : new int[] {1, 4}) {
                            DeviceBuffer yr = poisoned16(rows * n);
                            tk.gemv(stream, dt, rows, dx.address(), k, dw.address(), yr.address(), n, n, k, false, rpw);
                            assertClose(refF, get(yr, rows * n, dt), ulpTol(dt), "gemv " + rpw + " rows/warp " + dt + " " + n + "x" + k + " rows " + rows);
                        }
                    }
                    DeviceBuffer y32 = DeviceBuffer.allocate(4L * rows * n);
                    buffers.add(y32);
                    tk.gemv(stream, dt, rows, dx.address(), k, dw.address(), y32.address(), n, n, k, true);
                    stream.synchronize();
                    float[] g32 = new float[rows * n];
                    y32.copyTo(MemorySegment.ofArray(g32));
                    assertClose(refF, g32, 1e-5, "gemv fp32 out " + dt);
                }
                free();
            }
        }
    }

    @Test
    void gemvFusedWithSwigluMatchesSwigluThenGemv() {
        Random r = new Random(9);
        for (CudaDtype dt : DTYPES) {
            int n = 515, k = 1384;
            float[] w = rand(r, n * k, 0.05f, dt);
            DeviceBuffer dw = dev(w, dt);
            for (int rows : new int[] {1, 2}) {
                float[] gu = rand(r, rows * 2 * k, 2f, dt);
                DeviceBuffer dgu = dev(gu, dt), act = poisoned16(rows * k), y1 = poisoned16(rows * n), y2 = poisoned16(rows * n);
                tk.swiglu(stream, dt, dgu.address(), 2 * k, dgu.address() + 2L * k, 2 * k, act.address(), k, rows, k);
                tk.gemv(stream, dt, rows, act.address(), k, dw.address(), y1.address(), n, n, k, false);
                tk.gemvSwiglu(stream, dt, rows, dgu.address(), 2 * k, dw.address(), y2.address(), n, n, k);
                assertClose(get(y1, rows * n, dt), get(y2, rows * n, dt), 1e-3, "fused vs two launches " + dt + " rows " + rows);
            }
            free();
        }
    }

    /**
     * Greedy sampling reads the logits with 16-byte loads: ties must still go to the lowest index, NaN must be
     * skipped, at vocabularies and row strides that leave tails and unaligned rows.
     */
    @Test
    void greedySamplerTakesLowestIndexOfTheMaximum() {
        Random r = new Random(71);
        for (int[] vl : new int[][] {{32000, 32000}, {32003, 32005}, {1001, 1004}, {7, 9}}) {
            int vocab = vl[0], ld = vl[1], rows = 6;
            float[] logits = new float[rows * ld];
            for (int i = 0; i < logits.length; i++) logits[i] = (float) r.nextGaussian();
            int[] want = new int[rows];
            for (int b = 0; b < rows; b++) {
                int first = r.nextInt(vocab), second = r.nextInt(vocab);
                logits[b * ld + first] = 9f;
                logits[b * ld + second] = 9f;   // a tie: the lower index wins
                int nan = r.nextInt(vocab);
                if (b % 2 == 0 && nan != first && nan != second) logits[b * ld + nan] = Float.NaN;
                want[b] = Math.min(first, second);
                if (b == 3) {  // every other logit -inf, the maximum at the very end
                    for (int i = 0; i < vocab; i++) logits[b * ld + i] = Float.NEGATIVE_INFINITY;
                    logits[b * ld + vocab - 1] = 0.5f;
                    want[b] = vocab - 1;
                }
            }
            float[] fp = new float[rows * TransformerKernels.FPARAMS];
            int[] ip = new int[rows * TransformerKernels.IPARAMS];
            for (int b = 0; b < rows; b++) { fp[b * 6 + 1] = 1f; fp[b * 6 + 3] = 1f; ip[b * 4 + 1] = -1; }
            DeviceBuffer dl = devF32(logits), ids = devI32(new int[rows]);
            tk.sample(stream, rows, dl.address(), vocab, ld, devF32(fp).address(), devI32(ip).address(), 0L, 0L,
                    ids.address(), 0L);
            assertArrayEquals(want, getI32(ids, rows), "greedy ids, vocab " + vocab + " row stride " + ld);
            free();
        }
    }

    @Test
    void samplerMatchesReferenceAndIsReproducible() {
        Random r = new Random(7);
        for (int vocab : new int[] {32000, 128256, 1001}) {
            SamplerRef.Params[] params = {
                    SamplerRef.Params.greedy(),
                    new SamplerRef.Params(0.8f, 50, 1f, 0f, 1f, 0f, 0f, 11L),
                    new SamplerRef.Params(1.0f, 0, 0.9f, 0f, 1f, 0f, 0f, -5L),
                    new SamplerRef.Params(0.7f, 0, 1f, 0.05f, 1.3f, 0.2f, 0.3f, 1L << 40),
                    new SamplerRef.Params(1.2f, 200, 0.7f, 0.01f, 1.1f, 0f, 0f, 123456789L),
                    new SamplerRef.Params(0f, 0, 1f, 0f, 1.5f, 0.5f, 0.5f, 3L),
            };
            int rows = params.length;
            float[] logits = new float[rows * vocab];
            for (int i = 0; i < logits.length; i++) logits[i] = (float) r.nextGaussian() * 3f;
            int[] counts = new int[rows * vocab];
            for (int i = 0; i < 300; i++) counts[r.nextInt(rows * vocab)] = r.nextBoolean() ? 1 << 30 : 1 + r.nextInt(3);
            float[] fp = new float[rows * TransformerKernels.FPARAMS];
            int[] ip = new int[rows * TransformerKernels.IPARAMS];
            for (int b = 0; b < rows; b++) {
                SamplerRef.Params p = params[b];
                float[] f = {p.temperature(), p.topP(), p.minP(), p.repetition(), p.frequency(), p.presence()};
                System.arraycopy(f, 0, fp, b * 6, 6);
                ip[b * 4] = p.topK();
                ip[b * 4 + 1] = b;  // slot
                ip[b * 4 + 2] = (int) p.seed();
                ip[b * 4 + 3] = (int) (p.seed() >>> 32);
            }
            DeviceBuffer dfp = devF32(fp), dip = devI32(ip), steps = devI32(new int[rows]), dcounts = devI32(counts);
            DeviceBuffer dl = DeviceBuffer.allocate(logits.length * 4L);
            buffers.add(dl);
            DeviceBuffer ids = devI32(new int[rows]), next = devI32(new int[rows]);
            int mismatches = 0, draws = 0;
            int[] hostCounts = counts.clone();
            for (int step = 0; step < 6; step++) {
                dl.copyFrom(MemorySegment.ofArray(logits));
                tk.sample(stream, rows, dl.address(), vocab, vocab, dfp.address(), dip.address(), steps.address(),
                        dcounts.address(), ids.address(), next.address());
                int[] got = getI32(ids, rows);
                assertArrayEquals(got, getI32(next, rows), "nextTokens mirrors the ids");
                for (int b = 0; b < rows; b++) {
                    float[] row = java.util.Arrays.copyOfRange(logits, b * vocab, (b + 1) * vocab);
                    int[] c = java.util.Arrays.copyOfRange(hostCounts, b * vocab, (b + 1) * vocab);
                    int want = SamplerRef.sample(row, c, params[b], step);
                    assertTrue(got[b] >= 0 && got[b] < vocab, "id in range");
                    boolean greedy = params[b].temperature() <= 0f;
                    if (greedy) assertEquals(want, got[b], "greedy row " + b + " step " + step);
                    else { draws++; if (want != got[b]) mismatches++; }
                    hostCounts[b * vocab + got[b]] += 1;
                }
            }
            assertTrue(mismatches <= Math.max(1, draws / 20), "sampler differs from the reference in " + mismatches + " of " + draws);
            int[] gotCounts = getI32(dcounts, rows * vocab);
            assertArrayEquals(hostCounts, gotCounts, "counts updated by the kernel");
            assertArrayEquals(new int[] {6, 6, 6, 6, 6, 6}, getI32(steps, rows), "step counters advanced");
            // reproducible: same state, same ids
            int[] first = new int[rows], second = new int[rows];
            for (int rep = 0; rep < 2; rep++) {
                steps.copyFrom(MemorySegment.ofArray(new int[rows]));
                dl.copyFrom(MemorySegment.ofArray(logits));
                tk.sample(stream, rows, dl.address(), vocab, vocab, dfp.address(), dip.address(), steps.address(), 0L,
                        ids.address(), 0L);
                System.arraycopy(getI32(ids, rows), 0, rep == 0 ? first : second, 0, rows);
            }
            assertArrayEquals(first, second, "same seed and step give the same ids");
            free();
        }
    }
}

package dev.twofour.kernels;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PlanTest {
    @Test
    void plansCoverKAndFitSharedMemory() {
        int[] ms = {1, 3, 8, 9, 16, 17, 64};
        int[] ns = {1, 77, 1000, 4096, 11008, 28672};
        int[] ks = {4, 176, 4096, 4112, 11008, 28672};
        for (int m : ms) for (int n : ns) for (int k : ks) for (int tile : new int[] {8, 16, 32}) for (int forced : new int[] {0, 1, 3, 64}) {
            Sparse24Gemm.Plan p = Sparse24Gemm.plan(m, n, k, 132, tile, forced);
            int nsb = (((k + 15) & ~15) + 255) / 256;
            String at = p.toString();
            assertTrue(p.splits() * p.superblocksPerSplit() >= nsb, at);
            assertTrue((p.splits() - 1) * p.superblocksPerSplit() < nsb, "an empty split: " + at);
            assertTrue(p.sharedBytes() <= 48 * 1024, at);
            assertEquals((m + tile - 1) / tile, p.tokenTiles(), at);
            assertEquals((n + 127) / 128, p.rowGroups(), at);
            assertTrue(p.splits() > 1 || p.workspaceBytes() == 0, at);
        }
    }

    @Test
    void decodeShapeFillsTheGpu() {
        Sparse24Gemm.Plan p = Sparse24Gemm.plan(1, 4096, 4096, 132, 8, 0);
        assertEquals(8, p.splits(), "4096x4096 at m=1: 8 splits of 2 superblocks measured best: " + p);
        Sparse24Gemm.Plan wide = Sparse24Gemm.plan(1, 22016, 4096, 132, 8, 0);
        assertEquals(2, wide.splits(), "22016x4096: as few splits as shared memory allows: " + wide);
        assertEquals(8, p.tokensPerTile());
        assertEquals(2, Sparse24Gemm.plan(1, 12288, 4096, 132).splits(), "12288x4096: 2 splits, one wave of 192 CTAs");
        assertEquals(8, Sparse24Gemm.plan(1, 4096, 11008, 132).splits(), "4096x11008: 8 splits, one wave of 256 CTAs");
        assertEquals(16, Sparse24Gemm.plan(9, 4096, 4096, 132).tokensPerTile());
    }

    /** The streaming kernel's plan: where it applies, what it takes, and that it fits the H100's 227 KiB. */
    @Test
    void streamPlansApplyWhereXFitsBesideTheRing() {
        int h100 = 232_448;
        for (int m : new int[] {1, 2, 5, 8, 9, 16}) {
            for (int n : new int[] {1, 77, 4096, 22016}) {
                for (int k : new int[] {128, 4096, 5120, 8192, 11008}) {
                    Sparse24Gemm.StreamPlan p = Sparse24Gemm.streamPlan(m, n, k, 132, h100);
                    long x = (long) m * (k + 8) * 2;
                    if (p == null) {
                        assertTrue(x > h100 - 2 * Sparse24Gemm.STREAM_STAGE_BYTES - 16 * 1024, "no plan though X (" + x + " B) fits: m=" + m + " k=" + k);
                        continue;
                    }
                    String at = p.toString();
                    assertTrue(p.sharedBytes() <= h100, at);
                    assertTrue(m <= p.tokensPerTile() && (p.tokensPerTile() == 8) == (p.stages() == 4), at);
                    assertEquals(16, p.chunksPerStage(), "half-size stages are compiled for mma.sp only: " + at);
                    Sparse24Gemm.StreamPlan sp = Sparse24Gemm.streamPlan(m, n, k, 132, h100, true);
                    assertNotNull(sp, "mma.sp applies wherever mma.sync does: " + at);
                    assertTrue(sp.sparseMma() && sp.sharedBytes() <= h100 && m <= sp.tokensPerTile(), sp.toString());
                    // With mma.sp: one token takes the full ring; more take 4 half-size stages (8 tokens: a smaller
                    // footprint; 16: the room 2 full stages took).
                    if (m == 1) {
                        assertEquals(p.withSparseMma(true), sp);
                    } else {
                        assertEquals(8, sp.chunksPerStage(), sp.toString());
                        assertEquals(4, sp.stages(), sp.toString());
                        assertEquals(m <= 8 ? 8 : 16, sp.tokensPerTile(), sp.toString());
                        assertTrue(sp.sharedBytes() <= p.sharedBytes(), "no more shared memory: " + sp + " vs " + p);
                    }
                    assertEquals(Math.min(132, (n + 15) / 16), p.ctas(), at);
                    assertEquals(0, p.chunksPerWarp() % 8, "warp ranges must end on 16-byte metadata boundaries: " + at);
                    assertTrue(8L * p.chunksPerWarp() >= k / 16 && 8L * (p.chunksPerWarp() - 8) < k / 16, "8 warps must cover K, tightly: " + at);
                }
            }
        }
        assertNotNull(Sparse24Gemm.streamPlan(1, 4096, 11008, 132, h100), "the down projection at batch 1");
        assertNotNull(Sparse24Gemm.streamPlan(8, 12288, 4096, 132, h100), "qkv at batch 8");
        assertNotNull(Sparse24Gemm.streamPlan(16, 22016, 4096, 132, h100), "gate|up at 16 rows");
        assertNull(Sparse24Gemm.streamPlan(1, 4096, 4112, 132, h100), "K not a multiple of 128");
        assertNull(Sparse24Gemm.streamPlan(17, 4096, 4096, 132, h100), "more than 16 rows");
        assertNull(Sparse24Gemm.streamPlan(8, 4096, 11008, 132, h100), "X of 8 x 11008 does not fit beside 2 stages");
        assertEquals(2, Sparse24Gemm.streamPlan(8, 4096, 4096, 132, 166_912).stages(), "X of 8 x 4096 leaves an A100's 163 KiB room for 2 stages");
        assertEquals(4, Sparse24Gemm.streamPlan(8, 4096, 4096, 132, h100).stages());
        Sparse24Gemm.StreamPlan one = Sparse24Gemm.streamPlan(1, 4096, 4096, 132, h100).withSparseMma(true);
        assertEquals("twofour_sparse24_stream_sp_f16_mt8", one.kernelName("f16"));
        assertEquals("twofour_sparse24_stream_sp_bf16_mt8_s2", one.withStages(2).kernelName("bf16"));
        assertEquals(one.sharedBytes() - 2 * Sparse24Gemm.STREAM_STAGE_BYTES, one.withStages(2).sharedBytes());
        Sparse24Gemm.StreamPlan padded = one.withStages(2).oneCtaPerSm(h100);
        assertTrue(2 * padded.sharedBytes() > h100 && padded.sharedBytes() <= h100 / 2 + 1, "one 2-stage CTA per SM, half the SM left: " + padded);
        assertSame(one, one.oneCtaPerSm(h100), "4 stages take more than half already");
        Sparse24Gemm.StreamPlan dense = one.withSparseMma(false);
        assertSame(dense, dense.withStages(2), "no 2-stage kernel without mma.sp");
        assertEquals("twofour_sparse24_stream_f16_mt16", Sparse24Gemm.streamPlan(9, 4096, 4096, 132, h100).kernelName("f16"));

        Sparse24Gemm.StreamPlan sixteen = Sparse24Gemm.streamPlan(16, 4096, 4096, 132, h100, true);
        assertEquals("twofour_sparse24_stream_sp_bf16_mt16_c8_s4", sixteen.kernelName("bf16"));
        // TWOFOUR_STREAM_STAGE_BYTES(CH) in sparse24_stream.cuh: 8 warps x (CH/2 x 32 lanes x 16 B + 16 rows x 2 CH B)
        assertEquals(36_864, Sparse24Gemm.STREAM_STAGE_BYTES, "a full stage, as the kernel lays it out");
        assertEquals(18_432, Sparse24Gemm.streamStageBytes(8), "a half-size stage, as the kernel lays it out");
        assertNull(sixteen.withSparseMma(false), "no half-size stages without mma.sp");
        Sparse24Gemm.StreamPlan downAt4 = Sparse24Gemm.streamPlan(4, 4096, 11008, 132, h100, true);
        assertEquals("twofour_sparse24_stream_sp_f16_mt8_c8_s4", downAt4.kernelName("f16"), "4 x 11008: 4 half stages beside X");
        assertEquals("twofour_sparse24_stream_sp_f16_mt8_c8_s8", one.withRing(8, 8, 8, h100).kernelName("f16"));
        assertNull(one.withRing(16, 8, 8, h100), "not compiled");
        assertNull(sixteen.withRing(8, 4, 16, h100), "16 tokens do not fit an 8-token tile");
        assertNull(Sparse24Gemm.streamPlan(16, 4096, 11008, 132, h100, true), "16 x 11008 of X does not fit");
    }

    /** The measured choice between the streaming and the classic kernel (kernels/NOTES.md, sessions 3-4), on llama2-7b's shapes. */
    @Test
    void streamingKernelIsChosenWhereItMeasuredFaster() {
        int h100 = 232_448;
        java.util.function.BiPredicate<int[], Integer> wins = (nk, m) ->
                Sparse24Gemm.streamBeatsClassic(Sparse24Gemm.streamPlan(m, nk[0], nk[1], 132, h100, true), false);
        java.util.function.BiPredicate<int[], Integer> winsAfterAttention = (nk, m) ->
                Sparse24Gemm.streamBeatsClassic(Sparse24Gemm.streamPlan(m, nk[0], nk[1], 132, h100, true), true);
        int[] qkv = {12288, 4096}, o = {4096, 4096}, gate = {11008, 4096}, gateUp = {22016, 4096}, down = {4096, 11008};
        for (int[] nk : new int[][] {qkv, gate, gateUp}) {
            for (int m : new int[] {1, 2, 4, 8, 16}) assertTrue(wins.test(nk, m), nk[0] + "x" + nk[1] + " at " + m + " tokens");
        }
        for (int m : new int[] {1, 2, 4, 8}) assertTrue(winsAfterAttention.test(o, m), "the o projection at " + m + " tokens");
        assertFalse(winsAfterAttention.test(o, 16), "the o projection at 16 tokens");
        assertTrue(wins.test(o, 16), "a 4096x4096 layer that does not follow attention, at 16 tokens");
        for (int m : new int[] {1, 2, 4}) assertTrue(wins.test(down, m), "down at " + m + " tokens, where X fits");
        assertNull(Sparse24Gemm.streamPlan(8, down[0], down[1], 132, h100, true), "8 x 11008 of X does not fit: classic");
    }

    @Test
    void badShapesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Sparse24Gemm.plan(1, 16, 6, 132));
        assertThrows(IllegalArgumentException.class, () -> Sparse24Gemm.plan(0, 16, 16, 132));
        assertThrows(IllegalArgumentException.class, () -> Sparse24Gemm.plan(1, 16, 16, 132, 12, 0));
    }

    // ---- the wide kernel (16 < m <= 64) ----

    static final int H100_SMS = 132, H100_OPTIN = 227 * 1024;
    static final int[][] LLAMA2_7B = {{12288, 4096}, {4096, 4096}, {11008, 4096}, {22016, 4096}, {4096, 11008}};

    /** The kernel's per-stage layout (sparse24_wide.cuh TwofourWideLayout): BN x 64 B values, BN x 8 B metadata, MT x 128 B of X. */
    static int wideStageBytes(int mt, int bn) { return bn * 64 + bn * 8 + mt * 128; }

    @Test
    void widePlansCoverKOnceAndFitOneWave() {
        int[] ms = {17, 31, 32, 33, 48, 64};
        int[] ns = {1, 77, 1000, 4096 + 16 + 8, 4096, 11008, 12288, 22016, 28672};
        int[] ks = {64, 192, 4096, 11008, 28672};
        for (int m : ms) for (int n : ns) for (int k : ks) for (int rows : new int[] {0, 96, 128, 256}) for (int forced : new int[] {0, 1, 2, 3, 1000}) {
            Sparse24Gemm.WidePlan p = Sparse24Gemm.widePlan(m, n, k, H100_SMS, H100_OPTIN, rows, forced);
            String at = m + "x" + n + "x" + k + " rows " + rows + " forced " + forced + ": " + p;
            assertNotNull(p, at);
            int windows = k / 64;
            assertTrue(p.splits() * p.windowsPerSplit() >= windows, "K not covered: " + at);
            assertTrue((p.splits() - 1) * p.windowsPerSplit() < windows, "an empty split: " + at);
            assertTrue(p.tokensPerTile() >= m && p.tokensPerTile() <= 64, at);
            assertEquals(m <= 32 ? 32 : 64, p.tokensPerTile(), at);
            if (rows != 0) assertEquals(rows, p.rowsPerCta(), at);
            assertEquals((n + p.rowsPerCta() - 1) / p.rowsPerCta(), p.rowGroups(), at);
            assertEquals(p.stages() * wideStageBytes(p.tokensPerTile(), p.rowsPerCta()), p.sharedBytes(), at);
            assertTrue(p.sharedBytes() <= H100_OPTIN, at);
            assertTrue(2 * (p.sharedBytes() + 1024) <= 228 * 1024, "two CTAs per SM: " + at);
            if (forced == 0) assertTrue(p.splits() == 1 || p.ctas() <= 2L * H100_SMS, "more than one wave: " + at);
            else assertEquals(Math.min(forced, windows), Math.min(forced, windows) == p.splits() ? p.splits() : Math.min(forced, windows),
                    at);
            assertEquals(p.splits() > 1 ? (long) p.rowGroups() * p.splits() * p.tokensPerTile() * p.rowsPerCta() : 0, p.workspaceFloats(), at);
            assertEquals(p.splits() > 1 ? p.rowGroups() : 0, p.counters(), at);
            assertEquals(p.rowsPerCta() / p.rowsPerWarp() * 32, p.threads(), at);
            assertTrue(p.rowsPerWarp() == 32 || p.rowsPerWarp() == 64 && p.tokensPerTile() == 64 && p.rowsPerCta() == 256, at);
        }
    }

    @Test
    void widePlanSplitsAsAsked() {
        // 64 windows: 3 splits of 22 (22 + 22 + 20), 5 of 13; more splits than windows: one window each.
        assertEquals(22, Sparse24Gemm.widePlan(64, 4096, 4096, H100_SMS, H100_OPTIN, 128, 3).windowsPerSplit());
        assertEquals(5, Sparse24Gemm.widePlan(64, 4096, 4096, H100_SMS, H100_OPTIN, 128, 5).splits());
        Sparse24Gemm.WidePlan all = Sparse24Gemm.widePlan(64, 4096, 4096, H100_SMS, H100_OPTIN, 256, 1000);
        assertEquals(64, all.splits());
        assertEquals(1, all.windowsPerSplit());
        // 172 windows (K = 11008) in 4: 43 each.
        Sparse24Gemm.WidePlan down = Sparse24Gemm.widePlan(33, 4096, 11008, H100_SMS, H100_OPTIN, 128, 4);
        assertEquals(4, down.splits());
        assertEquals(43, down.windowsPerSplit());
    }

    @Test
    void widePlanDoesNotApplyOutsideItsRange() {
        assertNull(Sparse24Gemm.widePlan(65, 4096, 4096, H100_SMS, H100_OPTIN));
        assertNull(Sparse24Gemm.widePlan(32, 4096, 4096 + 16, H100_SMS, H100_OPTIN), "K % 64 != 0");
        assertNull(Sparse24Gemm.widePlan(32, 4096, 176, H100_SMS, H100_OPTIN), "K % 64 != 0");
        assertNull(Sparse24Gemm.widePlan(64, 4096, 4096, H100_SMS, 48 * 1024), "no ring fits 48 KiB");
        assertThrows(IllegalArgumentException.class, () -> Sparse24Gemm.widePlan(0, 4096, 4096, H100_SMS, H100_OPTIN));
        assertThrows(IllegalArgumentException.class, () -> Sparse24Gemm.widePlan(32, 4096, 4096, H100_SMS, H100_OPTIN, 64, 0));
        // An A100 (163 KiB opt-in) gets a ring that fits; sm_86 (99 KiB) none at 64 tokens, but the 32-token rings.
        Sparse24Gemm.WidePlan a100 = Sparse24Gemm.widePlan(64, 4096, 4096, 108, 163 * 1024);
        assertNotNull(a100);
        assertTrue(a100.sharedBytes() <= 163 * 1024, a100.toString());
        assertNull(Sparse24Gemm.widePlan(64, 4096, 4096, 84, 99 * 1024));
        Sparse24Gemm.WidePlan sm86 = Sparse24Gemm.widePlan(32, 4096, 4096, 84, 99 * 1024);
        assertTrue(sm86.sharedBytes() <= 99 * 1024, sm86.toString());
    }

    @Test
    void widePlansForLlamaShapesFillTheH100InOneWave() {
        for (int m : new int[] {17, 32, 33, 64})
            for (int[] nk : LLAMA2_7B) {
                Sparse24Gemm.WidePlan p = Sparse24Gemm.widePlan(m, nk[0], nk[1], H100_SMS, H100_OPTIN);
                String at = "m=" + m + " " + nk[0] + "x" + nk[1] + ": " + p;
                assertNotNull(p, at);
                assertTrue(p.ctas() <= 2L * H100_SMS, "one wave at two CTAs per SM: " + at);
                assertTrue(p.ctas() >= H100_SMS * 7 / 10, "at least 70% of the SMs busy: " + at);
                // The split-K fixup's serial read (splits x m x rows x 4 bytes by one CTA) stays small against the weights.
                assertTrue((long) p.splits() * p.tokensPerTile() * p.rowsPerCta() * 4 <= 256 * 1024, "fixup too large: " + at);
            }
        // 4096x4096 at 64 tokens: a few splits over all SMs (the cost model's pick: 43 row groups of 96 x 3 splits through
        // the workspace, 32 of 128 x 4 in a cluster).
        Sparse24Gemm.WidePlan o = Sparse24Gemm.widePlan(64, 4096, 4096, H100_SMS, H100_OPTIN);
        assertTrue(o.ctas() >= 128 && o.splits() <= 4, o.toString());
        Sparse24Gemm.WidePlan oc = Sparse24Gemm.widePlan(64, 4096, 4096, H100_SMS, H100_OPTIN, 0, 0, true);
        assertTrue(oc.ctas() >= 128 && oc.clusterReduce(), oc.toString());
        // 12288x4096: 128 row groups of 96 need no split.
        Sparse24Gemm.WidePlan qkv = Sparse24Gemm.widePlan(64, 12288, 4096, H100_SMS, H100_OPTIN);
        assertEquals(1, qkv.splits(), qkv.toString());
        assertEquals(128, qkv.ctas(), qkv.toString());
    }

    @Test
    void wideClusterPlansNeedNoWorkspaceAndNameTheirKernel() {
        for (int m : new int[] {17, 32, 33, 64})
            for (int[] nk : LLAMA2_7B) {
                Sparse24Gemm.WidePlan p = Sparse24Gemm.widePlan(m, nk[0], nk[1], H100_SMS, H100_OPTIN, 0, 0, true);
                String at = "m=" + m + " " + nk[0] + "x" + nk[1] + ": " + p;
                assertEquals(p.splits() >= 2 && p.splits() <= 4, p.clusterReduce(), at);
                if (p.clusterReduce()) {
                    assertEquals(0, p.workspaceBytes(), at);
                    assertTrue(p.kernelName("f16").endsWith("_cl" + p.splits()), at);
                    // the partial tile [MT][BN + 4] floats must fit the ring it reuses
                    assertTrue(p.tokensPerTile() * (p.rowsPerCta() + 4) * 4 <= p.sharedBytes(), at);
                }
                assertTrue(p.ctas() <= 2L * H100_SMS, at);
            }
        Sparse24Gemm.WidePlan o = Sparse24Gemm.widePlan(64, 4096, 4096, H100_SMS, H100_OPTIN, 128, 4);
        assertEquals("twofour_sparse24_wide_bf16_mt64_bn128", o.kernelName("bf16"));
        assertTrue(o.workspaceBytes() > 0);
        Sparse24Gemm.WidePlan oc = o.withClusterReduce(true);
        assertEquals("twofour_sparse24_wide_bf16_mt64_bn128_cl4", oc.kernelName("bf16"));
        assertEquals(0, oc.workspaceBytes());
        assertEquals(o, oc.withClusterReduce(false));
        assertNull(Sparse24Gemm.widePlan(64, 4096, 4096, H100_SMS, H100_OPTIN, 128, 5).withClusterReduce(true), "no _cl5 kernel");
        assertNull(Sparse24Gemm.widePlan(64, 12288, 4096, H100_SMS, H100_OPTIN, 128, 1).withClusterReduce(true), "one split: nothing to reduce");
        // Every kernel name a plan can ask for is compiled (FatbinResourceTest checks the list against the fatbin).
        for (int m : new int[] {17, 64})
            for (int rows : new int[] {96, 128, 256})
                for (int splits = 1; splits <= 6; splits++)
                    for (boolean cl : new boolean[] {false, true})
                        for (int rw : new int[] {32, 64}) {
                            Sparse24Gemm.WidePlan q = Sparse24Gemm.widePlan(m, 4096, 4096, H100_SMS, H100_OPTIN, rows, splits).withClusterReduce(cl);
                            if (q != null) q = q.withRowsPerWarp(rw);
                            if (q == null) continue;
                            assertEquals(q.stages() * wideStageBytes(q.tokensPerTile(), q.rowsPerCta()), q.sharedBytes(), q.toString());
                            for (String dt : new String[] {"f16", "bf16"})
                                assertTrue(FatbinResourceTest.EXPECTED.contains(q.kernelName(dt)), q.kernelName(dt));
                        }
        // 64-row warps exist for 64-token tiles of 256 rows only.
        assertNull(Sparse24Gemm.widePlan(32, 4096, 4096, H100_SMS, H100_OPTIN, 256, 0).withRowsPerWarp(64));
        assertNull(Sparse24Gemm.widePlan(64, 4096, 4096, H100_SMS, H100_OPTIN, 128, 0).withRowsPerWarp(64));
        Sparse24Gemm.WidePlan r64 = Sparse24Gemm.widePlan(64, 4096, 4096, H100_SMS, H100_OPTIN, 256, 2).withRowsPerWarp(64);
        assertEquals("twofour_sparse24_wide_f16_mt64_bn256_r64", r64.kernelName("f16"));
        assertEquals(128, r64.threads());
    }
}

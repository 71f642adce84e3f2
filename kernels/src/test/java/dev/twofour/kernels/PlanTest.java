package dev.twofour.kernels;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
        assertFalse(Sparse24Gemm.plan(9, 4096, 4096, 132).streamK());
        // stream-K (-Dtwofour.gemm.streamK=true): one wave of two CTAs per SM
        Sparse24Gemm.Plan sk = Sparse24Gemm.streamKPlan(1, 12288, 4096, 264);
        assertTrue(sk.streamK(), sk.toString());
        assertEquals(264, sk.ctas(), sk.toString());
        assertEquals(96, sk.counters());
        assertEquals(264L * 2 * 8 * 128, sk.workspaceFloats());
        assertEquals(2, Sparse24Gemm.streamKPlan(8, 200, 16, 264).ctas(), "never more CTAs than units (2 row groups x 1 superblock)");
        assertFalse(Sparse24Gemm.plan(1, 12288, 4096, 132).streamK(), "the classic kernel is the default");
        assertFalse(Sparse24Gemm.plan(1, 64, 12, 132).streamK(), "k % 8 != 0 takes the classic kernel");
    }

    /**
     * The stream-K partition as the kernel computes it (sparse24_gemm.cuh: begin(c) = c*U/G, ctaOf(u)): every unit
     * belongs to exactly one CTA, ctaOf inverts begin, and only a CTA's first and last segment can be partial, so
     * two partial tiles per CTA suffice.
     */
    @Test
    void streamKPartitionCoversEveryUnitOnce() {
        java.util.Random r = new java.util.Random(5);
        for (int trial = 0; trial < 400; trial++) {
            int rowGroups = 1 + r.nextInt(300), nsb = 1 + r.nextInt(50);
            int units = rowGroups * nsb;
            int g = 1 + r.nextInt(Math.min(units, 600));
            int[] owner = new int[units];
            java.util.Arrays.fill(owner, -1);
            for (int c = 0; c < g; c++) {
                long b = (long) c * units / g, e = (long) (c + 1) * units / g;
                assertTrue(e > b, "an empty CTA range: c=" + c + " of " + g + " for " + units + " units");
                int partials = 0;
                for (long u = b; u < e; ) {
                    int row = (int) (u / nsb);
                    long segEnd = Math.min(e, (long) (row + 1) * nsb);
                    long first = ((long) row * nsb + 1) * g - 1, last = ((long) (row + 1) * nsb) * g - 1;
                    boolean whole = first / units == last / units;
                    if (!whole) partials++;
                    for (long v = u; v < segEnd; v++) {
                        assertEquals(-1, owner[(int) v], "unit " + v + " twice");
                        owner[(int) v] = c;
                        assertEquals(c, ((v + 1) * g - 1) / units, "ctaOf(" + v + ")");
                    }
                    u = segEnd;
                }
                assertTrue(partials <= 2, "CTA " + c + " has " + partials + " partial segments");
            }
            for (int u = 0; u < units; u++) assertTrue(owner[u] >= 0, "unit " + u + " not covered");
        }
    }

    @Test
    void badShapesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Sparse24Gemm.plan(1, 16, 6, 132));
        assertThrows(IllegalArgumentException.class, () -> Sparse24Gemm.plan(0, 16, 16, 132));
        assertThrows(IllegalArgumentException.class, () -> Sparse24Gemm.plan(1, 16, 16, 132, 12, 0));
    }
}

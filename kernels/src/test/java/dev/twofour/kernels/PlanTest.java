package dev.twofour.kernels;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
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

    @Test
    void badShapesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> Sparse24Gemm.plan(1, 16, 6, 132));
        assertThrows(IllegalArgumentException.class, () -> Sparse24Gemm.plan(0, 16, 16, 132));
        assertThrows(IllegalArgumentException.class, () -> Sparse24Gemm.plan(1, 16, 16, 132, 12, 0));
    }
}

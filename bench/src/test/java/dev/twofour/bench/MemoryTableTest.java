package dev.twofour.bench;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.model.ModelConfig;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryTableTest {
    private static final double GIB = 1L << 30;

    @Test
    void llama2_70bIsAbout128GiBDenseAnd73GiBPackedAndOnlyThe24ModelFitsAn80GBGpu() {
        long total = 85_520_000_000L, free = 84_900_000_000L;  // an H100 80GB: 79.6 GiB, 79.1 GiB free
        MemoryTable t = MemoryTable.of("llama2-70b", ModelConfig.preset("llama2-70b"), CudaDtype.F16, 1, 385, 128, "H100", total, free);
        assertEquals(128.5, t.denseWeights() / GIB, 0.5);
        assertEquals(72.7, t.sparseWeights() / GIB, 0.5);
        // 80 layers x (q 8192x8192 + kv 2x1024x8192 + o 8192x8192 + 3 x 28672x8192) / 8 bytes of metadata
        long linear = 80L * (8192L * 8192 + 2L * 1024 * 8192 + 8192L * 8192 + 3L * 28672 * 8192);
        assertEquals(linear / 8, t.sparseMetadata());
        assertFalse(t.denseFits());
        assertTrue(t.sparseFits());
        assertTrue(t.sparseTotal() > t.sparseWeights() && t.denseTotal() > t.denseWeights());
        String md = t.markdown();
        assertTrue(md.contains("| fits (total + 0.50 GiB margin <= free) | **no** | yes |"), md);
        assertTrue(md.contains("| 2:4 unpack scratch (prefill) | — |"), md);
    }

    @Test
    void withoutAGpuTheTableStillShowsThePlan() {
        MemoryTable t = MemoryTable.of("llama2-7b", ModelConfig.preset("llama2-7b"), CudaDtype.F16, 64, 385, 128, "no GPU", -1, -1);
        assertFalse(t.hasGpu());
        assertFalse(t.sparseFits());
        assertTrue(t.markdown().contains("no GPU here"));
        // KV cache: 2 (K, V) x 32 layers x 64 sequences x 385 positions x 4096 x 2 bytes, same for both
        MemoryTable.Row kv = t.rows().stream().filter(r -> r.item().startsWith("KV cache")).findFirst().orElseThrow();
        assertEquals(2L * 32 * 64 * 385 * 4096 * 2, kv.denseBytes());
        assertEquals(kv.denseBytes(), kv.sparseBytes());
    }
}

package dev.twofour.pruner;

import dev.twofour.model.DType;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.WeightNames;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The scale benchmark's CPU parts: options, the synthetic block checkpoint, the report. */
class BlockPruneBenchTest {

    @Test
    void optionsHaveDefaultsQuickModeAndClearErrors() {
        BlockPruneBench.Options d = BlockPruneBench.parse(new String[0]);
        assertEquals(128, d.samples());
        assertEquals(2048, d.seqLen());
        assertEquals(4, d.methods().size());
        assertTrue(d.refine());
        BlockPruneBench.Options q = BlockPruneBench.parse(new String[]{"--quick", "--samples", "3", "--methods", "prox,wanda", "--no-refine"});
        assertEquals(3, q.samples());
        assertEquals(1024, q.seqLen());
        assertEquals(List.of(Method.PROX, Method.WANDA), q.methods());
        assertFalse(q.refine());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BlockPruneBench.parse(new String[]{"--samples", "0"}));
        assertTrue(e.getMessage().contains("--samples"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> BlockPruneBench.parse(new String[]{"--preset", "gpt-9"}));
        assertThrows(IllegalArgumentException.class, () -> BlockPruneBench.parse(new String[]{"--bogus"}));
    }

    @Test
    void syntheticBlockLoadsAndCapturesOnTheCpu(@TempDir Path dir) throws Exception {
        ModelConfig small = new ModelConfig(ModelConfig.LLAMA, 64, 96, 3, 4, 2, 16, 100, 1e-5, 10000, null, 128, false,
                DType.F16, false, List.of(1), List.of(2));
        ModelConfig one = BlockPruneBench.oneBlock(small);
        assertEquals(1, one.numLayers());
        BlockPruneBench.writeSyntheticBlock(dir, one, 5);
        try (RuntimeBlockModel m = RuntimeBlockModel.openCpu(dir, 1)) {
            assertEquals(1, m.numLayers());
            float[] w = m.linearWeights(0, WeightNames.Linear.DOWN);
            assertEquals(64 * 96, w.length);
            for (float x : w) assertTrue(x != 0f, "no zeros in synthetic weights");
            List<WeightNames.Linear> seen = new ArrayList<>();
            float[] out = m.block(0, m.embed(new int[]{3, 17, 99, 42, 0}), 5, (input, x, rows) -> {
                assertEquals(5, rows);
                seen.add(input);
            });
            assertEquals(5 * 64, out.length);
            assertEquals(List.of(WeightNames.Linear.Q, WeightNames.Linear.O, WeightNames.Linear.GATE, WeightNames.Linear.DOWN), seen);
        }
    }

    @Test
    void reportSumsTheLayersPerMethodAndExtrapolates() {
        BlockPruneBench.Options o = BlockPruneBench.parse(new String[]{"--samples", "2", "--seqlen", "8"});
        List<BlockPruneBench.Row> rows = List.of(
                new BlockPruneBench.Row(WeightNames.Linear.Q, 8, 8, Method.WANDA, false, 1.5, 0, 0.2, 0),
                new BlockPruneBench.Row(WeightNames.Linear.K, 8, 8, Method.WANDA, false, 2.5, 0, 0.4, 0),
                new BlockPruneBench.Row(WeightNames.Linear.Q, 8, 8, Method.PROX, true, 6.0, 0, 0.1, 57));
        String md = BlockPruneBench.report(o, ModelConfig.preset("llama2-7b"), 10, 2, rows, List.of("down_proj sparsegpt: boom"), "test GPU");
        // wanda: solve 4.0, block 10 + 4 + 2 = 16 s, ×32 = 8.5 min, mean loss 0.3.
        assertTrue(md.contains("| wanda | 4.0 | - | 16.0 | 8.5 | 0.30000 |"), md);
        assertTrue(md.contains("| prox + refine | 6.0 | - | 18.0 | 9.6 | 0.10000 |"), md);
        assertTrue(md.contains("| self_attn.q_proj | 8x8 | prox + refine | 6.00 | 0.10000 | 57 |"), md);
        assertTrue(md.contains("- down_proj sparsegpt: boom"), md);
    }
}

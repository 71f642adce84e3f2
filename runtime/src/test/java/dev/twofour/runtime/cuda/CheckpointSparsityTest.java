package dev.twofour.runtime.cuda;

import dev.twofour.cuda.CudaDtype;
import dev.twofour.model.Checkpoint;
import dev.twofour.model.CheckpointCopy;
import dev.twofour.model.ConvertedModel;
import dev.twofour.model.ConvertedModelCache;
import dev.twofour.model.DType;
import dev.twofour.model.ModelConfig;
import dev.twofour.model.Packed24;
import dev.twofour.model.SafetensorsWriter;
import dev.twofour.model.Sparse24;
import dev.twofour.model.TensorView;
import dev.twofour.model.WeightNames;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Which linear layers of a checkpoint CudaModel.load runs 2:4, where the packed data comes from, and the plan (CPU only). */
class CheckpointSparsityTest {
    @TempDir static Path tmp;
    static Path tiny, pruned, partial;
    /** Left dense in {@link #partial}: layer 2's v_proj (so layer 2's fused qkv) and layer 5's down_proj. */
    static final Set<String> KEPT_DENSE = Set.of(WeightNames.Linear.V.weight(2), WeightNames.Linear.DOWN.weight(5));

    @BeforeAll
    static void models() throws Exception {
        Path repo = Path.of(System.getProperty("twofour.repo", "..")).toAbsolutePath().normalize();
        tiny = repo.resolve("models/tiny-llama-8m");
        assertTrue(Files.isDirectory(tiny), "the embedded model is missing: " + tiny);
        pruned = tmp.resolve("pruned");
        CheckpointCopy.copyMagnitudePruned(tiny, pruned, SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES);
        partial = tmp.resolve("partial");
        Set<String> linear = Set.copyOf(WeightNames.linearWeights(ModelConfig.load(tiny)));
        CheckpointCopy.copy(tiny, partial, SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES,
                t -> linear.contains(t.name()) && !KEPT_DENSE.contains(t.name()) ? Sparse24.pruneMagnitude(t) : t);
    }

    static CheckpointSparsity decide(Path dir, SparseMode mode) throws Exception {
        try (Checkpoint ck = Checkpoint.open(dir)) {
            return CheckpointSparsity.decide(ModelConfig.load(dir), ck, null, mode);
        }
    }

    @Test
    void denseModelStaysDenseInAuto() throws Exception {
        CheckpointSparsity s = decide(tiny, SparseMode.AUTO);
        assertEquals(32, s.total());
        assertEquals(0, s.packedCount());
        assertFalse(s.anyPacked());
        assertNull(s.denseNote(5), "all dense: nothing to point out");
        assertEquals("dense: no linear layer is 2:4", s.summary());
        String why = s.decision(0, CheckpointSparsity.Fused.QKV).reason();
        assertTrue(why.startsWith("model.layers.0.self_attn.q_proj.weight: not 2:4: row 0, group "), why);
    }

    @Test
    void prunedModelRunsEveryLayer24AndPacksLikeSparse24() throws Exception {
        try (Checkpoint ck = Checkpoint.open(pruned)) {
            CheckpointSparsity s = CheckpointSparsity.decide(ModelConfig.load(pruned), ck, null, SparseMode.AUTO);
            assertEquals(32, s.packedCount());
            assertTrue(s.summary().startsWith("2:4: 32 of 32 linear layers (packed on load)"), s.summary());
            assertNull(s.denseNote(5));
            for (WeightNames.Linear w : List.of(WeightNames.Linear.K, WeightNames.Linear.DOWN)) {
                // the packed part is that weight of that block, exactly: it unpacks to the checkpoint's tensor
                Packed24 got = s.packedPart(3, w);
                float[] want = ck.tensor(w.weight(3)).toFloatArray();
                assertEquals(want.length, (long) got.n() * got.k(), w.weight(3) + " shape");
                assertArrayEquals(want, Sparse24.unpack(got), 0f, w.weight(3));
            }
            // on loads the same
            assertEquals(32, CheckpointSparsity.decide(ModelConfig.load(pruned), ck, null, SparseMode.ON).packedCount());
        }
    }

    @Test
    void aFusedLayerIs24OnlyWhenEveryPartIs() throws Exception {
        CheckpointSparsity s = decide(partial, SparseMode.AUTO);
        assertEquals(30, s.packedCount());
        List<CheckpointSparsity.Decision> dense = s.denseDecisions();
        assertEquals(2, dense.size());
        assertEquals(2, dense.get(0).layer());
        assertEquals(CheckpointSparsity.Fused.QKV, dense.get(0).fused());
        assertTrue(dense.get(0).reason().startsWith("model.layers.2.self_attn.v_proj.weight: not 2:4"), dense.get(0).reason());
        assertEquals(5, dense.get(1).layer());
        assertEquals(CheckpointSparsity.Fused.DOWN, dense.get(1).fused());
        assertTrue(s.packed(2, CheckpointSparsity.Fused.O) && s.packed(5, CheckpointSparsity.Fused.GATE_UP));
        String note = s.denseNote(5);
        assertTrue(note.startsWith("2 of 32 linear layers are not 2:4 and stay dense: layer 2 qkv (model.layers.2.self_attn.v_proj.weight"), note);
        assertTrue(note.contains("layer 5 down (model.layers.5.mlp.down_proj.weight"), note);
        assertTrue(s.denseNote(1).endsWith("; and 1 more"), s.denseNote(1));
        boolean[][] m = s.packedMatrix();
        assertFalse(m[2][CheckpointSparsity.Fused.QKV.ordinal()]);
        assertTrue(m[2][CheckpointSparsity.Fused.DOWN.ordinal()]);
    }

    @Test
    void onRefusesAModelWithDenseLayersAndSaysWhich() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> decide(partial, SparseMode.ON));
        String m = e.getMessage();
        assertTrue(m.contains("2 of 32 linear layers") && m.contains("layer 2 qkv")
                && m.contains("model.layers.2.self_attn.v_proj.weight") && m.contains("twofour prune") && m.contains("auto"), m);
        IllegalArgumentException d = assertThrows(IllegalArgumentException.class, () -> decide(tiny, SparseMode.ON));
        assertTrue(d.getMessage().contains("32 of 32 linear layers"), d.getMessage());
    }

    @Test
    void offKeepsEverythingDenseWithoutLooking() throws Exception {
        CheckpointSparsity s = decide(pruned, SparseMode.OFF);
        assertEquals(0, s.packedCount());
        assertEquals("dense (sparse mode off)", s.summary());
        assertEquals("sparse mode off", s.decision(7, CheckpointSparsity.Fused.DOWN).reason());
    }

    @Test
    void aConvertedCacheGivesDecisionsAndMappedPackedData(@TempDir Path userCache) throws Exception {
        Path dir = tmp.resolve("converted");
        CheckpointCopy.copy(partial, dir, SafetensorsWriter.DEFAULT_MAX_SHARD_BYTES);
        ModelConfig cfg = ModelConfig.load(dir);
        try (Checkpoint ck = Checkpoint.open(dir);
             ConvertedModel cm = ConvertedModelCache.forModel(dir, userCache).convert(ck, WeightNames.linearWeights(cfg),
                     ConvertedModelCache.Progress.NONE)) {
            CheckpointSparsity s = CheckpointSparsity.decide(cfg, ck, cm, SparseMode.AUTO);
            assertTrue(s.fromConvertedCache());
            assertEquals(30, s.packedCount());
            assertTrue(s.decision(2, CheckpointSparsity.Fused.QKV).reason().contains("v_proj"));
            assertTrue(s.summary().contains("from the converted cache " + cm.file()), s.summary());
            Packed24 got = s.packedPart(4, WeightNames.Linear.GATE);
            assertTrue(got.values().isNative(), "read from the mapped cache file, not packed again");
            Packed24 want = Sparse24.pack(ck.tensor(WeightNames.Linear.GATE.weight(4)));
            assertArrayEquals(want.values().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), got.values().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            assertArrayEquals(want.metadata().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), got.metadata().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        }
    }

    /** The early-exit check agrees with Sparse24.check on random tensors of every dtype and awkward sizes. */
    @Test
    void quickCheckAgreesWithSparse24() {
        Random r = new Random(24);
        for (DType dt : List.of(DType.F32, DType.F16, DType.BF16)) {
            for (int trial = 0; trial < 60; trial++) {
                int n = 1 + r.nextInt(9), k = 4 * (1 + r.nextInt(13));
                float[] w = new float[n * k];
                for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian() + 0.01f;
                Sparse24.pruneMagnitude(w, n, k);
                // mostly 2:4, sometimes one group gets a third nonzero, sometimes a -0 (zero) or NaN (nonzero) in a gap
                int e = r.nextInt(n * k / 4) * 4;
                int zeroAt = -1;
                for (int i = 0; i < 4; i++) if (w[e + i] == 0f) zeroAt = e + i;
                switch (trial % 4) {
                    case 1 -> w[zeroAt] = 0.5f;
                    case 2 -> w[zeroAt] = -0.0f;
                    case 3 -> w[zeroAt] = Float.NaN;
                    default -> { }
                }
                TensorView t = TensorView.ofFloats("w", dt, new long[] {n, k}, w);
                Sparse24.Report ref = Sparse24.check(t);
                String why = CheckpointSparsity.whyNot24(t);
                assertEquals(ref.is24(), why == null, dt + " trial " + trial + ": " + why + " vs " + ref.describe());
                if (why != null) {
                    assertTrue(why.contains("row " + ref.firstRow() + ", group " + ref.firstGroup() + " ")
                            && why.endsWith(ref.firstNonzeros() + " nonzeros"), why + " vs " + ref.describe());
                }
            }
        }
        assertEquals("K=6 is not a multiple of 4", CheckpointSparsity.whyNot24(TensorView.ofFloats("w", DType.F32, new long[] {1, 6}, new float[6])));
    }

    @Test
    void memoryPlanCountsPackedAndDenseLayers() throws Exception {
        ModelConfig c = ModelConfig.load(tiny);
        CudaModel.Options o = new CudaModel.Options(2, 128, 64, false, true);
        CheckpointSparsity s = decide(partial, SparseMode.AUTO);
        Map<String, Long> plan = CudaModel.memoryPlan(c, CudaDtype.F16, s.packedMatrix(), o);
        long h = c.hiddenSize(), im = c.intermediateSize(), qkv = c.qDim() + 2L * c.kvDim();
        long qkvDense = qkv * h * 2, oDense = h * c.qDim() * 2, guDense = 2 * im * h * 2, downDense = h * im * 2;
        long perLayerPacked = (qkvDense + oDense + guDense + downDense) * 9 / 16;   // fp16, K multiple of 16: 1.125 of 2 bytes
        long want = 6 * perLayerPacked + (perLayerPacked - qkvDense * 9 / 16 + qkvDense) + (perLayerPacked - downDense * 9 / 16 + downDense);
        assertEquals(want, plan.get("linear weights (8 layers, 30 of 32 2:4 packed)"), plan.toString());
        assertTrue(plan.containsKey("2:4 unpack scratch (prefill)"));
        assertEquals(CudaModel.memoryPlan(c, CudaDtype.F16, true, o), CudaModel.memoryPlan(c, CudaDtype.F16, CudaModel.allLayers(c, true), o));
        Map<String, Long> dense = CudaModel.memoryPlan(c, CudaDtype.F16, CudaModel.allLayers(c, false), o);
        assertEquals(8 * (qkvDense + oDense + guDense + downDense), dense.get("linear weights (8 layers)"));
        assertFalse(dense.containsKey("2:4 unpack scratch (prefill)"));
        assertEquals(6 * (qkvDense + oDense + guDense + downDense) + (oDense + guDense + downDense) + (qkvDense + oDense + guDense),
                CudaModel.denseCopyBytes(c, CudaDtype.F16, s.packedMatrix()));
    }

    /** Fusing packed parts by concatenating their arrays is packing the fused (row-concatenated) weight. */
    @Test
    void concatenatedPackedPartsArePackedFusedWeight() throws Exception {
        try (Checkpoint ck = Checkpoint.open(pruned)) {
            CheckpointSparsity s = CheckpointSparsity.decide(ModelConfig.load(pruned), ck, null, SparseMode.AUTO);
            java.io.ByteArrayOutputStream values = new java.io.ByteArrayOutputStream(), meta = new java.io.ByteArrayOutputStream();
            List<float[]> dense = new java.util.ArrayList<>();
            int rows = 0, k = 0;
            for (WeightNames.Linear w : CheckpointSparsity.Fused.QKV.parts()) {
                Packed24 p = s.packedPart(6, w);
                values.writeBytes(p.values().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                meta.writeBytes(p.metadata().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                dense.add(ck.tensor(w.weight(6)).toFloatArray());
                rows += p.n();
                k = p.k();
            }
            float[] fused = new float[rows * k];
            int at = 0;
            for (float[] d : dense) {
                System.arraycopy(d, 0, fused, at, d.length);
                at += d.length;
            }
            Packed24 want = Sparse24.pack(fused, rows, k, DType.F16);
            assertArrayEquals(want.values().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), values.toByteArray());
            assertArrayEquals(want.metadata().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), meta.toByteArray());
        }
    }

    /** The plan's packed sizes are what packing makes, also when K is padded to a multiple of 16. */
    @Test
    void packedSizesOfThePlanMatchPacking() {
        for (int k : new int[] {1372, 256, 20}) {
            float[] w = new float[7 * k];
            for (int i = 0; i < w.length; i += 4) w[i + 1] = 0.25f + i;
            Packed24 p = Sparse24.pack(w, 7, k, DType.F16);
            assertEquals(p.packedBytes(), Sparse24CudaLinear.valuesBytes(7, k, CudaDtype.F16) + Sparse24CudaLinear.metadataBytes(7, k), "K=" + k);
            assertEquals(p.values().byteSize(), 7L * p.valuesPerRow() * CudaDtype.F16.byteSize(), "values rows as uploaded, K=" + k);
        }
    }

    @Test
    void sparseModeParses() {
        assertEquals(SparseMode.AUTO, SparseMode.parse(" Auto"));
        assertEquals(SparseMode.ON, SparseMode.parse("on"));
        assertEquals(SparseMode.OFF, SparseMode.parse("OFF"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SparseMode.parse("both"));
        assertTrue(e.getMessage().contains("auto, on or off") && e.getMessage().contains("'both'"), e.getMessage());
    }
}

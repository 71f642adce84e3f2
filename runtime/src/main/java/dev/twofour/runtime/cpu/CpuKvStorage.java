package dev.twofour.runtime.cpu;

import dev.twofour.runtime.KvCache;
import dev.twofour.runtime.KvStorage;

/**
 * KV storage on the CPU: per layer, K and V as fp32 arrays of {@code numBlocks × blockSize} token slots of
 * {@code numKvHeads × headDim} floats (fp32 so the CPU backend stays the exact reference).
 */
final class CpuKvStorage implements KvStorage {
    final KvCache.Shape shape;
    private float[][] k, v;

    CpuKvStorage(KvCache.Shape shape) {
        this.shape = shape;
        long perLayer = (long) shape.numBlocks() * shape.blockSize() * shape.kvWidth();
        if (perLayer > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("KV cache of " + shape.numBlocks() + " blocks × " + shape.blockSize()
                    + " tokens × " + shape.kvWidth() + " floats per layer is too large for the CPU backend; use fewer blocks");
        }
        k = new float[shape.numLayers()][(int) perLayer];
        v = new float[shape.numLayers()][(int) perLayer];
    }

    float[] k(int layer) { check(); return k[layer]; }

    float[] v(int layer) { check(); return v[layer]; }

    private void check() {
        if (k == null) throw new IllegalStateException("KV storage is closed");
    }

    @Override public void close() {
        k = null;
        v = null;
    }
}

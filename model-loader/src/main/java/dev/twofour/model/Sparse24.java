package dev.twofour.model;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * 2:4 sparsity along K for a weight W [N][K] (HF Linear layout: N outputs, K inputs): every group
 * of 4 consecutive inputs of a row has at most 2 nonzeros. Checking, packing to the layout of
 * {@link Packed24} and unpacking, for F32, F16 and BF16; works on the raw element bits, so packing
 * and unpacking are exact.
 */
public final class Sparse24 {
    private Sparse24() {}

    /**
     * Result of {@link #check}.
     * @param violations       groups with more than 2 nonzeros
     * @param firstRow         row of the first violating group (row-major order), -1 if none
     * @param firstGroup       group index within that row (inputs 4g..4g+3), -1 if none
     * @param firstNonzeros    nonzeros in that group (3 or 4), 0 if none
     */
    public record Report(long rows, long groupsPerRow, long violations, long firstRow, long firstGroup, int firstNonzeros) {
        public boolean is24() { return violations == 0; }

        /** "2:4" or "not 2:4: 12 of 4096 groups have more than 2 nonzeros, first at row 3, group 7 (inputs 28..31, 3 nonzeros)". */
        public String describe() {
            if (is24()) return "2:4";
            return "not 2:4: " + violations + " of " + rows * groupsPerRow + " groups have more than 2 nonzeros, first at row "
                    + firstRow + ", group " + firstGroup + " (inputs " + 4 * firstGroup + ".." + (4 * firstGroup + 3) + ", "
                    + firstNonzeros + " nonzeros)";
        }
    }

    // ------------------------------------------------------------------ check

    /** Checks a 2-D F32/F16/BF16 tensor [N][K]; K must be a multiple of 4. */
    public static Report check(TensorView w) {
        Matrix m = Matrix.of(w);
        long violations = 0, firstRow = -1, firstGroup = -1;
        int firstNz = 0;
        long groups = m.k / 4;
        for (long r = 0; r < m.n; r++) {
            long base = r * m.k;
            for (long g = 0; g < groups; g++) {
                int nz = Integer.bitCount(m.nonzeroMask(base + 4 * g));
                if (nz > 2) {
                    if (violations == 0) { firstRow = r; firstGroup = g; firstNz = nz; }
                    violations++;
                }
            }
        }
        return new Report(m.n, groups, violations, firstRow, firstGroup, firstNz);
    }

    /** Checks float weights [n][k] stored row-major in {@code w}. */
    public static Report check(float[] w, int n, int k) {
        return check(TensorView.ofFloats("weight", DType.F32, new long[]{n, k}, w));
    }

    // ------------------------------------------------------------------ pack / unpack

    /**
     * Packs a 2-D F32/F16/BF16 2:4 tensor [N][K] (values keep the tensor's dtype, bit for bit).
     * K is padded to a multiple of 16 (see {@link Packed24#padded()}).
     * @throws IllegalArgumentException when K is not a multiple of 4, or the tensor is not 2:4 (the
     *         message says where the first violation is)
     */
    public static Packed24 pack(TensorView w) {
        Matrix m = Matrix.of(w);
        Report report = check(w);
        if (!report.is24()) {
            throw new IllegalArgumentException("tensor '" + w.name() + "' " + Arrays.toString(w.shape()) + " is "
                    + report.describe() + "; prune it to 2:4 first (or keep it dense)");
        }
        if (m.n > Integer.MAX_VALUE || m.k > Integer.MAX_VALUE - 15) {
            throw new IllegalArgumentException("tensor '" + w.name() + "' " + Arrays.toString(w.shape()) + " is too large to pack");
        }
        int n = (int) m.n, k = (int) m.k, kp = Packed24.paddedK(k);
        MemorySegment values = MemorySegment.ofArray(new byte[Math.toIntExact(Packed24.valuesBytes(n, kp, w.dtype()))]);
        MemorySegment meta = MemorySegment.ofArray(new byte[Math.toIntExact(Packed24.metadataBytes(n, kp))]);
        int groups = k / 4, allGroups = kp / 4, metaPerRow = kp / 8, valsPerRow = kp / 2;
        MemorySegment src = w.data();
        boolean wide = m.es == 4;
        for (int r = 0; r < n; r++) {
            long rowElem = (long) r * k;
            long dstVal = (long) r * valsPerRow;
            long dstMeta = (long) r * metaPerRow;
            int lowNibble = 0;
            for (int g = 0; g < allGroups; g++) {
                int i0 = 0, i1 = 1; // padded groups: (0,1) with zero values (the arrays start zeroed)
                if (g < groups) {
                    long e = rowElem + 4L * g;
                    int mask = m.nonzeroMask(e);
                    if (Integer.bitCount(mask) == 2) {
                        i0 = Integer.numberOfTrailingZeros(mask);
                        i1 = 31 - Integer.numberOfLeadingZeros(mask);
                    } else if (mask > 1) {
                        i1 = Integer.numberOfTrailingZeros(mask); // one nonzero at 1..3: pair it with input 0
                    } // no nonzero, or only input 0: (0,1)
                    long v = dstVal + 2L * g;
                    if (wide) {
                        values.setAtIndex(TensorView.INT_LE, v, src.getAtIndex(TensorView.INT_LE, e + i0));
                        values.setAtIndex(TensorView.INT_LE, v + 1, src.getAtIndex(TensorView.INT_LE, e + i1));
                    } else {
                        values.setAtIndex(TensorView.SHORT_LE, v, src.getAtIndex(TensorView.SHORT_LE, e + i0));
                        values.setAtIndex(TensorView.SHORT_LE, v + 1, src.getAtIndex(TensorView.SHORT_LE, e + i1));
                    }
                }
                int nibble = i0 | (i1 << 2);
                if ((g & 1) == 0) {
                    lowNibble = nibble;
                } else {
                    meta.set(ValueLayout.JAVA_BYTE, dstMeta + g / 2, (byte) (lowNibble | (nibble << 4)));
                }
            }
            // kPadded/4 groups per row is a multiple of 4, so every metadata byte was written whole.
        }
        return new Packed24(w.dtype(), n, k, kp, values, meta);
    }

    /** Packs float weights [n][k] converted to {@code dtype}. */
    public static Packed24 pack(float[] w, int n, int k, DType dtype) {
        return pack(TensorView.ofFloats("weight", dtype, new long[]{n, k}, w));
    }

    /** The dense weight [n][k] in the packed dtype, bit for bit what was packed (dropped inputs are +0). */
    public static TensorView unpackTensor(Packed24 p, String name) {
        boolean wide = p.dtype().byteSize() == 4;
        MemorySegment dense = MemorySegment.ofArray(new byte[Math.toIntExact((long) p.n() * p.k() * p.dtype().byteSize())]);
        MemorySegment vals = p.values(), meta = p.metadata();
        int groups = p.k() / 4, metaPerRow = p.metadataBytesPerRow(), valsPerRow = p.valuesPerRow();
        for (int r = 0; r < p.n(); r++) {
            for (int g = 0; g < groups; g++) {
                int b = meta.get(ValueLayout.JAVA_BYTE, (long) r * metaPerRow + g / 2) & 0xFF;
                int nibble = (g & 1) == 0 ? b & 0xF : b >>> 4;
                int i0 = nibble & 3, i1 = nibble >>> 2;
                if (i0 >= i1) {
                    throw new IllegalArgumentException("corrupt 2:4 metadata at row " + r + ", group " + g
                            + ": indices " + i0 + "," + i1 + " (the first must be below the second)");
                }
                long dst = (long) r * p.k() + 4L * g;
                long v = (long) r * valsPerRow + 2L * g;
                if (wide) {
                    dense.setAtIndex(TensorView.INT_LE, dst + i0, vals.getAtIndex(TensorView.INT_LE, v));
                    dense.setAtIndex(TensorView.INT_LE, dst + i1, vals.getAtIndex(TensorView.INT_LE, v + 1));
                } else {
                    dense.setAtIndex(TensorView.SHORT_LE, dst + i0, vals.getAtIndex(TensorView.SHORT_LE, v));
                    dense.setAtIndex(TensorView.SHORT_LE, dst + i1, vals.getAtIndex(TensorView.SHORT_LE, v + 1));
                }
            }
        }
        return new TensorView(name, p.dtype(), new long[]{p.n(), p.k()}, dense);
    }

    /** The dense weight [n][k] as floats. */
    public static float[] unpack(Packed24 p) {
        return unpackTensor(p, "unpacked").toFloatArray();
    }

    // ------------------------------------------------------------------ magnitude pruning

    /**
     * Magnitude 2:4 projection in place: in every group of 4 along K keep the 2 entries of largest
     * |w| (on ties the lower index), set the other 2 to +0.
     * @throws IllegalArgumentException when k is not a multiple of 4 or w is not n×k
     */
    public static void pruneMagnitude(float[] w, int n, int k) {
        if (k <= 0 || k % 4 != 0) throw notMultipleOf4("weight", k);
        if ((long) n * k != w.length) {
            throw new IllegalArgumentException("weight has " + w.length + " values, not " + n + "×" + k);
        }
        for (int e = 0; e < w.length; e += 4) {
            // indices of the two largest magnitudes; strict '>' keeps the lower index on ties
            int a = 0, b = -1;
            for (int i = 1; i < 4; i++) {
                if (Math.abs(w[e + i]) > Math.abs(w[e + a])) { b = a; a = i; }
                else if (b < 0 || Math.abs(w[e + i]) > Math.abs(w[e + b])) b = i;
            }
            for (int i = 0; i < 4; i++) if (i != a && i != b) w[e + i] = 0f;
        }
    }

    /** A magnitude-pruned copy of a 2-D F32/F16/BF16 tensor (same name, dtype and shape). */
    public static TensorView pruneMagnitude(TensorView w) {
        Matrix m = Matrix.of(w);
        float[] v = w.toFloatArray();
        pruneMagnitude(v, (int) m.n, (int) m.k);
        return TensorView.ofFloats(w.name(), w.dtype(), w.shape(), v);
    }

    static IllegalArgumentException notMultipleOf4(String name, long k) {
        return new IllegalArgumentException("tensor '" + name + "': K=" + k + " (input features) is not a multiple of 4, "
                + "so it has no 2:4 groups; such a layer cannot be 2:4-sparse and stays dense");
    }

    /** A 2-D compute-dtype tensor read as raw element bits. */
    private record Matrix(TensorView t, long n, long k, int es, int zeroMask) {
        static Matrix of(TensorView w) {
            if (w.rank() != 2) {
                throw new IllegalArgumentException("tensor '" + w.name() + "' " + Arrays.toString(w.shape())
                        + " is not a 2-D weight [N][K]");
            }
            if (!w.dtype().isComputeType()) {
                throw new IllegalArgumentException("tensor '" + w.name() + "' is " + w.dtype() + "; 2:4 needs F32, F16 or BF16");
            }
            long k = w.dim(1);
            if (k == 0 || k % 4 != 0) throw notMultipleOf4(w.name(), k);
            int es = w.dtype().byteSize();
            return new Matrix(w, w.dim(0), k, es, es == 4 ? 0x7FFFFFFF : 0x7FFF); // sign bit ignored: -0 is zero
        }

        int bits(long element) {
            MemorySegment d = t.data();
            return es == 4 ? d.get(TensorView.INT_LE, element * 4) : d.get(TensorView.SHORT_LE, element * 2) & 0xFFFF;
        }

        /** Bit i set when element e+i is nonzero (i = 0..3). */
        int nonzeroMask(long e) {
            int mask = 0;
            if (es == 2) {
                long q = t.data().get(TensorView.LONG_LE, e * 2); // the 4 elements in one read
                for (int i = 0; i < 4; i++) if (((q >>> (16 * i)) & 0x7FFF) != 0) mask |= 1 << i;
            } else {
                for (int i = 0; i < 4; i++) if ((bits(e + i) & zeroMask) != 0) mask |= 1 << i;
            }
            return mask;
        }
    }
}

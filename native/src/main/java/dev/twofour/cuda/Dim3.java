package dev.twofour.cuda;

/** Grid or block dimensions of a kernel launch; every component is at least 1. */
public record Dim3(int x, int y, int z) {
    public Dim3 {
        if (x < 1 || y < 1 || z < 1) {
            throw new IllegalArgumentException("launch dimensions must be >= 1, got (" + x + ", " + y + ", " + z + ")");
        }
    }

    public static Dim3 of(int x) { return new Dim3(x, 1, 1); }
    public static Dim3 of(int x, int y) { return new Dim3(x, y, 1); }
    public static Dim3 of(int x, int y, int z) { return new Dim3(x, y, z); }

    /** Blocks needed to cover {@code n} items with {@code perBlock} items each. */
    public static int blocksFor(long n, int perBlock) {
        if (n <= 0) return 1;
        long b = (n + perBlock - 1) / perBlock;
        if (b > Integer.MAX_VALUE) throw new IllegalArgumentException(n + " items need more than 2^31-1 blocks");
        return (int) b;
    }

    @Override public String toString() { return "(" + x + ", " + y + ", " + z + ")"; }
}

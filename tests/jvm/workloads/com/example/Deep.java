package com.example;

/** Recursion `depth` frames deep under `root`, burning CPU (or allocating,
 * with "alloc") at the bottom in `bottom`, for the given seconds:
 *   Deep SECONDS DEPTH cpu|alloc */
public class Deep {
    static volatile long sink;
    static volatile Object keep;

    static long bottom(long s, boolean alloc) {
        long x = s;
        for (int i = 0; i < 20_000; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            if (alloc && (i & 63) == 0)
                keep = new long[64];
        }
        return x;
    }

    static long recurse(int d, long s, boolean alloc) {
        if (d <= 0) return bottom(s, alloc);
        return recurse(d - 1, s + d, alloc) + 1;
    }

    static long root(int depth, long s, boolean alloc) {
        return recurse(depth, s, alloc);
    }

    public static void main(String[] args) {
        double seconds = Double.parseDouble(args[0]);
        int depth = Integer.parseInt(args[1]);
        boolean alloc = args.length > 2 && args[2].equals("alloc");
        long end = System.nanoTime() + (long) (seconds * 1e9);
        long x = 0;
        while (System.nanoTime() < end)
            x += root(depth, x, alloc);
        sink = x;
        System.out.println("done " + sink);
    }
}

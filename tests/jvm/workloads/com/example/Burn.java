package com.example;

/** Two methods burning CPU 3:1 on one thread, for a fixed wall time. */
public class Burn {
    static volatile long sink;

    static long spin(long iterations) {
        long x = 0x9E3779B97F4A7C15L;
        for (long i = 0; i < iterations; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
        }
        return x;
    }

    static void heavy() { sink += spin(300_000); }

    static void light() { sink += spin(100_000); }

    public static void main(String[] args) {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 3;
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < end) {
            heavy();
            light();
        }
        System.out.println("done " + sink);
    }
}

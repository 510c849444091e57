package com.example;

/** Compiled Java code calling into native code without a JNI transition:
 * a double remainder (SharedRuntime::drem, then libm's fmod) and the clock
 * (System.nanoTime: os::javaTimeNanos, then the vDSO's clock_gettime). The
 * JIT makes these leaf calls, with no frame anchor for the stack walker. */
public class LeafCalls {
    static double remainders(double x, int n) {
        for (int i = 1; i < n; i++)
            x += Math.sqrt(i) / (1 + (x % 7.3));
        return x;
    }

    static long clockReads(int n) {
        long s = 0;
        for (int i = 0; i < n; i++)
            s += System.nanoTime() & 1;
        return s;
    }

    public static void main(String[] args) {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 3;
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        double x = 1;
        long s = 0;
        while (System.nanoTime() < end) {
            x = remainders(x, 200_000);
            s += clockReads(200_000);
        }
        System.out.println("done " + (long) x + " " + s);
    }
}

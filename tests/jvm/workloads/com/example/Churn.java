package com.example;

import java.util.ArrayList;
import java.util.List;

/** Many short-lived threads, heavy garbage, classes loaded and dropped
 * (class unloading), and compiled code thrown away (deoptimization): the
 * agent must not crash or hang. */
public class Churn {
    static volatile Object sink;

    public interface Shape { long area(long x); }
    public static final class Square implements Shape { public long area(long x) { return x * x; } }
    static final class Line implements Shape { public long area(long x) { return x; } }
    static final class Cube implements Shape { public long area(long x) { return x * x * x; } }

    /** Compiled while only Square is seen (a monomorphic inline); Line and
     * Cube showing up later invalidate it: uncommon traps, deoptimization. */
    static long shapes(Shape s, int n) {
        long t = 0;
        for (int i = 0; i < n; i++) t += s.area(i);
        return t;
    }

    static long work(int n) {
        long x = 0;
        for (int i = 0; i < n; i++) {
            sink = new long[64];
            x += i * 31L;
        }
        return x;
    }

    static final class Loader extends ClassLoader {
        Loader() { super(Churn.class.getClassLoader()); }
        Class<?> define(byte[] b) { return defineClass(null, b, 0, b.length); }
    }

    public static void main(String[] args) throws Exception {
        byte[] squareBytes;
        try (java.io.InputStream in = Churn.class.getResourceAsStream("Churn$Square.class")) {
            squareBytes = in.readAllBytes();
        }
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 3;
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        int threads = 0, round = 0;
        Shape[] kinds = {new Square(), new Line(), new Cube()};
        while (System.nanoTime() < end) {
            round++;
            // Square alone for a while, then all three in turn.
            sink = shapes(kinds[round < 50 ? 0 : round % 3], 50_000);
            List<Thread> batch = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                Thread t = new Thread(() -> work(20_000));
                t.start();
                batch.add(t);
            }
            for (Thread t : batch) t.join();
            threads += batch.size();
            // A class defined by a loader of its own each round, used, then
            // dropped: it unloads at the next GC (with its jmethodIDs).
            Shape fresh = (Shape) new Loader().define(squareBytes).getDeclaredConstructor().newInstance();
            sink = shapes(fresh, 10_000);
            if (threads % 256 == 0) System.gc();
        }
        System.out.println("done " + threads);
    }
}

package com.example;

import java.util.ArrayList;
import java.util.List;

/** Many short-lived threads, heavy garbage, and classes loaded and dropped
 * (class unloading): the agent must not crash or hang. */
public class Churn {
    static volatile Object sink;

    static long work(int n) {
        long x = 0;
        for (int i = 0; i < n; i++) {
            sink = new long[64];
            x += i * 31L;
        }
        return x;
    }

    public static void main(String[] args) throws Exception {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 3;
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        int threads = 0;
        while (System.nanoTime() < end) {
            List<Thread> batch = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                Thread t = new Thread(() -> work(20_000));
                t.start();
                batch.add(t);
            }
            for (Thread t : batch) t.join();
            threads += batch.size();
            // A class loader per round, dropped afterwards: its classes unload at GC.
            ClassLoader cl = new ClassLoader(Churn.class.getClassLoader()) {};
            sink = cl;
            if (threads % 256 == 0) System.gc();
        }
        System.out.println("done " + threads);
    }
}

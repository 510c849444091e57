package com.example;

/** Two methods allocating 3:1 by bytes (same object size, 3x as many). */
public class Alloc {
    static volatile Object sink;

    static void allocBig() {
        for (int i = 0; i < 3; i++)
            sink = new byte[4096];
    }

    static void allocSmall() { sink = new byte[4096]; }

    public static void main(String[] args) {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 3;
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < end) {
            for (int i = 0; i < 1000; i++) {
                allocBig();
                allocSmall();
            }
        }
        System.out.println("done");
    }
}

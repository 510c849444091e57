package com.example;

/** Threads that block: one sleeps, one waits on a lock another holds, one burns CPU. */
public class Sleepy {
    static final Object LOCK = new Object();
    static volatile long sink;

    static void sleeper(long end) {
        while (System.currentTimeMillis() < end) {
            try { Thread.sleep(50); } catch (InterruptedException e) { return; }
        }
    }

    static void holder(long end) {
        while (System.currentTimeMillis() < end) {
            synchronized (LOCK) {
                long t = System.nanoTime() + 20_000_000L;
                while (System.nanoTime() < t) sink++;
            }
        }
    }

    static void waiter(long end) {
        while (System.currentTimeMillis() < end) {
            synchronized (LOCK) { sink++; }
        }
    }

    public static void main(String[] args) throws Exception {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 3;
        long end = System.currentTimeMillis() + seconds * 1000;
        Thread a = new Thread(() -> sleeper(end), "sleeper");
        Thread b = new Thread(() -> holder(end), "holder");
        Thread c = new Thread(() -> waiter(end), "waiter");
        a.start(); b.start(); c.start();
        a.join(); b.join(); c.join();
        System.out.println("done");
    }
}

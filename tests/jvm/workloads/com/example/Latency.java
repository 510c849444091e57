package com.example;

import dev.polyprof.Profiler;

/**
 * A request loop reporting latencies through dev.polyprof.Profiler, for the
 * agent's triggered captures and circuit breaker. Prints what the API
 * answered, one fact per line, then "done".
 *   p95 SECONDS      every request reports 900 ms: the p95 trigger fires once per cooldown
 *   manual           two manual triggers, the second after the first capture ended
 *   breaker          three latencies 5x the baseline while continuous profiling runs,
 *                    then one good one after 2s (past a short breaker_cooldown)
 */
public class Latency {
    static volatile long sink;

    static void work(long millis) {
        long end = System.nanoTime() + millis * 1_000_000L;
        long x = 0x9E3779B97F4A7C15L;
        while (System.nanoTime() < end) {
            for (int i = 0; i < 10_000; i++) {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
            }
        }
        sink += x;
    }

    public static void main(String[] args) throws Exception {
        System.out.println("agent " + Profiler.agentLoaded());
        long t0 = System.nanoTime();
        switch (args[0]) {
            case "p95": {
                long end = t0 + (long) (Double.parseDouble(args[1]) * 1e9);
                while (System.nanoTime() < end) {
                    work(2);
                    // The trigger reads the clock between these two.
                    long before = System.nanoTime() - t0;
                    if (Profiler.recordLatency(900))
                        System.out.println("fired " + before / 1000 + " " + (System.nanoTime() - t0) / 1000);
                }
                System.out.println("p95 " + Profiler.p95());
                break;
            }
            case "manual": {
                System.out.println("manual1 " + Profiler.trigger("deploy"));
                while (Profiler.capturing())
                    work(10);
                System.out.println("manual2 " + Profiler.trigger("deploy"));
                break;
            }
            case "breaker": {
                work(300);
                System.out.println("profiling " + Profiler.profiling());
                for (int i = 1; i <= 3; i++) {
                    Profiler.recordLatency(50, 10);
                    System.out.println("open after " + i + " " + Profiler.breakerOpen());
                }
                System.out.println("profiling " + Profiler.profiling());
                System.out.println("trigger " + Profiler.trigger("after"));
                work(2000);
                System.out.println("trips " + Profiler.breakerTrips());
                // Past the cooldown the next report resumes continuous profiling.
                Profiler.recordLatency(10, 10);
                System.out.println("open " + Profiler.breakerOpen());
                System.out.println("profiling " + Profiler.profiling());
                work(300);
                break;
            }
            default:
                throw new IllegalArgumentException(args[0]);
        }
        System.out.println("done " + sink);
    }
}

package dev.polyprof;

/**
 * The application's side of the polyprof JVM agent: latency reports for the
 * p95 trigger and the circuit breaker, and manual captures. The policies are
 * the agent's (its C core's); this class only forwards to it. Its natives
 * are bound by the agent when the class is loaded; without the agent every
 * method does nothing and returns false (or -1), so the calls may stay in
 * code that runs unprofiled. From the agent jar, {@link #load(String)}
 * starts the agent in a running JVM.
 *
 * <pre>
 * long t0 = System.nanoTime();
 * handle(request);
 * Profiler.recordLatency((System.nanoTime() - t0) / 1e6);
 * </pre>
 */
public final class Profiler {
    /** Where the agent jar carries the agent library. */
    static final String LIBRARY_RESOURCE = "/dev/polyprof/native/linux-x86_64/libpolyprof.so";

    private static volatile boolean AGENT = probe();

    private Profiler() {}

    /**
     * Loads and starts the agent from the agent jar, in a JVM that is
     * already running: the library is extracted to a private temporary file
     * (removed at exit) and loaded. {@code options} are -agentpath's
     * ({@code start,event=cpu,file=out.pb.gz}); empty leaves the choice to
     * the environment (ENABLE_PROFILING and friends). Bad options print the
     * agent's one-line error and the program runs on unprofiled. Returns
     * whether the agent runs; a second call does nothing but say so.
     */
    public static synchronized boolean load(String options) {
        if (!AGENT) {
            java.nio.file.Path library;
            try {
                library = extractLibrary();
            } catch (java.io.IOException | UnsupportedOperationException e) {
                System.err.println("polyprof: cannot extract the agent library: " + e.getMessage()
                        + "; the JVM runs on without the profiler");
                return false;
            }
            try {
                System.load(library.toString());
            } catch (UnsatisfiedLinkError e) {
                System.err.println("polyprof: cannot load " + library + ": " + e.getMessage()
                        + "; the JVM runs on without the profiler");
                return false;
            }
        }
        boolean running = load0(options == null ? "" : options);
        AGENT = probe();
        return running;
    }

    /** As {@link #load(String)} with no options: the environment decides. */
    public static boolean load() {
        return load("");
    }

    private static java.nio.file.Path extractLibrary() throws java.io.IOException {
        String os = System.getProperty("os.name", "");
        String arch = System.getProperty("os.arch", "");
        if (!os.equals("Linux") || !(arch.equals("amd64") || arch.equals("x86_64")))
            throw new UnsupportedOperationException("this jar carries the agent for Linux x86_64, not " + os + " " + arch);
        try (java.io.InputStream in = Profiler.class.getResourceAsStream(LIBRARY_RESOURCE)) {
            if (in == null)
                throw new java.io.IOException(LIBRARY_RESOURCE + " is not in " + Profiler.class.getProtectionDomain()
                        .getCodeSource());
            // createTempDirectory gives a directory only this user can enter.
            java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("polyprof-");
            java.nio.file.Path library = dir.resolve("libpolyprof.so");
            java.nio.file.Files.copy(in, library);
            library.toFile().deleteOnExit();
            dir.toFile().deleteOnExit();
            return library;
        }
    }

    private static boolean probe() {
        try {
            profiling0();
            return true;
        } catch (UnsatisfiedLinkError e) {
            return false;
        }
    }

    /** Whether the agent is loaded (and bound this class). */
    public static boolean agentLoaded() {
        return AGENT;
    }

    /**
     * One request's latency in milliseconds: feeds the p95 trigger (the last
     * 100 latencies; once there are 20, a p95 above trigger_p95_ms starts a
     * capture, at most once per trigger_cooldown and within the rate limit)
     * and the circuit breaker (against the baseline learned while not
     * profiling). Returns true when this call started a capture.
     */
    public static boolean recordLatency(double ms) {
        return AGENT && record0(ms, -1);
    }

    /** As {@link #recordLatency(double)}, with the breaker's baseline given. */
    public static boolean recordLatency(double ms, double baselineMs) {
        return AGENT && record0(ms, baselineMs < 0 ? -1 : baselineMs);
    }

    /**
     * A capture now (trigger_duration at trigger_interval), stored with
     * {@code reason} as its trigger; within the process-wide rate limit,
     * refused while the breaker is open or a capture runs. Returns true when
     * it started.
     */
    public static boolean trigger(String reason) {
        return AGENT && trigger0(reason);
    }

    /** Whether the circuit breaker is open (profiling paused for its cooldown). */
    public static boolean breakerOpen() {
        return AGENT && breakerOpen0();
    }

    /** How many times the breaker tripped. */
    public static long breakerTrips() {
        return AGENT ? breakerTrips0() : 0;
    }

    /** The p95 of the last 100 latencies, -1 with fewer than 20. */
    public static double p95() {
        return AGENT ? p950() : -1;
    }

    /** Whether a triggered capture runs now. */
    public static boolean capturing() {
        return AGENT && capturing0();
    }

    /** Whether the profiler samples now (a capture or continuous profiling). */
    public static boolean profiling() {
        return AGENT && profiling0();
    }

    private static native boolean record0(double ms, double baselineMs);
    private static native boolean trigger0(String reason);
    private static native boolean breakerOpen0();
    private static native long breakerTrips0();
    private static native double p950();
    private static native boolean capturing0();
    private static native boolean profiling0();
    private static native boolean load0(String options);
}

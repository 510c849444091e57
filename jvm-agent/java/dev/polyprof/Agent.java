package dev.polyprof;

/**
 * The agent jar's entry point: {@code java -javaagent:polyprof-agent.jar=start,event=cpu,file=out.pb.gz}
 * takes -agentpath's options and starts the agent before main, through
 * {@link Profiler#load(String)}. Also the Agent-Class, for tools that load
 * agents into a running JVM.
 */
public final class Agent {
    private Agent() {}

    public static void premain(String options) {
        Profiler.load(options);
    }

    public static void agentmain(String options) {
        Profiler.load(options);
    }
}

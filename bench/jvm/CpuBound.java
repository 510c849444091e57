import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** A fixed amount of CPU-bound work on one thread (sorting, hashing, maps,
 * strings, arithmetic), so a profiler's overhead shows as extra CPU and wall
 * time. Prints the time the work itself took (after JVM start-up). */
public class CpuBound {
    static long sortWork(Random rnd) {
        int[] a = new int[200_000];
        for (int i = 0; i < a.length; i++) a[i] = rnd.nextInt();
        Arrays.sort(a);
        return a[a.length / 2];
    }

    static long mapWork(Random rnd) {
        Map<Integer, Integer> m = new HashMap<>();
        for (int i = 0; i < 200_000; i++) m.merge(rnd.nextInt(50_000), 1, Integer::sum);
        long s = 0;
        for (int v : m.values()) s += v * 31L;
        return s;
    }

    static long stringWork(int round) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 20_000; i++) sb.append(i * round).append(',');
        return sb.toString().hashCode();
    }

    static long mathWork(int round) {
        double x = round;
        for (int i = 1; i < 2_000_000; i++) x += Math.sqrt(i) / (1 + (x % 7));
        return (long) x;
    }

    static long listWork(Random rnd) {
        List<Long> l = new ArrayList<>();
        for (int i = 0; i < 100_000; i++) l.add(rnd.nextLong());
        return l.stream().filter(v -> (v & 1) == 0).mapToLong(v -> v >>> 3).sum();
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 60;
        Random rnd = new Random(42);
        long t0 = System.nanoTime(), sink = 0;
        for (int r = 0; r < rounds; r++) {
            sink += sortWork(rnd) + mapWork(rnd) + stringWork(r) + mathWork(r) + listWork(rnd);
        }
        System.out.printf("work_seconds=%.3f sink=%d%n", (System.nanoTime() - t0) / 1e9, sink);
    }
}

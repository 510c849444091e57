package com.example;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/** javac, the JDK's own compiler, run in-process on the calling (main)
 * thread over generated sources: a real program nobody here wrote, with
 * deep generic type checking, lambdas and many small classes.
 *   Javac DIR FILES */
public class Javac {
    static int GENERIC = Integer.getInteger("generic", 1);

    static String source(int i, int files) {
        StringBuilder b = new StringBuilder();
        b.append("package gen;\n\nimport java.util.*;\nimport java.util.function.*;\nimport java.util.stream.*;\n\n");
        b.append("public class C").append(i).append(" implements Comparable<C").append(i).append("> {\n");
        b.append("    private final Map<String, List<Integer>> data = new HashMap<>();\n");
        b.append("    private int value;\n");
        b.append("    public int compareTo(C").append(i).append(" o) { return Integer.compare(value, o.value); }\n");
        for (int m = 0; m < GENERIC; m++) {
            int other = (i * 7 + m * 13) % files;
            b.append("    public <T extends Comparable<T>> List<T> m").append(m)
                    .append("(List<T> in, Function<T, String> key) {\n");
            b.append("        Map<String, List<T>> groups = in.stream().collect(Collectors.groupingBy(key));\n");
            b.append("        List<T> out = new ArrayList<>();\n");
            b.append("        for (Map.Entry<String, List<T>> e : groups.entrySet()) {\n");
            b.append("            Optional<T> best = e.getValue().stream().max(Comparator.naturalOrder());\n");
            b.append("            best.ifPresent(out::add);\n");
            b.append("        }\n");
            b.append("        data.computeIfAbsent(\"m").append(m).append("\", k -> new ArrayList<>()).add(out.size());\n");
            b.append("        String s = String.valueOf(new C").append(other).append("().n").append(m % 4)
                    .append("(value + ").append(m).append("));\n");
            b.append("        value += s.length() + IntStream.range(0, ").append(m + 3)
                    .append(").map(x -> x * x).filter(x -> x % 3 == 0).sum();\n");
            b.append("        return out;\n    }\n");
        }
        for (int m = 0; m < 4; m++) {
            b.append("    public long n").append(m).append("(int x) {\n");
            b.append("        switch (x % 4) {\n");
            b.append("            case 0: return x * ").append(m + 1).append("L;\n");
            b.append("            case 1: return Long.rotateLeft(x, ").append(m).append(");\n");
            b.append("            default: return Objects.hash(x, \"").append(i).append("\", ").append(m).append(");\n");
            b.append("        }\n    }\n");
        }
        b.append("}\n");
        return b.toString();
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        int files = Integer.parseInt(args[1]);
        Path src = dir.resolve("src/gen");
        Files.createDirectories(src);
        List<String> argv = new ArrayList<>(List.of("-proc:none", "-d", dir.resolve("classes").toString()));
        for (int i = 0; i < files; i++) {
            Path f = src.resolve("C" + i + ".java");
            Files.writeString(f, source(i, files));
            argv.add(f.toString());
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        int rc = javac.run(null, null, null, argv.toArray(new String[0]));
        if (rc != 0)
            throw new IllegalStateException("javac exit " + rc);
        System.out.println("done " + files);
    }
}

#!/usr/bin/env python3
"""Fixed CPU cost of the JVM agent: a JVM that prints one line, with and
without -agentpath, for one or more builds of the agent.

    python bench/jvm_start_cost.py --agent build/rel/jvm-agent/libpolyprof.so [--agent OTHER.so] [--rounds 15]

Each round runs, in a shuffled order, the plain JVM, the JVM with each agent
(`-agentpath:AGENT=file=OUT.pb.gz`: CPU mode at its default interval,
profile written at exit) and a second plain run as the noise floor. CPU is
user+sys of the JVM process (RUSAGE_CHILDREN delta). Reported: medians and
the median of each round's difference to its plain run.

No pass/fail: the script reports.
"""
import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import tempfile
import time

HELLO = 'public class Hello { public static void main(String[] a) { System.out.println("hi"); } }\n'


def cpu_of(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit("%s failed (%d): %s" % (" ".join(cmd), proc.returncode, proc.stderr.decode()[-400:]))
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", action="append", required=True, help="an agent .so to measure (repeatable)")
    ap.add_argument("--java", default=shutil.which("java"))
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="pp-jvm-start-")
    with open(os.path.join(work, "Hello.java"), "w") as f:
        f.write(HELLO)
    subprocess.run([os.path.join(os.path.dirname(os.path.realpath(args.java)), "javac"), "Hello.java"], cwd=work,
                   check=True)
    base = [args.java, "-cp", work]
    configs = {"plain": base + ["Hello"], "plain (noise)": base + ["Hello"]}
    for i, agent in enumerate(args.agent):
        spec = "-agentpath:%s=file=%s" % (os.path.abspath(agent), os.path.join(work, "p%d.pb.gz" % i))
        configs["agent [%s]" % agent] = base[:1] + [spec] + base[1:] + ["Hello"]
    for cmd in configs.values():
        cpu_of(cmd)
    cpu = {n: [] for n in configs}
    extra = {n: [] for n in configs}
    for _ in range(args.rounds):
        names = list(configs)
        random.shuffle(names)
        got = {n: cpu_of(configs[n])[0] for n in names}
        for n in names:
            cpu[n].append(got[n])
            extra[n].append(got[n] - got["plain"])
    print("%d rounds, CPU of the JVM (user+sys), medians" % args.rounds)
    for n in configs:
        print("  %-70s cpu %7.1f ms  over plain %+7.1f ms" % (n, 1000 * statistics.median(cpu[n]),
                                                               1000 * statistics.median(extra[n])))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

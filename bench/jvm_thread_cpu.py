#!/usr/bin/env python3
"""Where a profiler's CPU goes inside the JVM: javac (tests/jvm's Javac
workload, in-process) run with no agent, with each polyprof agent given and
with async-profiler's ctimer engine, in a shuffled order each round.

    python3 bench/jvm_thread_cpu.py --agent build/jvm-agent/libpolyprof.so [--agent OTHER.so] \
        [--jdk /usr/lib/jvm/java-17-openjdk-amd64] [--rounds 9] [--files 300]

Per run: the JVM's CPU (user+sys, getrusage of the child), and per thread
the CPU read from /proc/PID/task/*/stat every 20 ms (a thread's last
reading before it exits is kept, so a short-lived thread may lose up to one
period). Reported per configuration, medians and [min-max] over rounds:
total CPU, the Service Thread (it posts JVMTI's CompiledMethodLoad and
DynamicCodeGenerated events to the agent), the agent's own threads (named
polyprof*; async-profiler's are not named apart) and the application
thread (main, named "java"). Signal handler time is inside the
application's threads: polyprof's profile reports it as handler_ns.

async-profiler comes from Maven Central as in bench/jvm_overhead.py. No
pass/fail: it reports.
"""
import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from jvm_overhead import fetch_async_profiler  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid, last):
    task = "/proc/%d/task" % pid
    try:
        tids = os.listdir(task)
    except OSError:
        return
    for tid in tids:
        try:
            with open("%s/%s/stat" % (task, tid)) as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        last[tid] = (name, (int(fields[11]) + int(fields[12])) / TICK)


def run(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    last = {}
    while p.poll() is None:
        thread_cpu(p.pid, last)
        time.sleep(0.02)
    err = p.stderr.read().decode()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit("%s failed (%d): %s" % (" ".join(cmd), p.returncode, err[-400:]))
    groups = {"total": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
              "Service Thread": 0.0, "polyprof*": 0.0, "java (main)": 0.0}
    for name, cpu in last.values():
        if name == "Service Thread":
            groups["Service Thread"] += cpu
        elif name.startswith("polyprof"):
            groups["polyprof*"] += cpu
        elif name == "java":
            groups["java (main)"] += cpu
    return groups


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agent", action="append", required=True)
    ap.add_argument("--jdk", default="/usr/lib/jvm/java-17-openjdk-amd64")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--files", type=int, default=300)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="pp-jvm-threads-")
    java = os.path.join(args.jdk, "bin", "java")
    subprocess.run([os.path.join(args.jdk, "bin", "javac"), "-d", work + "/classes",
                    os.path.join(ROOT, "tests/jvm/workloads/com/example/Javac.java")], check=True)
    asprof = fetch_async_profiler()
    configs = {"none": []}
    for i, agent in enumerate(args.agent):
        configs["polyprof [%s]" % agent] = [
            "-agentpath:%s=start,event=cpu,interval=10ms,file=%s/pp%d.pb.gz" % (os.path.abspath(agent), work, i)]
    configs["async-profiler ctimer"] = [
        "-agentpath:%s=start,event=ctimer,interval=10ms,file=%s/ap.collapsed" % (asprof, work)]
    results = {n: [] for n in configs}
    for r in range(args.rounds):
        order = list(configs)
        random.shuffle(order)
        for name in order:
            out = os.path.join(work, "out")
            shutil.rmtree(out, ignore_errors=True)
            results[name].append(run([java] + configs[name] + ["-cp", work + "/classes", "com.example.Javac", out,
                                                                str(args.files)]))
        print("round %d/%d done" % (r + 1, args.rounds), file=sys.stderr)
    print("# %s, javac %d files, %s, %d rounds: CPU seconds, median [min-max]" % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), args.files, args.jdk, args.rounds))
    keys = ["total", "java (main)", "Service Thread", "polyprof*"]
    print("| configuration | " + " | ".join(keys) + " | total vs none (median of per-round ratios) |")
    print("|---" * (len(keys) + 2) + "|")
    for name, runs in results.items():
        cells = []
        for k in keys:
            v = [x[k] for x in runs]
            cells.append("%.3f [%.3f-%.3f]" % (statistics.median(v), min(v), max(v)))
        ratio = statistics.median(runs[i]["total"] / results["none"][i]["total"] for i in range(args.rounds))
        print("| %s | %s | %+.1f%% |" % (name, " | ".join(cells), 100 * (ratio - 1)))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Overhead of the polyprof JVM agent on a CPU-bound Java program, next to
async-profiler at the same sampling interval.

    python3 bench/jvm_overhead.py                      # 7 rounds on every JDK found
    python3 bench/jvm_overhead.py --rounds 2 --quick   # smoke run
    python3 bench/jvm_overhead.py --jdk /usr/lib/jvm/temurin-25-jdk-amd64 --json out.json

Configurations, each a fresh JVM running bench/jvm/CpuBound.java (a fixed
amount of single-threaded work: sorting, hashing, maps, strings, arithmetic):
  none      no agent
  none2     no agent again: the noise floor the ratios sit on
  polyprof  -agentpath:libpolyprof.so=start,event=cpu,interval=10ms,file=...pb.gz (100 Hz)
  asprof    -agentpath:libasyncProfiler.so=start,event=cpu,interval=10ms,file=...collapsed
            (async-profiler picks perf_events when the kernel allows it, else
            its per-thread timer "ctimer"; the engine it used is reported)
  asprof-ctimer  the same with event=ctimer: the mechanism polyprof uses

What is measured per run: CPU = the JVM's user+sys time (getrusage of the
waited-for child: every thread, JIT and GC included, and the profile
written at exit), wall = spawn to exit. Rounds run every configuration once
in a shuffled order; each ratio is taken against the "none" run of the same
round, and medians over rounds are reported, so drift of a shared machine
mostly cancels.

async-profiler comes from Maven Central (tools.profiler:async-profiler; the
linux-x64 classifier jar when published, else the main jar, which carries
linux-x64/libasyncProfiler.so) into ~/.cache/polyprof-bench. The agent is
built with cmake into /tmp unless --agent is given. No pass/fail: it reports.
"""
import argparse
import glob
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
AP_VERSION = "4.6"
AP_BASE = "https://repo1.maven.org/maven2/tools/profiler/async-profiler/%s/async-profiler-%s%s.jar"
CACHE = os.path.expanduser("~/.cache/polyprof-bench")


def fetch_async_profiler():
    """libasyncProfiler.so for linux-x64 from Maven Central, cached."""
    so = os.path.join(CACHE, "async-profiler-%s" % AP_VERSION, "libasyncProfiler.so")
    if os.path.exists(so):
        return so
    os.makedirs(os.path.dirname(so), exist_ok=True)
    for suffix in ("-linux-x64", ""):
        url = AP_BASE % (AP_VERSION, AP_VERSION, suffix)
        jar = os.path.join(CACHE, os.path.basename(url))
        try:
            urllib.request.urlretrieve(url, jar)
        except Exception as e:  # 404 for a classifier that is not published
            print("  %s: %s" % (url, e), file=sys.stderr)
            continue
        with zipfile.ZipFile(jar) as z:
            for name in z.namelist():
                if name.endswith("linux-x64/libasyncProfiler.so") or name == "libasyncProfiler.so":
                    with z.open(name) as src, open(so, "wb") as dst:
                        dst.write(src.read())
                    return so
    sys.exit("could not get libasyncProfiler.so for linux-x64 from Maven Central")


def build_agent():
    build = tempfile.mkdtemp(prefix="polyprof-bench-agent-")
    subprocess.run(["cmake", "-S", ROOT, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build, "--target", "polyprof_jvm"], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(build, "jvm-agent", "libpolyprof.so")


def probe_jdks():
    homes = {}
    for d in sorted(glob.glob("/usr/lib/jvm/*")):
        if os.path.exists(os.path.join(d, "bin", "javac")):
            homes.setdefault(os.path.realpath(d), None)
    return list(homes)


def jdk_version(home):
    try:
        for line in open(os.path.join(home, "release")):
            if line.startswith("JAVA_VERSION="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return os.path.basename(home)


def run_once(java, classes, agent_arg, work_rounds):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    cmd = [java] + ([agent_arg] if agent_arg else []) + ["-cp", classes, "CpuBound", str(work_rounds)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0 or "work_seconds=" not in p.stdout:
        raise RuntimeError("%s failed (%d): %s %s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"cpu": cpu, "wall": wall, "stderr": p.stderr.strip()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=5.0,
                    help="CPU seconds of work per run; CpuBound's round count is calibrated per JDK")
    ap.add_argument("--quick", action="store_true", help="short workload (--seconds 1)")
    ap.add_argument("--jdk", action="append", help="JAVA_HOME to measure (repeatable); default: every JDK found")
    ap.add_argument("--agent", help="prebuilt libpolyprof.so")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="write every run here")
    args = ap.parse_args()
    if args.quick:
        args.seconds = 1.0
    jdks = args.jdk or probe_jdks()
    if not jdks:
        sys.exit("no JDK found under /usr/lib/jvm (or pass --jdk)")
    agent = args.agent or build_agent()
    asprof = fetch_async_profiler()
    out_dir = tempfile.mkdtemp(prefix="polyprof-bench-out-")
    configs = {
        "none": None,
        "none2": None,
        "polyprof": "-agentpath:%s=start,event=cpu,interval=10ms,file=%s/pp.pb.gz" % (agent, out_dir),
        "asprof": "-agentpath:%s=start,event=cpu,interval=10ms,file=%s/ap.collapsed" % (asprof, out_dir),
        "asprof-ctimer": "-agentpath:%s=start,event=ctimer,interval=10ms,file=%s/apc.collapsed" % (asprof, out_dir),
    }
    rnd = random.Random(args.seed)
    results = {}
    print("# %s, %d rounds, ~%.1f CPU s of work per run, async-profiler %s" % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), args.rounds, args.seconds, AP_VERSION))
    for home in jdks:
        java = os.path.join(home, "bin", "java")
        classes = tempfile.mkdtemp(prefix="polyprof-bench-cls-")
        subprocess.run([os.path.join(home, "bin", "javac"), "-d", classes, os.path.join(HERE, "jvm", "CpuBound.java")],
                       check=True)
        version = jdk_version(home)
        runs = {name: [] for name in configs}
        run_once(java, classes, None, 2)  # warm the page cache
        # Calibrate: JDKs differ a lot in speed on this workload.
        probe = min(run_once(java, classes, None, 10)["cpu"] for _ in range(2))
        work = max(2, int(round(10 * args.seconds / probe)))
        for r in range(args.rounds):
            order = list(configs)
            rnd.shuffle(order)
            for name in order:
                res = run_once(java, classes, configs[name], work)
                runs[name].append(res)
            print("  jdk %s round %d/%d: %s" % (version, r + 1, args.rounds, ", ".join(
                "%s %.2fs" % (n, runs[n][-1]["cpu"]) for n in configs)), file=sys.stderr)
        results[version] = runs
        print("\n## JDK %s (%s), CpuBound %d\n" % (version, home, work))
        print("| configuration | CPU s (median) | CPU vs none (median of per-round ratios) | wall s (median) | wall vs none |")
        print("|---|---|---|---|---|")
        for name in configs:
            cpu = [x["cpu"] for x in runs[name]]
            wall = [x["wall"] for x in runs[name]]
            rc = [runs[name][i]["cpu"] / runs["none"][i]["cpu"] for i in range(args.rounds)]
            rw = [runs[name][i]["wall"] / runs["none"][i]["wall"] for i in range(args.rounds)]
            print("| %s | %.2f | %+.1f%% | %.2f | %+.1f%% |" % (name, statistics.median(cpu),
                  100 * (statistics.median(rc) - 1), statistics.median(wall), 100 * (statistics.median(rw) - 1)))
        notes = {x["stderr"] for n in ("asprof", "asprof-ctimer", "polyprof") for x in runs[n] if x["stderr"]}
        for n in sorted(notes):
            print("\nstderr: `%s`" % n.replace("\n", " | "))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Whose CPU is it? The polyprof JVM agent against async-profiler's ctimer
engine, both loaded with -agentpath at 100 Hz, each profiler's own CPU
attributed by phase and by thread inside the same JVMs, instead of
differencing whole-JVM totals (which spread by +-12-25 % per run: javac's and
the JIT's own work moves with timing).

    python3 bench/jvm/overhead_attribution.py --agent BUILD/jvm-agent/libpolyprof.so \
        [--agent OTHER.so ...] [--jdk JAVA_HOME ...] [--workload cpubound|javac ...] \
        [--rounds 9] [--seconds 3] [--files 300] [--rates 10,4] [--json FILE]

Every JVM runs under bench/jvm/attribution_agent.c (built here with cc), which
loads the profiler's agent itself and measures, in that process:
  onload         the calling thread's CPU across the profiler's Agent_OnLoad;
  VMInit         the calling thread's CPU across its VMInit callback (both
                 profilers start sampling there: "start" in their options);
  own threads    the CPU of the profiler's own threads over the whole run, by
                 name (polyprof's drain thread "polyprof" and its unwind-table
                 builder "polyprof-cfi"; async-profiler's ctimer engine has
                 none), from /proc/self/task/TID/schedstat snapshots before
                 and after VMInit and VMDeath, plus the CPU of threads that
                 exited between two snapshots (the process' CPU less the live
                 threads'), less the same rest in the unprofiled runs: that is
                 how a thread that starts and ends unseen (polyprof-cfi; the
                 drain thread, joined in VMDeath) is counted;
  handler        the wall time inside the profiling signal's handler (SIGPROF)
                 and its calls: the handler the profiler installed is wrapped
                 after VMInit by one that reads CLOCK_MONOTONIC around it
                 (calls over 200 us, preempted most likely, are also shown
                 apart: per call without them is the steadier figure); for
                 polyprof, its own handler_ns and samples_taken are read from
                 the profile's metadata beside it (a check on the wrapper);
  JVMTI events   the time inside each other event callback it registered
                 (ClassPrepare, ClassLoad, ThreadStart, DynamicCodeGenerated,
                 ...), by count and CLOCK_MONOTONIC: the JVMTI function table's
                 SetEventCallbacks is patched to wrap them;
  VMDeath        the calling thread's CPU across its VMDeath callback: both
                 stop and write the profile there (stop + export); the drain
                 thread's last work is under own threads.
The sum of these is the profiler's own CPU. Not in it, shown beside it: the
Service Thread's CPU against the unprofiled runs' (it posts the events that
the JVM generates later, e.g. DynamicCodeGenerated), the application thread's
CPU in the work window against the unprofiled runs' (noisy: cache effects and
the kernel's signal delivery would only show there), and the JVM's total.

Rounds: every configuration once per round in a shuffled order, a fresh JVM
each, --rounds times per JDK and workload. Configurations: none (the measuring
agent alone), polyprof per --agent, async-profiler ctimer; with more than one
--rates both profilers also run at the other intervals (ms): a CPU-time timer
fires on the kernel's tick, so 4 ms (250 Hz here) is the most it gives; the
per-sample cost of each part is its slope between the rates.

Workloads: bench/jvm/CpuBound.java (one thread, little compilation after the
first second), calibrated to --seconds of CPU per JDK; javac in-process
(tests/jvm/workloads/com/example/Javac.java) on --files generated sources.
async-profiler comes from Maven Central as in bench/jvm_overhead.py. No
pass/fail: it reports medians and [min-max] over rounds, and the paired
per-round difference polyprof - async-profiler.
"""
import argparse
import gzip
import json
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
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from jvm_overhead import AP_VERSION, fetch_async_profiler  # noqa: E402

OWN_THREADS = ("polyprof", "polyprof-cfi")  # async-profiler's ctimer engine runs no thread of its own
TIMED_EVENTS = ("ThreadStart", "ThreadEnd", "ClassLoad", "ClassPrepare", "CompiledMethodLoad",
                "CompiledMethodUnload", "DynamicCodeGenerated", "GarbageCollectionStart",
                "GarbageCollectionFinish", "SampledObjectAlloc")


def build_measuring_agent(jdk, work):
    so = os.path.join(work, "attribution_agent.so")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-std=c11", "-Wall", "-Wextra", "-Werror",
                    "-I" + os.path.join(jdk, "include"), "-I" + os.path.join(jdk, "include", "linux"),
                    "-o", so, os.path.join(HERE, "attribution_agent.c"), "-ldl"], check=True)
    return so


def pprof_comments(path):
    """The comment lines (field 13, indices into the string table, field 6) of a gzipped pprof."""
    data = gzip.open(path).read()
    strings, comments, i = [], [], 0

    def varint(i):
        v = s = 0
        while True:
            b = data[i]
            i += 1
            v |= (b & 0x7F) << s
            s += 7
            if b < 0x80:
                return v, i

    while i < len(data):
        key, i = varint(i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(i)
            if field == 13:
                comments.append(v)
        elif wire == 2:
            n, i = varint(i)
            if field == 6:
                strings.append(data[i:i + n].decode("utf-8", "replace"))
            elif field == 13:  # packed
                j = i
                while j < i + n:
                    v, j = varint(j)
                    comments.append(v)
            i += n
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError("unexpected wire type %d" % wire)
    out = {}
    for c in comments:
        k, _, v = strings[c].partition("=")
        out[k] = v
    return out


def collapsed_samples(path):
    total = 0
    with open(path) as f:
        for line in f:
            total += int(line.rsplit(" ", 1)[1])
    return total


def threads_of(snap):
    return {t[0]: (t[1], t[2]) for t in snap["threads"]}


def window(a, b):
    """CPU (ns) between two snapshots: by thread name, and the rest (threads that exited in between)."""
    ta, tb = threads_of(a), threads_of(b)
    by_name, live = {}, 0
    for tid, (name, ns) in tb.items():
        d = ns - (ta[tid][1] if tid in ta else 0)
        live += d
        by_name[name] = by_name.get(name, 0) + d
    return by_name, max(0, (b["process_ns"] - a["process_ns"]) - live)


def attribute(m, prof_meta):
    """One run's parts, ms."""
    s = m["snapshots"]
    ms = 1e-6
    start_threads, start_rest = window({"threads": [], "process_ns": 0}, s[1])
    work_threads, work_rest = window(s[1], s[2])
    stop_threads, stop_rest = window(s[2], s[3])
    own = lambda d: sum(v for k, v in d.items() if k in OWN_THREADS)  # noqa: E731
    events = {k: m["events"][k] for k in TIMED_EVENTS if m["events"][k][0]}
    r = {
        "onload": m["onload_self_ns"] * ms,
        "vminit": m["events"]["VMInit"][1] * ms,
        "own_start": own(start_threads) * ms,
        "own_work": own(work_threads) * ms,
        "own_stop": own(stop_threads) * ms,
        "rest_work": work_rest * ms,
        "rest_stop": stop_rest * ms,
        "handler": m["handler"]["ns"] * ms,
        "signals": m["handler"]["calls"],
        "short_calls": m["handler"]["calls"] - m["handler"]["long_calls"],
        "short_handler": (m["handler"]["ns"] - m["handler"]["long_calls_ns"]) * ms,
        "events": sum(v[1] for v in events.values()) * ms,
        "event_detail": {k: (v[0], v[1] * ms) for k, v in events.items()},
        "vmdeath": m["events"]["VMDeath"][1] * ms,
        "service_thread": sum(ns for _, name, ns in s[3]["threads"] if name == "Service Thread") * ms,
        "app_work": work_threads.get("java", 0) * ms,
        "total": m["exit_process_ns"] * ms,
        "wrapped": m["handler"]["wrapped"] and m["handler"]["still_wrapped_at_exit"],
        "unwrapped": m["unwrapped_callback_slots"],
    }
    if prof_meta:
        r["pp_samples"] = int(prof_meta.get("samples_taken", 0))
        r["pp_handler"] = int(prof_meta.get("handler_ns", 0)) * ms
        r["pp_dropped"] = int(prof_meta.get("dropped_ring_full", 0))
    return r


def run_jvm(cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit("%s failed (%d): %s %s" % (" ".join(cmd), p.returncode, p.stdout[-400:], p.stderr[-400:]))
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agent", action="append", required=True, help="a libpolyprof.so (repeatable: before/after)")
    ap.add_argument("--jdk", action="append", help="JAVA_HOME (repeatable); default JDK 17")
    ap.add_argument("--workload", action="append", choices=("cpubound", "javac"), help="default: both")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--seconds", type=float, default=3.0, help="CpuBound's CPU seconds of work per run")
    ap.add_argument("--files", type=int, default=300, help="javac's generated sources")
    ap.add_argument("--rates", default="10", help="sampling intervals in ms, comma-separated (e.g. 10,4)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="write every run's parts here")
    args = ap.parse_args()
    jdks = args.jdk or ["/usr/lib/jvm/java-17-openjdk-amd64"]
    workloads = args.workload or ["cpubound", "javac"]
    rates = [int(x) for x in args.rates.split(",")]
    asprof = fetch_async_profiler()
    work = tempfile.mkdtemp(prefix="pp-jvm-attr-")
    rnd = random.Random(args.seed)
    everything = {}
    print("# %s, async-profiler %s, %d rounds, intervals %s ms, load %s" % (
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), AP_VERSION, args.rounds, args.rates,
        " ".join("%.2f" % x for x in os.getloadavg())))
    for jdk in jdks:
        java = os.path.join(jdk, "bin", "java")
        measure = build_measuring_agent(jdk, work)
        classes = os.path.join(work, "classes-" + os.path.basename(jdk))
        subprocess.run([os.path.join(jdk, "bin", "javac"), "-d", classes, os.path.join(HERE, "CpuBound.java"),
                        os.path.join(ROOT, "tests/jvm/workloads/com/example/Javac.java")], check=True)
        for wl in workloads:
            if wl == "cpubound":
                run_jvm([java, "-cp", classes, "CpuBound", "2"])  # page cache
                t0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                run_jvm([java, "-cp", classes, "CpuBound", "10"])
                t1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                probe = (t1.ru_utime - t0.ru_utime) + (t1.ru_stime - t0.ru_stime)
                n = max(2, int(round(10 * args.seconds / probe)))
                app = ["-cp", classes, "CpuBound", str(n)]
                label = "CpuBound %d" % n
            else:
                out = os.path.join(work, "javac-out")
                app = ["-cp", classes, "com.example.Javac", out, str(args.files)]
                label = "javac %d files" % args.files
            configs = {"none": (None, None)}
            for rate in rates:
                for i, agent in enumerate(args.agent):
                    name = "polyprof" + ("[%d]" % i if len(args.agent) > 1 else "") + " %dms" % rate
                    configs[name] = (os.path.abspath(agent), "start,event=cpu,interval=%dms,file=%s/pp.pb.gz" % (
                        rate, work))
                configs["async-profiler ctimer %dms" % rate] = (
                    asprof, "start,event=ctimer,interval=%dms,file=%s/ap.collapsed" % (rate, work))
            runs = {name: [] for name in configs}
            for r in range(args.rounds):
                order = list(configs)
                rnd.shuffle(order)
                for name in order:
                    agent, opts = configs[name]
                    mjson = os.path.join(work, "m.json")
                    spec = mjson + ("#%s#%s" % (agent, opts) if agent else "")
                    for f in (mjson, work + "/pp.pb.gz", work + "/ap.collapsed"):
                        if os.path.exists(f):
                            os.unlink(f)
                    shutil.rmtree(os.path.join(work, "javac-out"), ignore_errors=True)
                    run_jvm([java, "-agentpath:%s=%s" % (measure, spec)] + app)
                    with open(mjson) as f:
                        m = json.load(f)
                    meta = pprof_comments(work + "/pp.pb.gz") if name.startswith("polyprof") else None
                    res = attribute(m, meta)
                    if name.startswith("async"):
                        res["ap_samples"] = collapsed_samples(work + "/ap.collapsed")
                    res["load"] = os.getloadavg()[0]
                    runs[name].append(res)
                print("  %s %s round %d/%d (load %.1f)" % (os.path.basename(jdk), label, r + 1, args.rounds,
                                                          os.getloadavg()[0]), file=sys.stderr)
            everything["%s %s" % (jdk, label)] = runs
            report(jdk, label, runs, rates)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f, indent=1)
    shutil.rmtree(work, ignore_errors=True)


def med(v):
    return "%.1f [%.1f-%.1f]" % (statistics.median(v), min(v), max(v))


def report(jdk, label, runs, rates):
    none = runs["none"]
    rest_work0 = statistics.median(x["rest_work"] for x in none)
    rest_stop0 = statistics.median(x["rest_stop"] for x in none)
    svc0 = statistics.median(x["service_thread"] for x in none)
    app0 = statistics.median(x["app_work"] for x in none)
    for name, rs in runs.items():
        for x in rs:
            x["own"] = (x["own_start"] + x["own_work"] + x["own_stop"] + max(0.0, x["rest_work"] - rest_work0)
                        + max(0.0, x["rest_stop"] - rest_stop0))
            x["sum"] = x["onload"] + x["vminit"] + x["own"] + x["handler"] + x["events"] + x["vmdeath"]
            x["service_extra"] = x["service_thread"] - svc0
            x["app_extra"] = x["app_work"] - app0
    print("\n## %s, %s: ms per JVM, median [min-max] over %d rounds\n" % (jdk, label, len(none)))
    cols = ["onload", "vminit", "own", "handler", "events", "vmdeath", "sum", "service_extra", "app_extra", "total"]
    print("| configuration | signals | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 2) + "|")
    for name, rs in runs.items():
        print("| %s | %d | %s |" % (name, statistics.median(x["signals"] for x in rs),
                                    " | ".join(med([x[c] for x in rs]) for c in cols)))
    print("\nown threads, by part (medians): " + "; ".join(
        "%s: start %.1f, work %.1f (+exited %.1f), stop %.1f (+exited %.1f)" % (
            n, statistics.median(x["own_start"] for x in rs), statistics.median(x["own_work"] for x in rs),
            statistics.median(x["rest_work"] for x in rs) - rest_work0, statistics.median(x["own_stop"] for x in rs),
            statistics.median(x["rest_stop"] for x in rs) - rest_stop0)
        for n, rs in runs.items() if n != "none"))
    for name, rs in runs.items():
        if name == "none":
            continue
        per_sig = [x["handler"] * 1e3 / x["signals"] for x in rs if x["signals"]]
        detail = {}
        for x in rs:
            for k, (c, t) in x["event_detail"].items():
                detail.setdefault(k, []).append((c, t))
        short = [x["short_handler"] * 1e3 / x["short_calls"] for x in rs if x["short_calls"]]
        line = "%s: handler %.2f us/signal, %.2f without calls over 200 us (%d such a run at most)" % (
            name, statistics.median(per_sig), statistics.median(short),
            max(x["signals"] - x["short_calls"] for x in rs)) if per_sig else name
        if "pp_samples" in rs[0]:
            line += " (its own handler_ns: %.2f us/sample, samples %d vs signals %d, dropped_ring_full at most %d)" % (
                statistics.median(x["pp_handler"] * 1e3 / max(1, x["pp_samples"]) for x in rs),
                statistics.median(x["pp_samples"] for x in rs), statistics.median(x["signals"] for x in rs),
                max(x.get("pp_dropped", 0) for x in rs))
        if "ap_samples" in rs[0]:
            line += " (samples in its profile %d)" % statistics.median(x["ap_samples"] for x in rs)
        line += "; events: " + ", ".join("%s %d x %.2f ms" % (k, statistics.median(c for c, _ in v),
                                                               statistics.median(t for _, t in v))
                                         for k, v in sorted(detail.items()))
        if not all(x["wrapped"] for x in rs):
            line += "; HANDLER NOT WRAPPED IN SOME RUNS"
        if rs[0]["unwrapped"]:
            line += "; untimed callback slots %s" % rs[0]["unwrapped"]
        print("- " + line)
    for rate in rates:
        ap_name = "async-profiler ctimer %dms" % rate
        for name, rs in runs.items():
            if not name.startswith("polyprof") or not name.endswith(" %dms" % rate):
                continue
            n = min(len(rs), len(runs[ap_name]))
            for col in ("sum", "own", "handler", "onload", "vminit", "vmdeath", "events", "total"):
                d = [rs[i][col] - runs[ap_name][i][col] for i in range(n)]
                print("- paired %s - %s, %s: %+.1f [%+.1f...%+.1f] ms" % (
                    name, ap_name, col, statistics.median(d), min(d), max(d)))
            above = sum(1 for i in range(n) if rs[i]["sum"] > runs[ap_name][i]["sum"])
            print("- %s's sum above %s's in %d of %d rounds" % (name, ap_name, above, n))
    for rate in rates:
        base = runs.get("polyprof[0] %dms" % rate)
        for j in range(1, 10):
            other = runs.get("polyprof[%d] %dms" % (j, rate))
            if not base or not other:
                break
            n = min(len(base), len(other))
            for col, unit in (("sum", "ms"), ("own", "ms"), ("handler", "ms"), ("per_signal", "us"),
                              ("per_short_call", "us")):
                if col == "per_signal":
                    d = [other[i]["handler"] * 1e3 / max(1, other[i]["signals"]) -
                         base[i]["handler"] * 1e3 / max(1, base[i]["signals"]) for i in range(n)]
                elif col == "per_short_call":
                    d = [other[i]["short_handler"] * 1e3 / max(1, other[i]["short_calls"]) -
                         base[i]["short_handler"] * 1e3 / max(1, base[i]["short_calls"]) for i in range(n)]
                else:
                    d = [other[i][col] - base[i][col] for i in range(n)]
                print("- paired polyprof[%d] - polyprof[0], %dms, %s: %+.2f [%+.2f...%+.2f] %s" % (
                    j, rate, col, statistics.median(d), min(d), max(d), unit))
    if len(rates) > 1:
        hi, lo = min(rates), max(rates)
        for prefix in sorted({n.rsplit(" ", 1)[0] for n in runs if n != "none"}):
            a, b = runs.get("%s %dms" % (prefix, lo)), runs.get("%s %dms" % (prefix, hi))
            if not a or not b:
                continue
            n = min(len(a), len(b))
            ds = [b[i]["signals"] - a[i]["signals"] for i in range(n)]
            for col in ("sum", "own", "handler", "total"):
                slope = [(b[i][col] - a[i][col]) * 1e3 / ds[i] for i in range(n) if ds[i] > 0]
                if slope:
                    print("- %s, %s per extra signal (%dms vs %dms, paired by round): %.1f [%.1f...%.1f] us" % (
                        prefix, col, hi, lo, statistics.median(slope), min(slope), max(slope)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Overhead of polyprof on a CPU-bound Python program, next to its peers.

    python bench/python_overhead.py            # full run: 5 rounds, ~4 s workload
    python bench/python_overhead.py --quick    # smoke run, under a minute
    python bench/python_overhead.py --rounds 9 --json results.json

Run it with the interpreter that has polyprof, py-spy, pyinstrument and yappi
installed (e.g. a venv: pip install /path/to/polyprof py-spy pyinstrument yappi).
Every measured run is a fresh subprocess of that interpreter executing
bench/workloads.py; see that file for the workloads.

What is measured, per run:
  * CPU: the child's user+sys time from getrusage(RUSAGE_CHILDREN) deltas. It
    covers every thread of the child (polyprof's drain thread, pyinstrument's
    timer thread) and, for py-spy, the py-spy process itself plus the Python
    process it launches (both are waited-for descendants).
  * wall: time from spawn to exit.
  * samples: polyprof's p.metadata["samples_weight"] (the sampling intervals
    its samples stand for) and py-spy's raw-output counts, against expected =
    the workload's main-thread CPU seconds x rate. polyprof's
    p.metadata["samples_taken"] (signals actually handled) is shown next to
    it: the kernel fires per-thread CPU timers on its scheduler tick
    (CONFIG_HZ), so above the tick rate one signal stands for several
    intervals (1 + timer overruns) and taken < weight.
  * per-sample cost: polyprof's handler_ns / samples_taken, i.e. wall time in
    the signal handler per signal actually handled (per capture).

polyprof builds before the per-capture metadata (commit 5f49b39/3604948)
reported handler_ns_total/unwind_failed_total/truncated_total and a weighted
samples_taken; polyprof_md() maps those onto the new keys so an old build can
be measured side by side (its samples_taken is then unknown).

Configurations are interleaved in rounds (each round runs every configuration
once, in a shuffled order) and every ratio is taken against the unprofiled run
of the same round, so slow drift of a shared machine mostly cancels; medians
over rounds are reported. A second unprofiled run per round ("no profiler,
repeat") shows the noise floor those ratios sit on.

No pass/fail: the script reports, and exits 0 when everything ran.
"""
import argparse
import datetime
import gzip
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = os.path.join(HERE, "workloads.py")


# ------------------------------------------------------------------ machine


def machine_info(python):
    cpu_model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    hz = "?"
    # Per-thread CPU timers fire from the scheduler tick, so CONFIG_HZ bounds
    # the rate at which a CPU-time sampler can actually be signalled.
    try:
        with gzip.open("/proc/config.gz", "rt") as f:
            for line in f:
                if line.startswith("CONFIG_HZ="):
                    hz = line.strip().split("=", 1)[1]
    except OSError:
        pass
    probe = subprocess.run(
        [python, "-c",
         "import sys, polyprof; from importlib import metadata as m\n"
         "def v(n):\n"
         "    try: return m.version(n)\n"
         "    except Exception: return 'not installed'\n"
         "print(sys.version.split()[0]); print(polyprof.__version__, polyprof.__file__)\n"
         "print(v('pyinstrument')); print(v('yappi'))"],
        capture_output=True, text=True)
    lines = probe.stdout.splitlines() if probe.returncode == 0 else ["?"] * 4
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "kernel": " ".join(platform.uname()[i] for i in (0, 2, 4)),
        "config_hz": hz,
        "python": lines[0] + " (" + python + ")",
        "polyprof": lines[1],
        "pyinstrument": lines[2],
        "yappi": lines[3],
        "py-spy": py_spy_version(),
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
    }


def find_py_spy(python):
    cand = os.path.join(os.path.dirname(python), "py-spy")
    return cand if os.access(cand, os.X_OK) else shutil.which("py-spy")


def py_spy_version():
    exe = find_py_spy(sys.executable)
    if not exe:
        return "not installed"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True)
    return out.stdout.strip() or "?"


# ------------------------------------------------------------ configurations


class Config:
    def __init__(self, key, label, rate_hz=None, kind="plain", profiler="none", interval_ms=10.0, native=1):
        self.key = key
        self.label = label
        self.rate_hz = rate_hz      # nominal sampling rate, for "expected samples"
        self.kind = kind            # plain (in-process or none), pyspy, cprofile
        self.profiler = profiler    # workloads.py --profiler
        self.interval_ms = interval_ms
        self.native = native


def configs(args):
    c = [
        Config("none", "no profiler"),
        Config("none2", "no profiler, repeat (noise floor)"),
        Config("pp100n", "polyprof 100 Hz native", 100, profiler="polyprof", interval_ms=10, native=1),
        Config("pp100p", "polyprof 100 Hz Python-only", 100, profiler="polyprof", interval_ms=10, native=0),
        Config("pp1000n", "polyprof %g Hz native" % (1000.0 / args.max_rate_interval_ms), 1000.0 / args.max_rate_interval_ms,
               profiler="polyprof", interval_ms=args.max_rate_interval_ms, native=1),
        Config("pyspy", "py-spy record 100 Hz", 100, kind="pyspy"),
        Config("pyinst", "pyinstrument (interval 10 ms)", profiler="pyinstrument", interval_ms=10),
        Config("yappi", "yappi (cpu clock)", profiler="yappi"),
        Config("cprof", "cProfile", kind="cprofile"),
    ]
    if args.only:
        keep = set(args.only.split(",")) | {"none"}
        c = [x for x in c if x.key in keep]
    return c


def command(cfg, python, workload_args, out_json, raw_out):
    base = [WORKLOADS] + workload_args + ["--out", out_json]
    if cfg.kind == "pyspy":
        return [find_py_spy(python), "record", "-r", str(int(cfg.rate_hz)), "-o", raw_out, "-f", "raw",
                "--", python] + base
    if cfg.kind == "cprofile":
        return [python, "-m", "cProfile", "-o", os.devnull] + base
    extra = []
    if cfg.profiler != "none":
        extra = ["--profiler", cfg.profiler, "--interval-ms", repr(cfg.interval_ms), "--native", str(cfg.native)]
    return [python] + base + extra


def run_child(argv):
    """Runs argv to completion; returns (cpu_s, wall_s, CompletedProcess).
    CPU comes from RUSAGE_CHILDREN deltas: the harness runs one child at a
    time, so the delta is exactly this child's (and its waited-for children's)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    w1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return cpu, w1 - w0, proc


def py_spy_raw_count(path):
    """py-spy's raw format is collapsed stacks: 'frame;frame;... count'."""
    total = 0
    try:
        with open(path) as f:
            for line in f:
                line = line.rstrip()
                if line:
                    total += int(line.rsplit(" ", 1)[1])
    except (OSError, ValueError, IndexError):
        return None
    return total


def check_py_spy(python, tmp):
    """py-spy needs ptrace on its child; returns None if it works, else why not."""
    exe = find_py_spy(python)
    if not exe:
        return "py-spy is not installed next to %s nor on PATH" % python
    raw = os.path.join(tmp, "probe.raw")
    proc = subprocess.run([exe, "record", "-r", "100", "-o", raw, "-f", "raw", "--", python, "-c",
                           "x = sum(i * i for i in range(3000000))"], capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.exists(raw):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return "py-spy record failed (rc %d): %s" % (proc.returncode, " | ".join(tail))
    return None


def one_run(cfg, python, workload_args, tmp, tag):
    out_json = os.path.join(tmp, "%s-%s.json" % (cfg.key, tag))
    raw_out = os.path.join(tmp, "%s-%s.raw" % (cfg.key, tag))
    cpu, wall, proc = run_child(command(cfg, python, workload_args, out_json, raw_out))
    if proc.returncode != 0:
        return {"error": "exit status %d: %s" % (proc.returncode, proc.stderr.strip()[-800:])}
    try:
        with open(out_json) as f:
            rec = json.load(f)
    except (OSError, ValueError) as e:
        return {"error": "no JSON record from the child: %s; stderr: %s" % (e, proc.stderr.strip()[-400:])}
    rec["cpu_s"] = cpu
    rec["wall_s"] = wall
    if cfg.kind == "pyspy":
        rec["pyspy_samples"] = py_spy_raw_count(raw_out)
    for p in (out_json, raw_out):
        if os.path.exists(p):
            os.unlink(p)
    return rec


def polyprof_md(rec):
    """polyprof's metadata of one run with the current keys, or None.
    samples_taken: signals handled; samples_weight: intervals they stand for;
    handler_ns, unwind_failed, truncated: this capture's. Older builds (before
    the per-capture metadata) had weighted samples_taken and *_total keys; for
    those samples_taken becomes None (unknown) and the weight is the old count.
    The benchmark runs one capture per process, so *_total equals the
    capture's own value there."""
    md = rec.get("polyprof")
    if md is None:
        return None
    if "samples_weight" in md:
        return md
    md = dict(md)
    md["samples_weight"] = md["samples_taken"]
    md["samples_taken"] = None
    for k in ("handler_ns", "unwind_failed", "truncated"):
        if k not in md and k + "_total" in md:
            md[k] = md[k + "_total"]
    return md


def per_signal_us(md):
    """Handler wall time per signal handled, in us (per weighted sample for
    old builds that do not count signals)."""
    n = md["samples_taken"] if md["samples_taken"] is not None else md["samples_weight"]
    return md["handler_ns"] / n / 1000.0 if n else None


def samples_of(cfg, rec):
    """(weight, signals, expected) samples of one run. weight is what the
    profile counts (polyprof's samples_weight, py-spy's raw counts); signals is
    polyprof's samples_taken (None for py-spy and old polyprof builds)."""
    # polyprof samples between start() and stop(): the "work" span. py-spy
    # samples the whole process: the section is the closest span we time.
    span = rec["section_thread_cpu_s"] if cfg.kind == "pyspy" else rec["work_thread_cpu_s"]
    expected = span * cfg.rate_hz if cfg.rate_hz else None
    md = polyprof_md(rec)
    if md is not None:
        return md["samples_weight"], md["samples_taken"], expected
    if cfg.kind == "pyspy":
        return rec.get("pyspy_samples"), None, expected
    return None, None, None


# ------------------------------------------------------------------ helpers


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec, dash="-"):
    return dash if x is None else format(x, spec)


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


# ---------------------------------------------------------------- sections


def overhead_section(args, python, tmp, results):
    cfgs = configs(args)
    skip = {}
    if any(c.kind == "pyspy" for c in cfgs):
        why = check_py_spy(python, tmp)
        if why:
            skip["pyspy"] = why
            print("SKIP py-spy: %s" % why)
    cfgs = [c for c in cfgs if c.key not in skip]
    workload_args = ["--workload", "mixed", "--scale", str(args.scale)]
    runs = {c.key: [] for c in cfgs}   # per round, aligned: runs[key][round]
    rng = random.Random(args.seed)
    print("\n== Overhead: mixed workload (scale %d), %d rounds x %d configurations" % (args.scale, args.rounds, len(cfgs)))
    for r in range(args.rounds):
        order = cfgs[:]
        rng.shuffle(order)
        t0 = time.perf_counter()
        for cfg in order:
            rec = one_run(cfg, python, workload_args, tmp, "r%d" % r)
            runs[cfg.key].append(rec)
            if "error" in rec:
                print("  round %d %-34s ERROR %s" % (r + 1, cfg.label, rec["error"]))
        base = runs["none"][r]
        print("  round %d/%d done in %.0fs (no profiler: %.2fs CPU), load %s"
              % (r + 1, args.rounds, time.perf_counter() - t0, base.get("cpu_s", float("nan")),
                 " ".join(open("/proc/loadavg").read().split()[:3])))

    # Every configuration must compute the same result.
    sums = {c.key: {rec.get("checksum") for rec in runs[c.key] if "error" not in rec} for c in cfgs}
    if len(set().union(*sums.values())) > 1:
        print("WARNING: workload checksums differ between configurations: %r" % sums)

    rows, detail = [], []
    for cfg in cfgs:
        cpu_ratios, wall_ratios, work_ratios, got, sig, exp = [], [], [], [], [], []
        per_sample, handler_pct, drain_pct, fixed_ms = [], [], [], []
        for r, rec in enumerate(runs[cfg.key]):
            base = runs["none"][r]
            if "error" in rec or "error" in base:
                continue
            cpu_ratios.append(rec["cpu_s"] / base["cpu_s"])
            wall_ratios.append(rec["wall_s"] / base["wall_s"])
            work_ratios.append(rec["work_thread_cpu_s"] / base["work_thread_cpu_s"])
            g, n, e = samples_of(cfg, rec)
            got.append(g)
            sig.append(n)
            exp.append(e)
            md = polyprof_md(rec)
            if md and md["samples_weight"]:
                work = rec["work_thread_cpu_s"]
                per_sample.append(per_signal_us(md))
                handler_pct.append(100.0 * md["handler_ns"] / 1e9 / work)
                drain_pct.append(100.0 * (md.get("drain_cpu_ns") or 0) / 1e9 / work)
                # Main-thread CPU outside the workload: import, start, stop, write.
                fixed_ms.append(1000.0 * (rec["section_thread_cpu_s"] - work))
        errors = sum(1 for rec in runs[cfg.key] if "error" in rec)
        # Best-of-N: noise from other tenants only ever adds CPU, so the
        # fastest run of each configuration is a second, less noisy estimate.
        ok = [rec["cpu_s"] for rec in runs[cfg.key] if "error" not in rec]
        base_ok = [rec["cpu_s"] for rec in runs["none"] if "error" not in rec]
        best = min(ok) / min(base_ok) if ok and base_ok else None
        mg, ms, me = med(got), med(sig), med(exp)
        rows.append([
            cfg.label,
            fmt(med(cpu_ratios), ".3f") + (" (%.3f-%.3f)" % (min(cpu_ratios), max(cpu_ratios)) if cpu_ratios else ""),
            fmt(best, ".3f"),
            fmt(med(wall_ratios), ".3f"),
            fmt(med(work_ratios), ".3f"),
            ("%d / %d (%.0f%%)" % (mg, me, 100.0 * mg / me)) if mg is not None and me else "-",
            fmt(ms, ".0f"),
            fmt(med(per_sample), ".2f"),
            "%d/%d" % (len(cpu_ratios), len(runs[cfg.key])) + (" (%d failed)" % errors if errors else ""),
        ])
        if per_sample:
            detail.append([cfg.label, fmt(med(per_sample), ".2f"),
                           "%.2f-%.2f" % (min(per_sample), max(per_sample)), fmt(med(handler_pct), ".2f"),
                           fmt(med(drain_pct), ".2f"), fmt(med(fixed_ms), ".1f")])
    print()
    print(table(["configuration", "CPU ratio, median (min-max)", "best-of-N CPU ratio", "wall ratio",
                 "work-only CPU ratio",
                 "samples weight / expected", "signals taken", "polyprof us/signal", "runs"], rows))
    print("CPU ratio: whole child process(es) incl. startup, profiler threads and output, vs the same round's\n"
          "unprofiled run; best-of-N: fastest run / fastest unprofiled run; wall: median per-round ratio;\n"
          "work-only: main-thread CPU of the workload alone (between start and stop), median per-round ratio;\n"
          "samples weight: polyprof's samples_weight (py-spy: raw counts) vs main-thread CPU-s x rate;\n"
          "signals taken: polyprof's samples_taken, signals actually handled; us/signal: handler_ns / samples_taken.")
    if detail:
        print()
        print(table(["polyprof", "handler us/signal, median", "min-max", "handler, % of work CPU",
                     "drain thread, % of work CPU", "import+start+stop+write, main-thread ms"], detail))
    base_cpu = [rec["cpu_s"] for rec in runs["none"] if "error" not in rec]
    if len(base_cpu) > 1:
        print("\nno-profiler CPU per run: median %.3fs, min %.3fs, max %.3fs (spread %.1f%%)"
              % (med(base_cpu), min(base_cpu), max(base_cpu), 100 * (max(base_cpu) - min(base_cpu)) / med(base_cpu)))
    if "pp1000n" in runs:
        print("note: the kernel checks per-thread CPU timers on its scheduler tick (CONFIG_HZ), so at intervals\n"
              "      shorter than the tick one signal (samples_taken) stands for several intervals (samples_weight\n"
              "      = signals + timer overruns). The weight keeps CPU totals right; the captures are per tick.")
    results["overhead"] = {"configs": {c.key: c.label for c in cfgs}, "runs": runs, "skipped": skip,
                           "table": rows}


def rate_section(args, python, tmp, results):
    """How fast polyprof really samples: samples_taken counts the signals
    handled (captures), samples_weight the intervals they stand for."""
    print("\n== polyprof rate probe: mixed workload (scale %d), native, one run per interval" % args.probe_scale)
    rows, out = [], []
    for iv in (10, 4, 2, 1, 0.5, 0.1):
        cfg = Config("rate", "", 1000.0 / iv, profiler="polyprof", interval_ms=iv, native=1)
        rec = one_run(cfg, python, ["--workload", "mixed", "--scale", str(args.probe_scale)], tmp, "iv%g" % iv)
        if "error" in rec:
            rows.append(["%g ms" % iv, "ERROR", rec["error"][:80], "", "", "", ""])
            continue
        md, cpu = polyprof_md(rec), rec["work_thread_cpu_s"]
        taken = md["samples_taken"]
        rows.append(["%g ms (%g Hz)" % (iv, 1000.0 / iv), "%.0f" % (1000.0 / iv),
                     "%.0f" % (md["samples_weight"] / cpu),
                     fmt(taken / cpu if taken is not None else None, ".0f"),
                     fmt(md["samples_weight"] / taken if taken else None, ".2f"),
                     "%.2f" % (md["handler_ns"] / 1e6 / cpu), fmt(per_signal_us(md), ".2f")])
        out.append({"interval_ms": iv, "record": rec})
    print(table(["interval", "nominal/CPU-s", "samples_weight/CPU-s", "samples_taken (signals)/CPU-s",
                 "weight per signal", "handler ms per CPU-s", "handler us per signal"], rows))
    print("per CPU-s of the workload's main thread (between start and stop); kernel CONFIG_HZ = %s"
          % results["machine"]["config_hz"])
    results["rate_probe"] = out


def deep_section(args, python, tmp, results):
    print("\n== Per-sample cost with deep stacks: %d run(s) of %.1f CPU-s each, 100 Hz" % (args.deep_rounds, args.deep_seconds))
    rows, out = [], {}
    for workload in ("deep-json", "deep-sorted"):
        for native in (1, 0):
            cfg = Config("deep", "", 100, profiler="polyprof", interval_ms=10, native=native)
            per, nat, py, raw, got, sig, exp, trunc, failed = [], [], [], [], [], [], [], [], []
            recs = []
            for r in range(args.deep_rounds):
                rec = one_run(cfg, python, ["--workload", workload, "--seconds", str(args.deep_seconds), "--depths"],
                              tmp, "%s-%d-%d" % (workload, native, r))
                if "error" in rec:
                    print("  %s native=%d ERROR %s" % (workload, native, rec["error"]))
                    continue
                md = polyprof_md(rec)
                depths = rec.pop("depths", [])
                recs.append(rec)
                if md["samples_weight"]:
                    per.append(per_signal_us(md))
                nat.extend(d[0] for d in depths)
                py.extend(d[1] for d in depths)
                raw.append(rec.get("raw_native_depth"))
                got.append(md["samples_weight"])
                sig.append(md["samples_taken"])
                exp.append(rec["work_thread_cpu_s"] * 100)
                trunc.append(md.get("truncated", 0))
                failed.append(md.get("unwind_failed", 0))
            out["%s/native=%d" % (workload, native)] = recs
            rows.append([workload, "native" if native else "Python-only", fmt(med(per), ".2f"),
                         ("%.2f-%.2f" % (min(per), max(per))) if per else "-",
                         fmt(med(nat), ".0f"), fmt(med(py), ".0f"), fmt(med(raw), ".0f"),
                         "%d / %d" % (sum(got), sum(exp)) if got else "-",
                         "%d" % sum(sig) if got and None not in sig else "-",
                         "%d / %d" % (sum(trunc), sum(failed)) if got else "-"])
    print(table(["workload", "mode", "us/signal, median", "min-max", "native frames/sample (median)",
                 "python frames/sample", "raw native depth at leaf", "samples weight / expected", "signals taken",
                 "truncated / unwind failed"], rows))
    print("native frames/sample: frames of kind 'native' in p.samples() (after the mixed-mode merge);\n"
          "raw native depth: glibc backtrace() at the workload's leaf, i.e. what the handler unwinds (incl. ~5 ctypes frames).")
    results["deep"] = out


# --------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description="polyprof overhead vs no profiler, py-spy, pyinstrument, yappi, cProfile")
    ap.add_argument("--rounds", type=int, default=None, help="rounds of all configurations (default 5; --quick 2)")
    ap.add_argument("--scale", type=int, default=None,
                    help="mixed-workload units (default 1300, ~4 s on the reference machine; --quick 250)")
    ap.add_argument("--quick", action="store_true", help="smoke run, under a minute")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the children (default: this one)")
    ap.add_argument("--max-rate-interval-ms", type=float, default=1.0, help="interval of the high-rate polyprof run")
    ap.add_argument("--only", default=None, help="comma-separated config keys (none,none2,pp100n,pp100p,pp1000n,"
                                                 "pyspy,pyinst,yappi,cprof)")
    ap.add_argument("--skip-deep", action="store_true")
    ap.add_argument("--skip-rate", action="store_true")
    ap.add_argument("--seed", type=int, default=1, help="seed of the per-round order shuffle")
    ap.add_argument("--json", default=None, help="also write every raw measurement here")
    args = ap.parse_args()
    args.rounds = args.rounds or (2 if args.quick else 5)
    args.scale = args.scale or (250 if args.quick else 1300)
    args.probe_scale = 120 if args.quick else 400
    args.deep_rounds = 1 if args.quick else 3
    args.deep_seconds = 1.0 if args.quick else 3.0
    python = os.path.abspath(args.python) if os.sep in args.python else shutil.which(args.python)

    info = machine_info(python)
    results = {"machine": info, "argv": sys.argv}
    print("polyprof Python overhead benchmark   %s" % info["date"])
    for k in ("nproc", "affinity", "cpu_model", "kernel", "config_hz", "python", "polyprof", "py-spy",
              "pyinstrument", "yappi", "loadavg_start"):
        print("  %-14s %s" % (k, info[k]))
    print("  %-14s %s" % ("command", " ".join([os.path.basename(sys.executable)] + sys.argv)))

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="polyprof-bench-") as tmp:
        overhead_section(args, python, tmp, results)
        if not args.skip_rate:
            rate_section(args, python, tmp, results)
        if not args.skip_deep:
            deep_section(args, python, tmp, results)
    info["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    print("\ndone in %.0fs; load average at end %s" % (time.perf_counter() - t0, " ".join(info["loadavg_end"])))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
        print("raw measurements: %s" % args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

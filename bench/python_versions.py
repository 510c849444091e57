#!/usr/bin/env python3
"""polyprof's 100 Hz overhead and per-signal cost on several CPython versions,
measured in one run with the versions alternating round by round (so a shared
machine's drift lands on every version alike). Each round runs
bench/python_overhead.py once per interpreter (--rounds 1: no profiler,
Python-only and native at 100 Hz, in its own shuffled order); ratios are
against that same round's unprofiled run of the same interpreter.

    python bench/python_versions.py --rounds 5 \\
        --interp 3.11=~/.pyenv/versions/3.11.7/bin/python \\
        --interp "3.14=tests/runtimes/run_in_chroot.sh /path/to/sid -- /path/to/venv-3.14/bin/python"

An --interp is LABEL=COMMAND: COMMAND's last word is the interpreter (with
polyprof installed) and anything before it a prefix that runs the harness
where that interpreter lives (e.g. a chroot). No pass/fail: it reports.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OVERHEAD = os.path.join(HERE, "python_overhead.py")
CONFIGS = ("pp100p", "pp100n")


def run_round(label, command, seed, scale, out_dir):
    *prefix, python = shlex.split(os.path.expanduser(command))
    out = os.path.join(out_dir, "%s-%d.json" % (label, seed))
    argv = prefix + [python, OVERHEAD, "--python", python, "--rounds", "1", "--only", ",".join(CONFIGS),
                     "--skip-rate", "--skip-deep", "--seed", str(seed), "--json", out]
    if scale:
        argv += ["--scale", str(scale)]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.exists(out):
        sys.exit("%s, round %d failed:\n%s" % (label, seed, (proc.stderr or proc.stdout)[-2000:]))
    with open(out) as f:
        results = json.load(f)
    runs = results["overhead"]["runs"]
    base = runs["none"][0]
    row = {"python": results["machine"]["python"].split()[0]}
    for key in CONFIGS:
        rec = runs[key][0]
        md = rec["polyprof"]
        row[key] = {"cpu_ratio": rec["cpu_s"] / base["cpu_s"],
                    "work_ratio": rec["work_thread_cpu_s"] / base["work_thread_cpu_s"],
                    "us_per_signal": md["handler_ns"] / md["samples_taken"] / 1000.0 if md["samples_taken"] else None}
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--interp", action="append", required=True, help="LABEL=COMMAND (see above); two or more")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scale", type=int, default=None, help="python_overhead.py --scale (default its own)")
    ap.add_argument("--tmp", default=None, help="where the rounds' JSON goes: a directory every COMMAND sees at "
                                                "the same path (e.g. the checkout's build/ for a chroot)")
    args = ap.parse_args()
    interps = [spec.split("=", 1) for spec in args.interp]
    rows = {label: [] for label, _ in interps}
    if args.tmp:
        os.makedirs(args.tmp, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="polyprof-versions-", dir=args.tmp) as tmp:
        for r in range(1, args.rounds + 1):
            order = interps if r % 2 else interps[::-1]
            for label, command in order:
                rows[label].append(run_round(label, command, r, args.scale, tmp))
                print("round %d %-6s %s" % (r, label, json.dumps(rows[label][-1])), flush=True)
    print("\n| CPython | config | CPU ratio (median) | work-only ratio (median) | handler us/signal (median, min-max) |")
    print("|---|---|---|---|---|")
    for label, _ in interps:
        for key in CONFIGS:
            cpu = [x[key]["cpu_ratio"] for x in rows[label]]
            work = [x[key]["work_ratio"] for x in rows[label]]
            us = [x[key]["us_per_signal"] for x in rows[label] if x[key]["us_per_signal"] is not None]
            print("| %s (%s) | %s | %.3f | %.3f | %.1f (%.1f-%.1f) |"
                  % (label, rows[label][0]["python"], "100 Hz Python-only" if key == "pp100p" else "100 Hz native",
                     statistics.median(cpu), statistics.median(work), statistics.median(us), min(us), max(us)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

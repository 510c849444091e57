#!/usr/bin/env python3
"""Fixed CPU cost of `polyprof record` on an empty program, next to py-spy.

    python bench/record_fixed_cost.py                       # 15 rounds
    python bench/record_fixed_cost.py --rounds 31 --polyprof build/venv-base/bin/polyprof
    python bench/record_fixed_cost.py --json results.json

Each round runs, in a shuffled order: the plain program (`python -c pass`),
`polyprof record -o OUT -- python -c pass` for each --polyprof command given
(default: the `polyprof` next to this interpreter), `py-spy record` of the same
program when py-spy is installed next to it (py-spy may exit non-zero when
the program ends before it attaches; its cost counts all the same), and a second plain run as the
noise floor. CPU is user+sys of the whole process tree (RUSAGE_CHILDREN delta
around each run: every process the command started and waited for). Reported:
medians over rounds and the median of each round's difference to its plain run.

No pass/fail: the script reports.
"""
import argparse
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


def cpu_of(cmd, env, may_fail=False):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 and not may_fail:
        raise SystemExit("%s failed (%d): %s" % (" ".join(cmd), proc.returncode, proc.stderr.decode()[-400:]))
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--polyprof", action="append", default=None,
                    help="a polyprof command to measure (repeatable); default: the one next to this interpreter")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    bindir = os.path.dirname(sys.executable)
    python = sys.executable
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    out_dir = tempfile.mkdtemp(prefix="pp-fixed-")
    configs = {"plain": [python, "-c", "pass"], "plain (noise)": [python, "-c", "pass"]}
    for i, pp in enumerate(args.polyprof or [os.path.join(bindir, "polyprof")]):
        pp_python = os.path.join(os.path.dirname(pp), "python")
        configs["polyprof record [%s]" % pp] = [pp, "record", "-o", os.path.join(out_dir, "p%d.pb.gz" % i),
                                                "--", pp_python, "-c", "pass"]
    pyspy = shutil.which("py-spy", path=env["PATH"])
    if pyspy:
        configs["py-spy record"] = [pyspy, "record", "-o", os.path.join(out_dir, "s.txt"), "-f", "raw",
                                    "--", python, "-c", "pass"]
    # py-spy exits non-zero when the program ended before it attached; its cost is still counted.
    may_fail = {"py-spy record"}
    for name, cmd in configs.items():   # warm the page cache and the .pyc files
        cpu_of(cmd, env, name in may_fail)
    cpu = {name: [] for name in configs}
    wall = {name: [] for name in configs}
    extra = {name: [] for name in configs}
    for _ in range(args.rounds):
        names = list(configs)
        random.shuffle(names)
        got = {}
        for name in names:
            got[name] = cpu_of(configs[name], env, name in may_fail)
            cpu[name].append(got[name][0])
            wall[name].append(got[name][1])
        for name in names:
            extra[name].append(got[name][0] - got["plain"][0])
    result = {}
    print("%d rounds, CPU (user+sys of the process tree), medians" % args.rounds)
    for name in configs:
        result[name] = {"cpu_ms": 1000 * statistics.median(cpu[name]),
                        "wall_ms": 1000 * statistics.median(wall[name]),
                        "extra_cpu_ms": 1000 * statistics.median(extra[name])}
        print("  %-60s cpu %7.1f ms  wall %7.1f ms  over plain %+7.1f ms" % (
            name, result[name]["cpu_ms"], result[name]["wall_ms"], result[name]["extra_cpu_ms"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

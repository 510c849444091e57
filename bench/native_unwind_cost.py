"""The signal handler's cost per sample with deep native stacks: a mixed
Python/C workload (json, zlib, re, sorting) under Python functions that
call each other through C (map, sorted's key, re.sub's callback), so each
sample's stack holds ~64 native frames. Reports `handler_ns / samples_taken`
from the profile's metadata for a fresh process's first 300 ms (every code
path seen for the first time) and for a second capture in the same process
(steady state), the share of samples the unwind tables missed, and the
native depth reached. With --strace, one more run per interpreter under
strace gives the rt_sigprocmask calls made inside the handler per sample. Each round runs each given interpreter (a venv's
python with polyprof installed) in turn, so builds are compared in the same
conditions.

    python bench/native_unwind_cost.py ROUNDS PYTHON [PYTHON...] [--strace]

A PYTHON given as python-only:PYTHON runs it with native=False: the
handler's cost without the native unwind, in the same rounds.
"""
import json
import tempfile
import statistics
import subprocess
import sys

CHILD = r'''
import json, re, time, zlib, sys
import polyprof

DATA = [{"id": i, "name": "item%d" % i, "tags": ["a", "b", str(i)]} for i in range(40)]
WORDS = re.compile(r"(\w+)(\d)")

def leaf():
    s = json.dumps(DATA)
    z = zlib.compress(s.encode(), 6)
    zlib.decompress(z)
    json.loads(s)
    WORDS.sub(lambda m: m.group(1), s)
    sorted(DATA, key=lambda d: (d["name"], d["id"]))

def via_map(n):
    return list(map(level, [n]))

def via_sorted(n):
    return sorted([n], key=level)

def via_sub(n):
    return re.sub("x", lambda m: str(level(n)), "x")

HOPS = [via_map, via_sorted, via_sub]

def level(n):
    if n == 0:
        leaf()
        return 0
    HOPS[n % 3](n - 1)
    return n

def run(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        level(int(sys.argv[1]))

def capture(seconds):
    polyprof.start(interval_ms=1, native=sys.argv[2] == "native")
    run(seconds)
    p = polyprof.stop()
    m = p.metadata
    samples = max(1, int(m["samples_taken"]))
    # Native frames left after the merge (the eval loop's own frames are
    # replaced by the Python frames they ran, so the raw stacks are deeper).
    depth = max((sum(1 for f in s.frames if f.kind == "native") for s in p.samples()), default=0)
    return {"ns": int(m["handler_ns"]) / samples, "samples": samples,
            "misses": int(m.get("unwind_table_misses", -1)), "native_depth": depth}

first = capture(0.3)
run(0.5)
steady = capture(1.5)
print(json.dumps({"fresh": first, "steady": steady}))
'''


def one(spec, hops, strace=False):
    python = spec.split(":", 1)[1] if spec.startswith("python-only:") else spec
    cmd = [python, "-c", CHILD, str(hops), "python" if spec.startswith("python-only:") else "native"]
    if not strace:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])
    # Calls made inside the profiling signal's handler: between a thread's
    # SIGPROF delivery and its rt_sigreturn.
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as f:
        out = subprocess.run(["strace", "-f", "-qq", "-e", "trace=rt_sigprocmask,rt_sigreturn", "-o", f.name] + cmd,
                             capture_output=True, text=True, check=True).stdout
        inside, calls = {}, 0
        for line in f:
            tid, _, rest = line.partition(" ")
            if rest.startswith("--- SIGPROF"):
                inside[tid] = True
            elif rest.startswith("rt_sigreturn"):
                inside[tid] = False
            elif rest.startswith("rt_sigprocmask") and inside.get(tid):
                calls += 1
    res = json.loads(out.strip().splitlines()[-1])
    res["sigprocmask_calls"] = calls
    return res


def sigprocmask_per_sample(python, hops):
    on = one(python, hops, True)
    return round(on["sigprocmask_calls"] / max(1, on["fresh"]["samples"] + on["steady"]["samples"]), 2)


def main():
    rounds = int(sys.argv[1])
    pythons = [a for a in sys.argv[2:] if not a.startswith("--")]
    hops = 9
    res = {p: [] for p in pythons}
    for _ in range(rounds):
        for p in pythons:
            res[p].append(one(p, hops))
    summary = {}
    for p, runs in res.items():
        summary[p] = {
            phase: {
                "handler_us_median": round(statistics.median(r[phase]["ns"] for r in runs) / 1000, 2),
                "handler_us_all": [round(r[phase]["ns"] / 1000, 2) for r in runs],
                "table_miss_share": round(sum(max(0, r[phase]["misses"]) for r in runs) /
                                          sum(r[phase]["samples"] for r in runs), 4)
                if all(r[phase]["misses"] >= 0 for r in runs) else None,
                "samples": sum(r[phase]["samples"] for r in runs),
                "max_native_depth": max(r[phase]["native_depth"] for r in runs),
            } for phase in ("fresh", "steady")
        }
    if "--strace" in sys.argv:
        for p in [p for p in pythons if not p.startswith("python-only:")]:
            summary[p]["rt_sigprocmask_per_sample"] = sigprocmask_per_sample(p, hops)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

"""The signal handler's cost per sample against stack depth: recursion 100
and 400 Python frames deep, each in a fresh interpreter, `handler_ns /
samples_taken` from the profile's metadata (wall time in the handler, all
threads). The difference over 300 frames is the cost of one more frame.

    python bench/python_depth_cost.py [rounds] [--no-native]
"""
import json
import os
import statistics
import subprocess
import sys

CHILD = r'''
import sys, time
import polyprof
sys.setrecursionlimit(5000)
def burn(s):
    end = time.thread_time() + s
    x = 0
    while time.thread_time() < end:
        for i in range(200):
            x += i * i
def down(n):
    return burn(1.5) if n == 0 else down(n - 1)
polyprof.start(interval_ms=2, native=sys.argv[2] == 'native')
down(int(sys.argv[1]))
m = polyprof.stop().metadata
print(m["handler_ns"] / max(1, m["samples_taken"]), m["truncated"], m["samples_taken"])
'''


def one(depth):
    out = subprocess.run([sys.executable, "-c", CHILD, str(depth), "python" if "--no-native" in sys.argv else "native"], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    rounds = int(args[0]) if args else 5
    res = {100: [], 400: []}
    for _ in range(rounds):
        for d in res:
            res[d].append(one(d))
    med = {d: statistics.median(r[0] for r in v) for d, v in res.items()}
    print(json.dumps({
        "python": sys.version.split()[0],
        "native": "--no-native" not in sys.argv,
        "handler_ns_per_sample": {str(d): round(m) for d, m in med.items()},
        "ns_per_extra_frame": round((med[400] - med[100]) / 300, 1),
        "truncated": {str(d): sum(r[1] for r in v) for d, v in res.items()},
        "samples": {str(d): sum(r[2] for r in v) for d, v in res.items()},
    }))


if __name__ == "__main__":
    main()

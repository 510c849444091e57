"""Shared by the workloads: burn CPU for a measured time, print results."""
import json
import sys
import time



def burn(seconds):
    """Spin for `seconds` of this thread's CPU time; returns the CPU time used."""
    start = time.thread_time()
    x = 0
    while time.thread_time() - start < seconds:
        for i in range(200):
            x += i * i
    return time.thread_time() - start


def samples_json(profile):
    return [{"frames": [list(f) for f in s.frames], "values": list(s.values), "labels": s.labels}
            for s in profile.samples()]


def emit(**data):
    sys.stdout.write(json.dumps(data) + "\n")
    sys.stdout.flush()

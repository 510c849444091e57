"""Sampled shares match what the workload measured for itself."""
import pytest

from conftest import function_share, run_workload


@pytest.mark.parametrize("native", ["native", "python-only"])
def test_cpu_shares_match_thread_cpu_time(native):
    data, _ = run_workload("ratio", "cpu", native)
    truth = data["truth"]
    expected = truth["heavy"] / (truth["heavy"] + truth["light"])
    heavy = function_share(data["samples"], "heavy")
    light = function_share(data["samples"], "light")
    assert heavy + light > 0.9, "the two functions should hold nearly all samples"
    measured = heavy / (heavy + light)
    assert abs(measured - expected) <= 0.05, (measured, expected)
    assert data["metadata"]["samples_weight"] > 500   # 1 ms intervals, weighted (see docs/options.md)


def test_wall_mode_samples_sleeping_threads():
    data, _ = run_workload("sleepers")
    # One thread sleeps in time.sleep, the main thread burns CPU: in wall
    # mode both are sampled at about the same rate.
    by_thread = {}
    for s in data["samples"]:
        by_thread[s["labels"]["thread_name"]] = by_thread.get(s["labels"]["thread_name"], 0) + s["values"][0]
    assert set(by_thread) >= {"MainThread", "sleeper"}
    ratio = by_thread["sleeper"] / by_thread["MainThread"]
    assert 0.7 < ratio < 1.4, by_thread
    sleeper_stacks = [s for s in data["samples"] if s["labels"]["thread_name"] == "sleeper"]
    assert any("nap" in [f[0] for f in s["frames"]] for s in sleeper_stacks)


def test_four_threads_each_sampled_in_proportion_to_cpu():
    data, _ = run_workload("threads4")
    truth = data["truth"]          # thread name -> CPU seconds, measured by each thread
    total_truth = sum(truth.values())
    by_thread = {}
    for s in data["samples"]:
        name = s["labels"]["thread_name"]
        by_thread[name] = by_thread.get(name, 0) + s["values"][1]
    total = sum(by_thread.get(n, 0) for n in truth)
    for name, cpu in truth.items():
        assert name in by_thread, "thread %s was never sampled" % name
        share, expected = by_thread[name] / total, cpu / total_truth
        assert abs(share - expected) <= 0.05, (name, share, expected)


@pytest.mark.parametrize("interval_ms,seconds,options", [(10, 3, None), (5, 2, "wall_threads=8")])
def test_wall_mode_with_idle_pool_keeps_each_threads_wall_time(interval_ms, seconds, options):
    # 48 idle threads and one busy one: a wall tick signals at most
    # wall_threads of them (16 by default), each sample weighing the ticks
    # since its thread's last one, so every thread still gets about the
    # capture's length (from start's return to the stop call); at the stop,
    # the ticks since each thread's last visit count on its latest stack. A
    # signal still pending at the stop on a loaded machine loses its ticks:
    # 5 % holds that (the C test, tests/core/test_wall_threads.c, measured
    # 1 % at load 10-15).
    args = [interval_ms, seconds] + ([options] if options else [])
    data, _ = run_workload("wall_pool", *args)
    wall = {}
    for s in data["samples"]:
        wall[s["labels"]["thread_name"]] = wall.get(s["labels"]["thread_name"], 0) + s["values"][1]
    expected = ["MainThread"] + ["idle%02d" % i for i in range(48)]
    assert set(wall) >= set(expected), sorted(set(expected) - set(wall))
    duration_ns = data["captured_s"] * 1e9
    off = {name: wall[name] / duration_ns - 1 for name in expected}
    assert max(abs(v) for v in off.values()) <= 0.05, off
    meta = data["metadata"]
    assert meta["dropped_ring_full"] == 0
    # Bounded per tick: without the bound each tick signals all 49 threads.
    per_tick = 16 if options is None else 8
    ticks = duration_ns / (interval_ms * 1e6)
    assert meta["samples_taken"] <= per_tick * ticks * 1.05, (meta["samples_taken"], ticks)
    idle_stacks = [s for s in data["samples"] if s["labels"]["thread_name"] == "idle00"]
    assert any("idle" in [f[0] for f in s["frames"]] for s in idle_stacks)


def test_wall_mode_follows_threads_that_move_to_another_wait():
    # Threads blocked where they were last sampled are counted there without
    # a signal; one that wakes and waits elsewhere must be seen there. Each
    # of 48 threads waits in first_wait for the first half of the capture and
    # in second_wait for the second half: its wall time should split the same
    # way (within 5 % of the capture, like the idle pool test above).
    data, _ = run_workload("wall_moves", 10, 3)
    duration_ns = data["captured_s"] * 1e9
    first_share = data["first_s"] / data["captured_s"]
    by_thread = {}
    for s in data["samples"]:
        name = s["labels"]["thread_name"]
        if not name.startswith("pooled"):
            continue
        names = [f[0] for f in s["frames"]]
        where = "first" if "first_wait" in names else "second" if "second_wait" in names else "other"
        got = by_thread.setdefault(name, {"first": 0, "second": 0, "other": 0})
        got[where] += s["values"][1]
    assert len(by_thread) == 48, sorted(by_thread)
    for name, got in by_thread.items():
        total = sum(got.values())
        assert abs(total / duration_ns - 1) <= 0.05, (name, got, duration_ns)
        assert abs(got["first"] / total - first_share) <= 0.05, (name, got, first_share)
        assert abs(got["second"] / total - (1 - first_share)) <= 0.05, (name, got, first_share)

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

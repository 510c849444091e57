"""@polyprof.profile_endpoint keeps only the samples taken while the decorated
function is on the stack, then reports once and stops."""
from conftest import run_workload


def names(samples):
    out = set()
    for s in samples:
        out.update(f[0] for f in s["frames"])
    return out


def test_sync_and_async_endpoints_report_their_own_work_only():
    data, _ = run_workload("endpoint")
    assert data["states"] == ["done", "done"]
    assert len(data["reports"]) == 2
    sync_report = next(r for r in data["reports"] if "handler," in r and "async" not in r.split(",")[0])
    async_report = next(r for r in data["reports"] if "async_handler" in r.split(",")[0])
    assert "inner_sync_work" in sync_report and "cum%" in sync_report
    assert "inner_async_work" in async_report
    sync_names, async_names = names(data["sync_samples"]), names(data["async_samples"])
    assert "inner_sync_work" in sync_names and "handler" in sync_names
    assert "inner_async_work" in async_names
    # Work elsewhere is not attributed: another thread, or another coroutine
    # interleaved on the same event loop.
    assert "unrelated" not in sync_names | async_names
    assert "other_coroutine" not in async_names
    for s in data["sync_samples"]:
        assert s["labels"]["endpoint"] == "__main__.handler"
    for s in data["async_samples"]:
        assert s["labels"]["endpoint"] == "__main__.async_handler"
    # After the window the sampler is off: the decorator costs nothing more.
    assert data["running"] is False

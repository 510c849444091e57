"""Our pprof and collapsed output, read by tools we did not write."""
import os
import subprocess

from conftest import run_workload


def make_profile(tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        run_workload("mixed")
    finally:
        os.chdir(cwd)
    return str(tmp_path / "mixed.pb.gz"), str(tmp_path / "mixed.folded")


def test_go_tool_pprof_reads_top_and_raw(tmp_path, go_tool):
    pb, _ = make_profile(tmp_path)
    top = subprocess.run([go_tool, "tool", "pprof", "-top", "-cum", pb], capture_output=True, text=True,
                         timeout=120)
    assert top.returncode == 0, top.stderr
    # deflate: zlib's, named in every build (zlib_compress is the interpreter's
    # static function, nameless in a stripped distribution build).
    assert "compress_it" in top.stdout and "hash_it" in top.stdout and "deflate" in top.stdout
    assert "Type: cpu" in top.stdout
    raw = subprocess.run([go_tool, "tool", "pprof", "-raw", pb], capture_output=True, text=True, timeout=120)
    assert raw.returncode == 0, raw.stderr
    assert "samples/count cpu/nanoseconds" in raw.stdout
    assert "thread_name" in raw.stdout


def test_pprof_is_valid_and_complete(tmp_path, pprofcheck):
    pb, _ = make_profile(tmp_path)
    info = pprofcheck(pb)
    assert info["sample_types"] == [["samples", "count"], ["cpu", "nanoseconds"]]
    assert info["period_type"] == ["cpu", "nanoseconds"] and info["period"] == 2000000
    assert info["duration_nanos"] > 0.9e9
    assert all("thread_id" in s["num_labels"] and "thread_name" in s["labels"] for s in info["samples"])
    stacks = [s["stack"] for s in info["samples"]]
    assert any("deflate" in st and "compress_it" in st for st in stacks)
    # Python frames name their file and line.
    for s in info["samples"]:
        for name, file, line in zip(s["stack"], s["files"], s["lines"]):
            if name == "compress_it":
                assert file.endswith("mixed.py") and line > 0


def test_collapsed_parses_back_to_the_same_totals(tmp_path):
    import polyprof
    pb, folded = make_profile(tmp_path)
    totals = {}
    with open(folded) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            assert stack and int(count) > 0
            frames = stack.split(";")
            if "compress_it" in frames:   # root first
                assert frames[0] == "<module>"
                if "deflate" in frames:
                    assert frames.index("compress_it") < frames.index("deflate")
            for name in set(frames):
                totals[name] = totals.get(name, 0) + int(count)
    prof = polyprof.load(pb)
    total_ns = sum(s.values[1] for s in prof.samples())
    assert sum(int(l.rsplit(" ", 1)[1]) for l in open(folded)) == total_ns
    assert totals["compress_it"] > 0 and totals["hash_it"] > 0


def test_top_command_reports_hottest_functions(tmp_path):
    import sys
    pb, _ = make_profile(tmp_path)
    out = subprocess.run([sys.executable, "-m", "polyprof", "top", pb, "-n", "10"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "compress_it" in out.stdout and "cum%" in out.stdout


def test_cpuprofile_is_consistent(tmp_path):
    """Chrome DevTools' format from the same core writer Node uses."""
    import json
    import polyprof
    pb, _ = make_profile(tmp_path)
    out = tmp_path / "mixed.cpuprofile"
    polyprof.load(pb).write(str(out))
    cp = json.loads(out.read_text())
    ids = {n["id"] for n in cp["nodes"]}
    assert len(ids) == len(cp["nodes"]) and cp["nodes"][0]["callFrame"]["functionName"] == "(root)"
    assert all(c in ids for n in cp["nodes"] for c in n["children"])
    assert all(s in ids for s in cp["samples"])
    assert len(cp["samples"]) == len(cp["timeDeltas"]) == sum(n["hitCount"] for n in cp["nodes"])
    assert cp["endTime"] - cp["startTime"] == sum(cp["timeDeltas"])
    names = {n["callFrame"]["functionName"] for n in cp["nodes"]}
    assert {"compress_it", "deflate"} <= names

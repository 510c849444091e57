"""polyprof diff / convert / serve, as a user runs them (in-process: fast)."""
import collections
import contextlib
import gzip
import io
import json
import os
import threading
import time
import urllib.error
import urllib.request

import pytest

import polyprof
from polyprof import cli

pytestmark = pytest.mark.version_independent


def burn_alpha(seconds):
    t = time.process_time()
    while time.process_time() - t < seconds:
        sum(i * i for i in range(500))


def burn_beta(seconds):
    t = time.process_time()
    while time.process_time() - t < seconds:
        sorted(range(500), key=lambda i: -i)


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main([str(a) for a in argv])
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
            err.write(str(e.code) if not isinstance(e.code, int) else "")
    return rc, out.getvalue(), err.getvalue()


def stacks(prof, index):
    """{stack root first: total of value `index`}, names as the text formats keep them."""
    out = collections.Counter()
    for s in prof.samples():
        key = tuple(f.name or "[unknown]" for f in reversed(s.frames))
        out[key] += s.values[index]
    return {k: v for k, v in out.items() if v}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A real profile (samples and cpu values) with two hot functions."""
    polyprof.start(interval_ms=1)
    burn_alpha(0.1)
    burn_beta(0.05)
    prof = polyprof.stop()
    path = tmp_path_factory.mktemp("rec") / "rec.pb.gz"
    prof.write(str(path))
    return path


def folded(path, lines):
    path.write_text("".join("%s %d\n" % kv for kv in lines.items()))
    return path


def test_convert_round_trips_keep_stacks_and_values(recorded, tmp_path, pprofcheck):
    src = polyprof.load(str(recorded))
    assert [t for t, _ in src.value_types] == ["samples", "cpu"]
    # pprof -> collapsed -> pprof: the collapsed file keeps the default value (cpu)
    assert run_cli("convert", recorded, "-o", tmp_path / "a.folded")[0] == 0
    assert run_cli("convert", tmp_path / "a.folded", "-o", tmp_path / "a.pb.gz")[0] == 0
    assert stacks(polyprof.load(str(tmp_path / "a.pb.gz")), 0) == stacks(src, 1)
    pprofcheck(str(tmp_path / "a.pb.gz"))
    # pprof -> speedscope -> pprof: both values, by name
    rc, _, err = run_cli("convert", recorded, "-o", tmp_path / "b.speedscope.json")
    assert rc == 0 and "speedscope" in err
    doc = json.loads((tmp_path / "b.speedscope.json").read_text())
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    assert [(p["type"], p["name"], p["unit"]) for p in doc["profiles"]] == \
        [("sampled", "samples", "none"), ("sampled", "cpu", "nanoseconds")]
    for p in doc["profiles"]:
        assert len(p["samples"]) == len(p["weights"]) and p["endValue"] == sum(p["weights"])
        assert all(0 <= i < len(doc["shared"]["frames"]) for s in p["samples"] for i in s)
    assert run_cli("convert", tmp_path / "b.speedscope.json", "-o", tmp_path / "b.pprof")[0] == 0
    back = polyprof.load(str(tmp_path / "b.pprof"))
    assert back.value_types == src.value_types
    assert stacks(back, 0) == stacks(src, 0) and stacks(back, 1) == stacks(src, 1)
    # pprof -> cpuprofile -> pprof: counts exact, times to the microsecond
    assert run_cli("convert", recorded, "-o", tmp_path / "c.cpuprofile")[0] == 0
    assert run_cli("convert", tmp_path / "c.cpuprofile", "--to", "pprof", "-o", tmp_path / "c.out")[0] == 0
    back = polyprof.load(str(tmp_path / "c.out"), "pprof")
    assert stacks(back, 0) == stacks(src, 0)
    want = stacks(src, 1)
    got = stacks(back, 1)
    assert set(got) == set(want)
    assert all(abs(got[k] - want[k]) <= 1000 * src_count for k, src_count in stacks(src, 0).items() if k in want)


def test_convert_reads_gzip_or_plain_pprof_and_names_accepted_formats(recorded, tmp_path):
    raw = tmp_path / "plain.pprof"
    raw.write_bytes(gzip.decompress(recorded.read_bytes()))
    assert run_cli("convert", raw, "-o", tmp_path / "p.folded")[0] == 0
    assert (tmp_path / "p.folded").read_text().count("\n") > 0
    rc, _, err = run_cli("convert", recorded, "-o", tmp_path / "x.json")
    assert rc != 0 and ".speedscope.json" in err and ".pb.gz" in err
    rc, _, err = run_cli("convert", recorded, "--to", "yaml", "-o", tmp_path / "x.out")
    assert rc != 0 and "unknown format 'yaml'" in err and "speedscope" in err
    (tmp_path / "page.html").write_text("<html>")
    rc, _, err = run_cli("convert", tmp_path / "page.html", "-o", tmp_path / "y.pb.gz")
    assert rc != 0 and "readable formats: pprof" in err and "cpuprofile (.cpuprofile)" in err
    (tmp_path / "bad.speedscope.json").write_text('{"shared": {"frames": []}, "profiles": [')
    rc, _, err = run_cli("convert", tmp_path / "bad.speedscope.json", "-o", tmp_path / "z.pb.gz")
    assert rc != 0 and "not valid JSON" in err


def test_diff_text_ranks_regressions_by_share(tmp_path):
    # new is twice as long: shares, not raw values, are compared
    base = folded(tmp_path / "base.folded", {"main;alpha": 60, "main;beta": 30, "main;gone": 10})
    new = folded(tmp_path / "new.folded", {"main;alpha": 60, "main;beta": 120, "main;fresh": 20})
    rc, out, err = run_cli("diff", base, new, "--format", "text", "-n", "5")
    assert rc == 0, err
    grew = out.split("Grew most by cumulative share")[1].split("\n\n")[0]
    shrank = out.split("Shrank most by cumulative share")[1].split("\n\n")[0]
    rows = [l.split() for l in grew.splitlines()[2:]]
    assert rows[0][-1] == "beta" and rows[0][:3] == ["30.00%", "60.00%", "+30.00"]
    assert "fresh" in grew and "alpha" in shrank and "gone" in shrank and "main" not in out.replace("main;", "")
    assert "Grew most by self share" in out


def test_diff_html_and_sample_types(recorded, tmp_path):
    page = tmp_path / "diff.html"
    rc, _, err = run_cli("diff", recorded, recorded, "-o", page, "--sample-index", "samples")
    assert rc == 0, err
    html = page.read_text()
    assert "Differential flame graph: samples" in html and '"base":[' in html and "burn_alpha" in html
    same = polyprof.diff(polyprof.load(str(recorded)), polyprof.load(str(recorded)), "text", "cpu")
    assert same.startswith(b"Differential report: cpu") and b"(0 of 0 functions that grew)" in same
    rc, _, err = run_cli("diff", recorded, recorded, "--sample-index", "wall")
    assert rc != 0 and "no sample type 'wall'" in err and "cpu/nanoseconds" in err
    # a collapsed profile (samples/count) against a cpu default: a clear mismatch
    other = folded(tmp_path / "o.folded", {"main;x": 1})
    rc, _, err = run_cli("diff", other, recorded, "-o", tmp_path / "d.html")
    assert rc != 0 and "sample types do not match" in err and "--sample-index" in err


@pytest.fixture
def store(recorded, tmp_path):
    d = tmp_path / "store"
    s = polyprof.Store(str(d), max_age_s=0, max_bytes=0)
    prof = polyprof.load(str(recorded))
    t0 = 1_764_000_000
    s.put(prof, "checkout", "cpu", "continuous", start=t0)
    s.put(prof, "checkout", "cpu", "p95", start=t0 + 60)
    (d / "secret.txt").write_text("not a profile")
    (tmp_path / "outside.pb.gz").write_bytes(recorded.read_bytes())
    # an encrypted entry, as the store writes them when a key is configured
    key = tmp_path / "store.key"
    key.write_text(os.urandom(32).hex())
    polyprof.Store(str(d), max_age_s=0, max_bytes=0, key_file=str(key)).put(prof, "billing", "cpu", "manual",
                                                                           start=t0 + 30)
    return d


@contextlib.contextmanager
def serving(store, key_file=None):
    from polyprof import _serve
    srv, url = _serve.make_server(str(store), "127.0.0.1", 0, key_file)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield url
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(10)


@pytest.fixture
def server(store, monkeypatch):
    monkeypatch.delenv("POLYPROF_STORE_KEY", raising=False)
    with serving(store) as url:
        yield url


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_serve_lists_opens_and_diffs(server, store):
    status, page = get(server)
    assert status == 200
    names = sorted(n for n in os.listdir(store) if n.endswith(".pb.gz"))
    # newest first: the p95 profile, then the continuous one; the encrypted one is marked
    assert page.index(names[1]) < page.index(names[0]) and "encrypted" in page
    assert "checkout" in page and "p95" in page and "secret.txt" not in page
    status, flame = get(server + "profile?file=" + names[0])
    assert status == 200 and "window.FLAME=" in flame and "burn_alpha" in flame
    status, diff = get(server + "diff?base=%s&new=%s" % (names[0], names[1]))
    assert status == 200 and "Differential flame graph" in diff
    enc = [n for n in os.listdir(store) if n.endswith(".enc")][0]
    assert enc in page and "billing" in page
    status, msg = get(server + "profile?file=" + enc)
    assert status == 403 and "is encrypted" in msg and "POLYPROF_STORE_KEY" in msg
    status, msg = get(server + "diff?base=%s&new=%s" % (names[0], enc))
    assert status == 403 and "is encrypted" in msg
    status, msg = get(server + "diff?base=%s&new=%s&sample_index=bytes" % (names[0], names[1]))
    assert status == 422 and "no sample type" in msg


def test_serve_keeps_paths_inside_the_store(server):
    for path in ("profile?file=../outside.pb.gz", "profile?file=..%2Foutside.pb.gz", "profile?file=%2Fetc%2Fpasswd",
                 "profile?file=.", "profile?file=secret.txt", "../outside.pb.gz", "diff?base=../outside.pb.gz&new=x"):
        status, body = get(server + path)
        assert status in (400, 404, 422), path
        assert "root:" not in body
    status, _ = get(server + "profile?file=secret.txt")
    assert status == 422


def test_serve_refuses_non_loopback(store):
    from polyprof import _serve
    with pytest.raises(SystemExit) as e:
        _serve.make_server(str(store), "0.0.0.0", 0)
    assert "refusing to listen on 0.0.0.0" in str(e.value)
    assert _serve.is_loopback("::1") and _serve.is_loopback("localhost") and not _serve.is_loopback("10.0.0.1")


def test_serve_opens_encrypted_profiles_with_the_key(store, tmp_path):
    enc = [n for n in os.listdir(store) if n.endswith(".enc")][0]
    with serving(store, str(tmp_path / "store.key")) as url:
        status, flame = get(url + "profile?file=" + enc)
        assert status == 200 and "burn_alpha" in flame
    wrong = tmp_path / "wrong.key"
    wrong.write_text(os.urandom(32).hex())
    with serving(store, str(wrong)) as url:
        status, msg = get(url + "profile?file=" + enc)
        assert status == 403 and "cannot read" in msg and enc in msg

"""Encryption at rest in the local store: the production configuration with
POLYPROF_STORE_KEY writes only encrypted windows, `polyprof store show`
decodes them with the key (checked again with `go tool pprof`), and a wrong
or missing key, a changed or truncated file, a bad key encoding each give
one clear message and a non-zero exit, never a traceback or garbage."""
import base64
import os
import subprocess
import sys

import pytest

import polyprof
from polyprof import _native, cli

pytestmark = pytest.mark.version_independent

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))

APP = """
import time
import polyprof.auto
def burn_for_store_crypto():
    t = time.time()
    while time.time() - t < 0.4:
        sum(i * i for i in range(2000))
burn_for_store_crypto()
"""


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("ENABLE_PROFILING", "PROFILE_INTERVAL_MS", "PROFILE_MAX_DURATION", "POLYPROF_OPTIONS",
                        "POLYPROF_STORE", "POLYPROF_STORE_KEY")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def encrypted_store(tmp_path_factory):
    """A store written by the production configuration with the key (base64)
    in POLYPROF_STORE_KEY, and the same key as hex in a file."""
    root = tmp_path_factory.mktemp("crypt")
    store = root / "store"
    key_file = root / "key.hex"
    key_file.write_text(KEY.hex() + "\n")
    proc = subprocess.run([sys.executable, "-c", APP], capture_output=True, text=True, timeout=120,
                          env=clean_env(ENABLE_PROFILING="true", POLYPROF_STORE=str(store),
                                        POLYPROF_OPTIONS="service=vault,interval=10ms",
                                        POLYPROF_STORE_KEY=base64.b64encode(KEY).decode()))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return store, key_file


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "polyprof", "store"] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=60, env=env or clean_env())


def test_windows_are_encrypted_and_show_decodes_them(encrypted_store, tmp_path, go_tool):
    store, key_file = encrypted_store
    names = sorted(os.listdir(str(store)))
    profiles = [n for n in names if n.startswith("vault_cpu_")]
    assert profiles and all(n.endswith("_continuous.pb.gz.enc") for n in profiles), names
    index = (store / "index.tsv").read_text()
    assert all("\t%s\taes-256-gcm\n" % n in index for n in profiles), index
    sealed = (store / profiles[-1]).read_bytes()
    assert sealed.startswith(b"PPSTENC\x01") and b"burn_for_store_crypto" not in sealed
    assert b"\x1f\x8b" not in sealed[:40]   # no gzip stream in the clear

    shown = run_cli("show", "-1", "--store", store, "--key-file", key_file, "-n", "5")
    assert shown.returncode == 0, shown.stderr
    assert "burn_for_store_crypto" in shown.stdout and "flat%" in shown.stdout
    listed = run_cli("list", "--store", store, "--key-file", key_file)
    assert listed.returncode == 0 and profiles[-1] in listed.stdout, listed.stderr

    # The core's reader, then a reader we did not write.
    reader = polyprof.Store(str(store), key_file=str(key_file))
    entry = reader.list()[-1]
    assert entry["encrypted"] is True
    out = str(tmp_path / "window.pb.gz")
    reader.read(entry).write(out)
    top = subprocess.run([go_tool, "tool", "pprof", "-top", out], capture_output=True, text=True, timeout=120)
    assert top.returncode == 0, top.stderr
    assert "burn_for_store_crypto" in top.stdout


def test_wrong_or_missing_key_and_changed_files_fail_clearly(encrypted_store, tmp_path):
    store, key_file = encrypted_store
    newest = sorted(n for n in os.listdir(str(store)) if n.endswith(".enc"))[-1]
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(OTHER)   # 32 raw bytes: a valid key, not this store's

    bad = run_cli("show", newest, "--store", store, "--key-file", wrong)
    assert bad.returncode != 0 and bad.stdout == ""
    assert "cannot decrypt %s: wrong key or the file was modified" % (store / newest) in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr

    missing = run_cli("show", "-1", "--store", store)
    assert missing.returncode != 0 and missing.stdout == ""
    assert "%s is encrypted: pass --key-file or set POLYPROF_STORE_KEY" % (store / newest) in missing.stderr

    # In-process from here (each a SystemExit, as the command exits).
    copy = tmp_path / "copy"
    copy.mkdir()
    data = (store / newest).read_bytes()
    changes = {"header": 10, "ciphertext": 40, "tag": len(data) - 3}
    for what, offset in changes.items():
        flipped = bytearray(data)
        flipped[offset] ^= 0x20
        (copy / newest).write_bytes(bytes(flipped))
        with pytest.raises(SystemExit) as e:
            cli.main(["store", "show", newest, "--store", str(copy), "--key-file", str(key_file)])
        assert "wrong key or the file was modified" in str(e.value), (what, e.value)
    (copy / newest).write_bytes(data[:len(data) // 2])
    with pytest.raises(SystemExit) as e:
        cli.main(["store", "show", newest, "--store", str(copy), "--key-file", str(key_file)])
    assert "cannot decrypt" in str(e.value) and "wrong key or the file was modified" in str(e.value)
    # `polyprof top` on an encrypted file says what it is.
    with pytest.raises(SystemExit) as e:
        cli.main(["top", str(store / newest)])
    assert "is encrypted" in str(e.value)


def test_bad_keys_are_rejected_naming_their_source(tmp_path, monkeypatch):
    monkeypatch.delenv("POLYPROF_STORE_KEY", raising=False)
    short = tmp_path / "short.key"
    short.write_text("abcd\n")
    with pytest.raises(_native.PolyprofError, match=r"store key from file '.*short\.key': expected 32 "):
        polyprof.Store(str(tmp_path / "s"), key_file=str(short))
    with pytest.raises(SystemExit) as e:
        cli.main(["store", "list", "--store", str(tmp_path / "s"), "--key-file", str(tmp_path / "none.key")])
    assert "store key from file" in str(e.value) and "none.key': No such file" in str(e.value)
    monkeypatch.setenv("POLYPROF_STORE_KEY", "hunter2")
    with pytest.raises(SystemExit) as e:
        cli.main(["store", "list", "--store", str(tmp_path / "s")])
    assert ("store key from POLYPROF_STORE_KEY: expected 32 bytes as 64 hex digits or base64" in str(e.value)
            and "hunter2" not in str(e.value))
    with pytest.raises(_native.PolyprofError, match="store key from POLYPROF_STORE_KEY"):
        polyprof.TriggeredProfiler()
    # The production configuration refuses it at start (profiling stays off).
    monkeypatch.setenv("ENABLE_PROFILING", "true")
    with pytest.raises(ValueError, match="store key from POLYPROF_STORE_KEY"):
        _native.env_config()

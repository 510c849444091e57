"""The installed `polyprof` command is the native launcher (python/launcher):
`polyprof record`/`run` exec the program's interpreter with the command line
and environment the Python command line (python -m polyprof) builds, and
everything else is the Python command line's."""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import polyprof

BIN = os.path.dirname(sys.executable)
LAUNCHER = os.path.join(BIN, "polyprof")
# The interpreter the launcher belongs to: python3.X next to its real path.
OWN_PYTHON = os.path.join(os.path.dirname(os.path.realpath(LAUNCHER)), "python3.%d" % sys.version_info[1])
CLI = [OWN_PYTHON, "-m", "polyprof"]

# Writes what execve handed this process: its argv, then its environment.
DUMP_PY = ("import sys\n"
           "with open(sys.argv[1], 'wb') as out:\n"
           "    out.write(open('/proc/self/cmdline', 'rb').read() + b'\\n--\\n' + "
           "open('/proc/self/environ', 'rb').read())\n")
DUMP_SH = "#!/bin/sh\n{ cat /proc/$$/cmdline; printf '\\n--\\n'; cat /proc/$$/environ; } >\"$DUMP_TO\"\n"


def test_the_installed_command_is_the_launcher():
    with open(LAUNCHER, "rb") as f:
        assert f.read(4) == b"\x7fELF", "%s is not the native launcher" % LAUNCHER
    assert os.access(OWN_PYTHON, os.X_OK), OWN_PYTHON


def _fake_python(directory):
    """An interpreter by name (python3) that dumps what it was started with."""
    os.makedirs(directory, exist_ok=True)
    fake = os.path.join(directory, "python3")
    with open(fake, "w") as f:
        f.write(DUMP_SH)
    os.chmod(fake, 0o755)
    return fake


def _dump(cmd, cwd, env, dump):
    if os.path.exists(dump):
        os.unlink(dump)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=120)
    assert proc.returncode == 0, (cmd, proc.stderr.decode(errors="replace"))
    with open(dump, "rb") as f:
        argv, _, environ = f.read().partition(b"\n--\n")
    return argv.split(b"\0"), sorted(environ.split(b"\0"))


def _same_exec(args, tmp_path, env=None):
    """The program's argv and environment under the launcher and under the
    Python command line: equal, and returned."""
    dump = str(tmp_path / "dump")
    env = dict(os.environ if env is None else env, DUMP_TO=dump)
    args = [a.replace("DUMP", dump) for a in args]
    by_launcher = _dump([LAUNCHER] + args, str(tmp_path), env, dump)
    by_cli = _dump(CLI + args, str(tmp_path), env, dump)
    assert by_launcher == by_cli
    return by_launcher


@pytest.mark.parametrize("form", [
    ["record", "-o", "sub/../x.pb.gz", "--", "FAKE", "-X", "dev", "-W", "error", "-B", "-c", "pass", "a b"],
    ["record", "--output=x.folded", "--interval", "5ms", "--mode=wall", "--no-native", "--duration=",
     "--format", "collapsed", "--alloc-interval=64k", "--", "FAKE", "-m", "mod", "--flag"],
    ["record", "--native", "--", "FAKE", "-", "x"],
    ["record", "-o", "//a/./b/../c//d/", "--mode=a=b", "--", "FAKE", "x"],   # os.path.abspath's spelling
    ["record", "--output=", "-o", "///x", "-o", "../../../..", "--", "FAKE", "x"],
    ["record", "--", "python3", "app.py"],                       # found on PATH
    ["run", "--", "FAKE", "app.py", "--x"],
    ["record", "--out", "x.pb.gz", "--", "FAKE", "app.py"],      # abbreviated: argparse reads it
    ["record", "-o=x.pb.gz", "--", "FAKE", "app.py"],            # the same
])
def test_record_execs_what_the_python_command_line_execs(tmp_path, form):
    fake = _fake_python(str(tmp_path / "bin"))
    env = dict(os.environ, PATH=str(tmp_path / "bin") + os.pathsep + os.environ.get("PATH", ""))
    argv, environ = _same_exec([fake if a == "FAKE" else a for a in form], tmp_path, env)
    assert argv[0] == b"/bin/sh" and argv[1] == fake.encode()
    if form[0] == "record":
        assert any(a.startswith(b"output=/") for a in argv), argv   # absolute


def test_paths_in_the_bootstrap_are_python_literals(tmp_path):
    # repr() picks double quotes for a path with a single quote, and escapes backslashes.
    fake = _fake_python(str(tmp_path / "it's a \\dir"))
    argv, _ = _same_exec(["record", "-o", "x.pb.gz", "--", fake, "app.py"], tmp_path)
    assert b'"%s"' % fake.replace("\\", "\\\\").encode() in argv[argv.index(b"-c") + 1]


@pytest.mark.parametrize("pythonpath", [None, "", "EMPTY", "EMPTY:/nonexistent"])
def test_the_same_interpreter_gets_the_same_pythonpath(tmp_path, pythonpath):
    # The program under the command line's own interpreter imports this
    # polyprof: its directory goes first on PYTHONPATH, as cli.py does.
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath.replace("EMPTY", str(empty))
    (tmp_path / "dump.py").write_text(DUMP_PY)
    for program in ([sys.executable, "-c", DUMP_PY, "DUMP"], ["dump.py", "DUMP"]):
        argv, environ = _same_exec(["record", "-o", "x.pb.gz", "--"] + program, tmp_path, env)
        paths = [e for e in environ if e.startswith(b"PYTHONPATH=")]
        site = os.path.dirname(os.path.dirname(polyprof.__file__)).encode()
        assert paths and paths[0][len(b"PYTHONPATH="):].split(b":")[0] == site, paths


def test_a_polyprof_on_pythonpath_is_the_one_named(tmp_path):
    # Another polyprof first on PYTHONPATH: the launcher leaves the answer to
    # the Python command line, which imports that one and names it.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    os.symlink(os.path.dirname(polyprof.__file__), str(shadow / "polyprof"))
    (tmp_path / "dump.py").write_text(DUMP_PY)
    env = dict(os.environ, PYTHONPATH=str(shadow))
    _, environ = _same_exec(["record", "-o", "x.pb.gz", "--", sys.executable, "dump.py", "DUMP"], tmp_path, env)
    assert b"PYTHONPATH=%s:%s" % (bytes(shadow), bytes(shadow)) in environ


def test_record_writes_a_profile_and_the_program_is_the_process(tmp_path, pprofcheck):
    out = tmp_path / "out.pb.gz"
    program = ("import os, sys, time\n"
               "def spin():\n"
               "    end = time.process_time() + 0.4\n"
               "    while time.process_time() < end: pass\n"
               "spin()\n"
               "print(os.getpid(), flush=True)\n"
               "sys.exit(7)\n")
    proc = subprocess.Popen([LAUNCHER, "record", "-o", str(out), "--interval", "5ms", "--", sys.executable, "-c",
                             program], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 7, stderr
    assert int(stdout.split()[0]) == proc.pid   # exec'd: no launcher process in between
    assert "polyprof: wrote" in stderr
    pprofcheck(str(out))
    names = {f.name for s in polyprof.load(str(out)).samples() for f in s.frames}
    assert "spin" in names


def test_signals_reach_the_program(tmp_path):
    out = tmp_path / "out.pb.gz"
    program = "import time\nprint('ready', flush=True)\nwhile True: time.sleep(0.01)\n"
    proc = subprocess.Popen([LAUNCHER, "record", "-o", str(out), "--", sys.executable, "-c", program],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)
        stderr = proc.communicate(timeout=60)[1]
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGINT and "KeyboardInterrupt" in stderr and "polyprof: wrote" in stderr
    killed = subprocess.run([LAUNCHER, "record", "-o", str(out), "--", sys.executable, "-c",
                             "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"], timeout=60)
    assert killed.returncode == -signal.SIGKILL


def test_other_commands_are_the_python_command_lines(tmp_path):
    out = tmp_path / "out.pb.gz"
    subprocess.run([LAUNCHER, "record", "-o", str(out), "--", sys.executable, "-c",
                    "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"],
                   check=True, timeout=120, capture_output=True)
    for args in (["top", str(out), "-n", "5"], ["--help"], ["record", "--help"], ["run", "-h"], ["top"],
                 ["nonsense"]):
        by_launcher = subprocess.run([LAUNCHER] + args, capture_output=True, text=True, timeout=120)
        by_cli = subprocess.run(CLI + args, capture_output=True, text=True, timeout=120)
        assert (by_launcher.returncode, by_launcher.stdout, by_launcher.stderr) == \
            (by_cli.returncode, by_cli.stdout, by_cli.stderr), args
    assert "usage: polyprof" in subprocess.run([LAUNCHER, "--help"], capture_output=True, text=True).stdout


@pytest.mark.parametrize("command", [
    ["record", "--"], ["record", "--", "node", "app.js"], ["record", "--", "python3"],
    ["record", "--", "python3", "-X", "dev"], ["record", "--", "MISSING", "app.py"], ["run", "--"],
    ["run", "--", "node"], ["record", "--", "n\u00f6de"], ["record", "--", "it's"], ["record", "--", "a\tb"],
])
def test_errors_are_the_python_command_lines(tmp_path, command):
    command = [str(tmp_path / "python3.99") if a == "MISSING" else a for a in command]
    by_launcher = subprocess.run([LAUNCHER] + command, capture_output=True, text=True, timeout=60)
    by_cli = subprocess.run(CLI + command, capture_output=True, text=True, timeout=60)
    assert by_launcher.returncode == by_cli.returncode == 1
    assert by_launcher.stderr == by_cli.stderr and by_launcher.stderr.startswith("polyprof ")
    assert "Traceback" not in by_launcher.stderr


def _launcher_copy(directory, own_python=None):
    """The launcher in a directory of its own, with a python3.X there that
    logs each start (then is the real one) when own_python is given."""
    os.makedirs(directory, exist_ok=True)
    copy = os.path.join(directory, "polyprof")
    shutil.copy(LAUNCHER, copy)
    log = os.path.join(directory, "python.log")
    if own_python:
        wrapper = os.path.join(directory, os.path.basename(OWN_PYTHON))
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\necho \"$@\" >>%s\nexec %s \"$@\"\n" % (log, own_python))
        os.chmod(wrapper, 0o755)
    return copy, log


def test_record_starts_no_interpreter_before_the_programs(tmp_path):
    launcher, log = _launcher_copy(str(tmp_path / "bin"), OWN_PYTHON)
    out = tmp_path / "out.pb.gz"
    proc = subprocess.run([launcher, "record", "-o", str(out), "--", sys.executable, "-c", "pass"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and out.exists(), proc.stderr
    assert not os.path.exists(log), "the launcher started its own interpreter for record"
    top = subprocess.run([launcher, "top", str(out)], capture_output=True, text=True, timeout=120)
    assert top.returncode == 0 and os.path.exists(log), top.stderr   # the fallback is that interpreter


def test_no_interpreter_is_one_line(tmp_path):
    launcher, _ = _launcher_copy(str(tmp_path / "alone"))
    env = dict(os.environ, PATH=str(tmp_path / "nowhere"))
    proc = subprocess.run([launcher, "top", "x.pb.gz"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("polyprof: no python3.%d " % sys.version_info[1]) and proc.stderr.count("\n") == 1
    # A command line that cannot be a Python program is answered without one.
    proc = subprocess.run([launcher, "record", "--", "node", "app.js"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 1 and "'node' is not a Python interpreter" in proc.stderr


def test_python_m_polyprof_still_works():
    proc = subprocess.run([sys.executable, "-m", "polyprof", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "usage: polyprof" in proc.stdout

"""polyprof command line: record a Python program, report on a profile.

    polyprof record -o out.pb.gz -- python app.py [args]
    polyprof record --mode alloc -o allocs.pb.gz -- python app.py
    polyprof top out.pb.gz
    polyprof diff base.pb.gz new.pb.gz -o diff.html
    polyprof convert in.pb.gz -o out.speedscope.json
    polyprof serve ./profiles
"""
import os
import sys

# The installed `polyprof` command is a native launcher (python/launcher) that
# builds `record` and `run` command lines as this module does and execs the
# program's interpreter itself; it runs this module for everything else, as
# `python -m polyprof` does. What this module's record costs before the program
# starts is this interpreter's start and these two imports: argparse, re, json
# and the core are left to the other commands (and to a record command line
# that only argparse can read), and the program's interpreter checks the
# options as it loads the core anyway. A change to the command line record or
# run build (_BOOTSTRAP, the settings, _split_python_command, _program_env) is
# a change to the launcher too: tests/python/test_launcher.py compares them.

FLAGS_WITH_VALUE = {"-W", "-X", "--check-hash-based-pycs"}


def _is_python_name(name):
    """python, python3, python3.12: what PATH names a CPython interpreter."""
    if not name.startswith("python"):
        return False
    version = name[len("python"):]
    if not version:
        return True
    major, dot, minor = version.partition(".")
    return major.isdigit() and major.isascii() and (not dot or (minor.isdigit() and minor.isascii()))


def _which(name):
    """The executable PATH runs for `name` (as the shell finds it), else None."""
    if os.sep in name:
        return name
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(directory or os.curdir, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _split_python_command(cmd):
    """[interpreter, interpreter flags, program args] for a Python command line."""
    if not cmd:
        raise SystemExit("polyprof record: give the program after --, e.g. polyprof record -- python app.py")
    first = cmd[0]
    if first.endswith(".py"):
        return sys.executable, [], cmd
    if not _is_python_name(os.path.basename(first)):
        raise SystemExit("polyprof record: %r is not a Python interpreter or script; polyprof record runs "
                         "Python programs (polyprof record -- python app.py). Node.js and the JVM have their "
                         "own entry points (see README.md)." % first)
    interp = _which(first) or first
    flags, i = [], 1
    while i < len(cmd) and cmd[i].startswith("-") and cmd[i] not in ("-m", "-c", "-"):
        flags.append(cmd[i])
        if cmd[i] in FLAGS_WITH_VALUE and i + 1 < len(cmd):
            flags.append(cmd[i + 1])
            i += 1
        i += 1
    rest = cmd[i:]
    if not rest:
        raise SystemExit("polyprof record: no script to run after %s" % " ".join(cmd))
    return interp, flags, rest


# What the program's interpreter runs in place of the CLI: the profiler's
# runner when polyprof is importable there, else one clear error. Checking in
# the program's own process spares a probe interpreter; the source stays
# Python 2 syntax so that even `polyprof record -- python2 app.py` gets the
# message rather than a SyntaxError.
_BOOTSTRAP = """import sys
try:
    from polyprof.%s import main
except ImportError as e:
    sys.exit("%s: polyprof is not installed for %%s (%%s); install it there "
             "(%%s -m pip install polyprof) or run the program with %%s" %% (%r, e, %r, %r))
main()
"""


def _exec_program(interp, flags, runner, args, env, who):
    """Replaces this process with the program's interpreter running `runner`:
    no CLI interpreter stays behind, the program gets ^C and other signals
    itself, and its exit status is the command's."""
    argv = [interp] + flags + ["-c", _BOOTSTRAP % (runner, who, interp, interp, sys.executable)] + args
    sys.stdout.flush()
    sys.stderr.flush()
    # The program inherits this interpreter's ignored SIGPIPE and SIGXFSZ; its
    # own interpreter ignores both at start all the same, so nothing changes
    # for the program (and the signal module, with enum, stays unloaded).
    try:
        os.execve(interp, argv, env)
    except OSError as e:
        raise SystemExit("%s: cannot run %s: %s" % (who, interp, e.strerror or e))


def _program_env(interp):
    env = dict(os.environ)
    if os.path.realpath(interp) == os.path.realpath(sys.executable):
        # The same interpreter must import this very polyprof, even from a
        # source checkout; another interpreter uses its own installation
        # (its runner says so when it has none), and its path is left alone.
        pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = pkg_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


# `polyprof record`'s options: name -> (attribute, takes a value, value when a flag).
RECORD_OPTIONS = {
    "-o": ("output", True, None), "--output": ("output", True, None),
    "--interval": ("interval", True, None), "--mode": ("mode", True, None),
    "--alloc-interval": ("alloc_interval", True, None), "--duration": ("duration", True, None),
    "--format": ("format", True, None),
    "--native": ("native", False, True), "--no-native": ("native", False, False),
}
RECORD_DEFAULTS = {"output": "profile.pb.gz", "interval": "10ms", "mode": "cpu", "alloc_interval": None,
                   "duration": None, "format": None, "native": True}


class _RecordArgs:
    def __init__(self, values, command):
        self.__dict__.update(values)
        self.cmd = "record"
        self.command = command
        self.func = cmd_record


def _quick_record_args(argv):
    """`record [options] -- program...` read without argparse (whose import
    costs more than the rest of this command); None for anything else (help,
    an unknown or abbreviated option, a missing value), which argparse reads
    and answers as it always has."""
    if len(argv) < 2 or argv[0] != "record" or "--" not in argv:
        return None
    values = dict(RECORD_DEFAULTS)
    i, end = 1, argv.index("--")
    while i < end:
        name, eq, attached = argv[i].partition("=")
        if name not in RECORD_OPTIONS or (eq and name == "-o"):
            return None
        attr, takes_value, flag_value = RECORD_OPTIONS[name]
        if not takes_value:
            if eq:
                return None
            values[attr] = flag_value
            i += 1
            continue
        if eq:
            value, i = attached, i + 1
        elif i + 1 < end:
            value, i = argv[i + 1], i + 2
        else:
            return None
        if value.startswith("-"):
            return None   # argparse's business: it reads such a value as an option
        values[attr] = value
    return _RecordArgs(values, argv[end:])


# The keys `polyprof record` hands the program's interpreter, as KEY=VALUE
# arguments up to a "--" (polyprof._target reads them back).
RECORD_SETTINGS = ("interval", "mode", "native", "alloc_interval", "output", "format", "duration")


def cmd_record(args):
    # Replaces this process (see _exec_program): main(["record", ...]) called
    # from Python does not return.
    # The options are checked by the program's interpreter before the program
    # starts (polyprof._target.settings_from): it loads the core anyway, and
    # this process then need not.
    values = {"interval": args.interval, "mode": args.mode, "native": "1" if args.native else "0",
              "alloc_interval": args.alloc_interval, "output": os.path.abspath(args.output),
              "format": args.format, "duration": args.duration}
    settings = ["%s=%s" % (key, values[key]) for key in RECORD_SETTINGS if values[key] is not None]
    cmd = list(args.command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    interp, flags, rest = _split_python_command(cmd)
    _exec_program(interp, flags, "_target", settings + ["--"] + rest, _program_env(interp), "polyprof record")


def cmd_run(args):
    """Runs the program with the environment's production configuration
    (ENABLE_PROFILING, PROFILE_INTERVAL_MS, ...): polyprof.auto."""
    cmd = list(args.command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise SystemExit("polyprof run: give the program after --, e.g. polyprof run -- python app.py")
    interp, flags, rest = _split_python_command(cmd)
    _exec_program(interp, flags, "_run", rest, _program_env(interp), "polyprof run")


def _open_store(args):
    from . import _native
    from ._continuous import Store
    spec = []
    if args.max_age:
        spec.append("store_max_age=%s" % args.max_age)
    if args.max_bytes:
        spec.append("store_max_bytes=%s" % args.max_bytes)
    try:
        values = _native.options_values(",".join(spec))   # the core's grammar and defaults
        age_s = int(values["store_max_age"][:-2]) / 1e9
        return Store(args.store, max_age_s=age_s, max_bytes=int(values["store_max_bytes"]), key_file=args.key_file)
    except (ValueError, _native.PolyprofError) as e:
        raise SystemExit("polyprof store: %s" % e)


def cmd_store(args):
    from . import _native
    import time
    store = _open_store(args)
    if args.action == "list":
        entries = store.list()
        if not entries:
            sys.stdout.write("no profiles in %s\n" % store.directory)
        for e in entries:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(e["start"]))
            sys.stdout.write("%s  %-12s %-5s %-11s %8d  %s\n"
                             % (stamp, e["service"], e["type"], e["trigger"], e["bytes"], e["file"]))
        return 0
    if args.action == "prune":
        removed = store.prune()
        sys.stdout.write("removed %d profile(s) from %s\n" % (removed, store.directory))
        return 0
    # show: a file name (or path), or the index in `list` (negative counts from the newest)
    if not args.which:
        raise SystemExit("polyprof store show: give a profile: a file name from `polyprof store list`, or -1 for the newest")
    entries = store.list()
    which = args.which
    path = None
    try:
        path = store.path(entries[int(which)])
    except (ValueError, IndexError):
        candidate = which if os.path.sep in which else os.path.join(store.directory, which)
        if os.path.exists(candidate):
            path = candidate
    if path is None:
        raise SystemExit("polyprof store show: no profile %r in %s" % (which, store.directory))
    if path.endswith(".enc") and not args.key_file and not os.environ.get("POLYPROF_STORE_KEY"):
        raise SystemExit("polyprof store show: %s is encrypted: pass --key-file or set POLYPROF_STORE_KEY" % path)
    try:
        prof = store.read(path)
    except (OSError, ValueError, _native.PolyprofError) as e:
        raise SystemExit("polyprof store show: %s" % e)
    sys.stdout.write("%s\n" % path)
    sys.stdout.write(prof.report(args.n))
    return 0


def cmd_flamegraph(args):
    from . import _native
    from ._profile import load
    try:
        prof = load(args.profile)
    except (OSError, ValueError) as e:
        raise SystemExit("polyprof flamegraph: %s" % e)
    output = args.output or os.path.splitext(args.profile[:-3] if args.profile.endswith(".gz") else args.profile)[0] + ".html"
    try:
        prof.write(output, "html")
    except (OSError, ValueError, _native.PolyprofError) as e:
        raise SystemExit("polyprof flamegraph: %s" % e)
    sys.stderr.write("polyprof: wrote %s\n" % output)
    return 0


def cmd_top(args):
    from ._profile import load
    try:
        prof = load(args.profile)
    except (OSError, ValueError) as e:
        raise SystemExit("polyprof top: %s" % e)
    index = -1
    if args.sample_index:
        names = [t for t, _ in prof.value_types]
        if args.sample_index not in names:
            raise SystemExit("polyprof top: no sample type %r in %s (it has: %s)"
                             % (args.sample_index, args.profile, ", ".join(names)))
        index = names.index(args.sample_index)
    sys.stdout.write(prof.report(args.n, index))
    return 0


def _load_or_exit(who, path, fmt=None):
    from ._profile import load
    try:
        return load(path, fmt)
    except (OSError, ValueError) as e:
        raise SystemExit("polyprof %s: %s" % (who, e))


def cmd_diff(args):
    from ._profile import diff as diff_profiles
    fmt = args.format or ("html" if args.output and args.output.lower().endswith((".html", ".htm")) else "text")
    base = _load_or_exit("diff", args.base, args.input_format)
    new = _load_or_exit("diff", args.new, args.input_format)
    try:
        out = diff_profiles(base, new, fmt, args.sample_index, args.n)
    except ValueError as e:
        raise SystemExit("polyprof %s" % e)   # the core's message starts with "diff:"
    if not args.output:
        sys.stdout.write(out.decode("utf-8", "replace"))
        return 0
    with open(args.output, "wb") as f:
        f.write(out)
    sys.stderr.write("polyprof: wrote %s\n" % args.output)
    return 0


def cmd_convert(args):
    from . import _native
    try:
        src = args.input_format or _native.format_for_path(args.input)
        dst = args.output_format or _native.format_for_path(args.output)
    except ValueError as e:
        raise SystemExit("polyprof convert: %s" % e)
    prof = _load_or_exit("convert", args.input, src)
    try:
        prof.write(args.output, dst)
    except (OSError, ValueError, _native.PolyprofError) as e:
        raise SystemExit("polyprof convert: %s" % e)
    sys.stderr.write("polyprof: wrote %s (%s)\n" % (args.output, dst))
    return 0


def cmd_serve(args):
    from ._serve import serve
    return serve(args.store or os.environ.get("POLYPROF_STORE") or "profiles", args.host, args.port, args.key_file)


def build_parser():
    import argparse

    p = argparse.ArgumentParser(prog="polyprof", description="Low-overhead sampling profiler.")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="run a Python program under the profiler",
                       usage="polyprof record [-o OUT] [options] -- python app.py [args]")
    r.add_argument("-o", "--output", default="profile.pb.gz",
                   help="output file; the suffix picks the format (.pb.gz pprof, .folded collapsed, .top text, "
                        ".html flame graph)")
    r.add_argument("--interval", default="10ms", help="sampling interval, e.g. 10ms (default), 1ms, 100us")
    r.add_argument("--mode", default="cpu", help="cpu (CPU time per thread, default), wall (wall clock), alloc "
                                                 "(sampled allocations and live heap), or cpu+alloc / wall+alloc "
                                                 "(the allocation profile goes to OUT with .alloc before the suffix)")
    r.add_argument("--alloc-interval", default=None,
                   help="alloc: mean bytes allocated between samples, e.g. 512k (default), 64k")
    r.add_argument("--duration", default=None, help="stop after this long, e.g. 30s (default: until exit)")
    r.add_argument("--native", dest="native", action="store_true", default=True,
                   help="include native frames (default)")
    r.add_argument("--no-native", dest="native", action="store_false", help="Python frames only, lower cost")
    r.add_argument("--format", default=None, help="pprof, collapsed or text (default: from the output suffix)")
    r.add_argument("command", nargs=argparse.REMAINDER, help="-- then the program to run")
    r.set_defaults(func=cmd_record)
    u = sub.add_parser("run", help="run a Python program with profiling configured by the environment "
                                   "(ENABLE_PROFILING, PROFILE_INTERVAL_MS, PROFILE_MAX_DURATION, POLYPROF_OPTIONS)",
                       usage="polyprof run -- python app.py [args]")
    u.add_argument("command", nargs=argparse.REMAINDER, help="-- then the program to run")
    u.set_defaults(func=cmd_run)
    st = sub.add_parser("store", help="the local profile store: list, show, prune")
    st.add_argument("action", choices=["list", "show", "prune"])
    st.add_argument("which", nargs="?", help="show: a file name from list, or an index (-1: newest)")
    st.add_argument("--store", default=None, help="directory (default: $POLYPROF_STORE or ./profiles)")
    st.add_argument("--max-age", default=None, help="prune: remove profiles older than this, e.g. 7d (default 7d)")
    st.add_argument("--max-bytes", default=None, help="prune: keep at most this much, e.g. 1g (default 1g)")
    st.add_argument("-n", type=int, default=20, help="show: how many functions (default 20)")
    st.add_argument("--key-file", default=None,
                    help="the store's key for encrypted profiles (default: $POLYPROF_STORE_KEY)")
    st.set_defaults(func=cmd_store)
    fg = sub.add_parser("flamegraph", help="an interactive flame graph (one self-contained HTML file) of a profile")
    fg.add_argument("profile")
    fg.add_argument("-o", "--output", default=None, help="output .html (default: next to the profile)")
    fg.set_defaults(func=cmd_flamegraph)
    from . import _fleet_args
    _fleet_args.add_parser(sub)
    t = sub.add_parser("top", help="report the hottest functions of a pprof profile")
    t.add_argument("profile")
    t.add_argument("-n", type=int, default=20, help="how many functions (default 20)")
    t.add_argument("--sample-index", default=None, help="value to rank by, e.g. cpu or samples")
    t.set_defaults(func=cmd_top)
    d = sub.add_parser("diff", help="compare two profiles: a differential flame graph (.html) or the functions "
                                    "whose share changed most (text)")
    d.add_argument("base")
    d.add_argument("new")
    d.add_argument("-o", "--output", default=None,
                   help="output file (.html: the differential flame graph); default: the text report on stdout")
    d.add_argument("--format", default=None, choices=["html", "text"], help="html or text (default: from -o)")
    d.add_argument("--sample-index", default=None, help="value to compare, e.g. cpu or samples (default: the "
                                                        "new profile's default)")
    d.add_argument("--from", dest="input_format", default=None,
                   help="format of both inputs (default: from their suffixes)")
    d.add_argument("-n", type=int, default=20, help="text: how many functions per table (default 20)")
    d.set_defaults(func=cmd_diff)
    c = sub.add_parser("convert", help="convert a profile between pprof, collapsed, speedscope and cpuprofile")
    c.add_argument("input")
    c.add_argument("-o", "--output", required=True, help="output file; the suffix picks the format")
    c.add_argument("--from", dest="input_format", default=None,
                   help="pprof, collapsed, speedscope or cpuprofile (default: from the input's suffix)")
    c.add_argument("--to", dest="output_format", default=None,
                   help="pprof, collapsed, speedscope, cpuprofile, html or text (default: from the output's suffix)")
    c.set_defaults(func=cmd_convert)
    sv = sub.add_parser("serve", help="browse the local store in a web page (loopback only): flame graphs, diffs")
    sv.add_argument("store", nargs="?", default=None, help="directory (default: $POLYPROF_STORE or ./profiles)")
    sv.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    sv.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    sv.add_argument("--key-file", default=None,
                    help="the store's key, to open encrypted profiles (default: $POLYPROF_STORE_KEY)")
    sv.set_defaults(func=cmd_serve)
    return p


def main(argv=None):
    args = _quick_record_args(sys.argv[1:] if argv is None else list(argv))
    if args is None:
        args = build_parser().parse_args(argv)
    if args.cmd == "top" and args.n <= 0:
        raise SystemExit("polyprof top: -n must be positive")
    return args.func(args)
